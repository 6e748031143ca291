"""Logging as the plugin's [log] section says: where, how much, text or JSON.

One line per event, always with the request ID (see common.request_log).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback

from common.request_log import RequestIdFilter, TextFormatter
from teleportbridge.config import LogConfig

# Valid inside a JSON string but unsafe raw: C1 controls (a terminal reading \x9b starts an
# escape sequence), DEL, the line/paragraph separators (a line break to many readers,
# Python's splitlines included), bidi overrides and lone surrogates (not encodable: the
# record would be lost). json.dumps already escapes C0 controls.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers; values stay as they were, escaped."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            # The exception itself (type and whole message), not a line of its traceback.
            exc_type, exc, _ = record.exc_info
            payload["error"] = "".join(traceback.format_exception_only(exc_type, exc)).strip()
        text = json.dumps(payload, ensure_ascii=False)
        # Only possible inside strings, where \uXXXX means the same character.
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _stream_for(output: str):
    value = output.strip()
    if value.lower() in {"stderr", "error", "2"}:
        return logging.StreamHandler(sys.stderr)
    if value.lower() in {"", "stdout", "out", "1"}:
        return logging.StreamHandler(sys.stdout)
    # Append (the Go plugin truncates at start, which loses the previous run's story).
    return logging.FileHandler(value, mode="a", encoding="utf-8")


def configure_logging(cfg: LogConfig, *, debug: bool = False) -> None:
    """Replace the root handlers with the one the TOML asks for."""
    try:
        handler = _stream_for(cfg.output)
    except OSError as exc:
        from teleportbridge.config import ConfigError

        raise ConfigError(f"log.output {cfg.output}: {exc.strerror or exc}") from None
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if cfg.format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel("DEBUG" if debug else cfg.severity)
    for noisy in ("urllib3", "django_q", "django.db.backends"):
        logging.getLogger(noisy).setLevel("WARNING")
