"""Request-ID aware logging: every line names the access request it is about.

A context variable carries the current request ID through the watcher, the reconcile
task and the HTTP client without threading it through every call; the filter copies it
onto each record so the formatter can print `request_id=...` on every line.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

# The one text line format (Django's LOGGING and the plugin's [log] section both use it).
TEXT_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s request_id=%(request_id)s"

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
