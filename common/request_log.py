"""Request-ID aware, one-line-per-record logging.

A context variable carries the current request ID through the watcher, the reconcile
task and the HTTP client without threading it through every call; the filter copies it
onto each record so the formatter can print `request_id=...` on every line.

User names, reasons, server error texts and request IDs come from outside. In a text log
a newline in one of them would forge a whole log line, and an escape sequence would drive
the terminal of whoever runs `tail -f`. `TextFormatter` therefore escapes every control
character of the finished line (tracebacks included), so one record is always one line.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from collections.abc import Iterator

# The one text line format (Django's LOGGING and the plugin's [log] section both use it).
TEXT_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s request_id=%(request_id)s"

# C0 and C1 controls (newline, CR, tab, NUL, ESC, CSI...), DEL, the Unicode line and
# paragraph separators, the bidi overrides and isolates (text that reads differently than
# it is stored) and lone surrogates (undecodable input; they cannot even be written out).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    r"""`text` on one line with no control characters: `\n`, `\x1b`, `\u2028`... instead."""
    return _UNSAFE.sub(_escape_char, text)


class TextFormatter(logging.Formatter):
    """TEXT_LOG_FORMAT, one line per record, every control character escaped.

    A traceback is kept (it is how a bug gets fixed) but escaped onto the same line after
    ` | `, so that no line of the log can be anything but the start of a record.
    """

    def __init__(self, fmt: str = TEXT_LOG_FORMAT, *args, **kwargs) -> None:
        super().__init__(fmt, *args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += " | " + record.exc_text
        if record.stack_info:
            line += " | " + self.formatStack(record.stack_info)
        return escape_controls(line)


current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_request_id", default="-"
)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to records that did not pass one in `extra`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


@contextlib.contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """Tag every log line emitted inside the block with request_id."""
    token = current_request_id.set(request_id or "-")
    try:
        yield
    finally:
        current_request_id.reset(token)
