"""Logging as the plugin's [log] section says: where, how much, text or JSON.

One line per event, always with the request ID (see common.request_log).

* `output`: `stderr`/`error`/`2`, `""`/`stdout`/`out`/`1`, `syslog`, or a file path. A
  file is appended to and watched: when logrotate moves it away, the next record (in the
  watcher and in every forked worker alike) goes to a new file of the same name
  (`WatchedFileHandler`); SIGHUP reopens it too (bridge/service.py). `syslog` sends to the
  local syslog socket, `/dev/log` unless SYSLOG_ADDRESS names another socket path or a
  `host:port` (UDP).
* `format = "json"`: one object per line with the field names of Teleport's JSON logs
  (`timestamp` RFC 3339, lowercase `level`, `message`, `caller`, `component`), then the
  record's attributes (`request_id`, anything passed in `extra`).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import re
import socket
import sys
import traceback
from datetime import UTC, datetime

from common.request_log import TEXT_LOG_FORMAT, RequestIdFilter, TextFormatter
from teleportbridge.config import LogConfig

# Valid inside a JSON string but unsafe raw: C1 controls (a terminal reading \x9b starts an
# escape sequence), DEL, the line/paragraph separators (a line break to many readers,
# Python's splitlines included), bidi overrides and lone surrogates (not encodable: the
# record would be lost). json.dumps already escapes C0 controls.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

# Go's slog level names, lowercased as Teleport writes them.
_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "error"}
_CRITICAL = "fatal"

# Everything a LogRecord carries by itself; the rest came in through `extra` (or a filter).
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}

SYSLOG_IDENT = "teleport-mattermost"


def _caller(record: logging.LogRecord) -> str:
    """`package/file.py:line`, as Go's `mattermost/main.go:234`."""
    parent = os.path.basename(os.path.dirname(record.pathname))
    return f"{parent}/{record.filename}:{record.lineno}" if parent else record.filename


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers; values stay as they were, escaped."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        payload: dict[str, object] = {
            "timestamp": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": _LEVELS.get(record.levelname, _CRITICAL),
            "message": record.getMessage(),
            "caller": _caller(record),
            "component": record.name,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in payload:
                payload[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        payload.setdefault("request_id", "-")
        if record.exc_info:
            # The exception itself (type and whole message), not a line of its traceback.
            exc_type, exc, _ = record.exc_info
            payload["error"] = "".join(traceback.format_exception_only(exc_type, exc)).strip()
        text = json.dumps(payload, ensure_ascii=False)
        # Only possible inside strings, where \uXXXX means the same character.
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class SyslogHandler(logging.handlers.SysLogHandler):
    """`teleport-mattermost[pid]: ...` with the pid of the process that logs (workers are
    forked after the handler exists)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{SYSLOG_IDENT}[{os.getpid()}]: {super().format(record)}"


def syslog_address(value: str) -> str | tuple[str, int]:
    """SYSLOG_ADDRESS: a Unix socket path, or host:port for UDP."""
    host, sep, port = value.rpartition(":")
    if sep and not value.startswith("/") and port.isdigit():
        return (host.strip("[]") or "localhost", int(port))
    return value


def _handler_for(output: str) -> logging.Handler:
    value = output.strip()
    if value.lower() in {"stderr", "error", "2"}:
        return logging.StreamHandler(sys.stderr)
    if value.lower() in {"", "stdout", "out", "1"}:
        return logging.StreamHandler(sys.stdout)
    if value.lower() == "syslog":
        from django.conf import settings

        address = syslog_address(settings.SYSLOG_ADDRESS)
        socktype = socket.SOCK_DGRAM if isinstance(address, tuple) else None
        return SyslogHandler(
            address=address,
            facility=logging.handlers.SysLogHandler.LOG_DAEMON,
            socktype=socktype,
        )
    # Append (the Go plugin truncates at start, which loses the previous run's story), and
    # follow rotation (logrotate's default create mode moves the file away).
    return logging.handlers.WatchedFileHandler(value, mode="a", encoding="utf-8")


def configure_logging(cfg: LogConfig, *, debug: bool = False) -> None:
    """Replace the root handlers with the one the TOML asks for (and close the old ones:
    on SIGHUP this is what reopens the log file). A destination that cannot be opened is
    a ConfigError and the old handlers stay."""
    try:
        handler = _handler_for(cfg.output)
    except OSError as exc:
        from teleportbridge.config import ConfigError

        raise ConfigError(f"log.output {cfg.output}: {exc.strerror or exc}") from None
    handler.addFilter(RequestIdFilter())
    if cfg.format == "json":
        handler.setFormatter(JsonFormatter())
    elif isinstance(handler, SyslogHandler):
        # syslog stamps the time itself.
        handler.setFormatter(TextFormatter(TEXT_LOG_FORMAT.replace("%(asctime)s ", "")))
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        if old is not handler:
            old.close()
    root.addHandler(handler)
    root.setLevel("DEBUG" if debug else cfg.severity)
    # django-q2 logs as "django-q": at INFO, three lines per task (enqueued, processing,
    # processed) that say nothing our own lines do not.
    for noisy in ("urllib3", "django-q", "django.db.backends"):
        logging.getLogger(noisy).setLevel("WARNING")
