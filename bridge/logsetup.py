"""Logging as the plugin's [log] section says: where, how much, text or JSON.

One line per event, always with the request ID (see common.request_log).
"""

from __future__ import annotations

import json
import logging
import sys

from common.request_log import TEXT_LOG_FORMAT, RequestIdFilter
from teleportbridge.config import LogConfig


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(payload, ensure_ascii=False)


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
    handler.setFormatter(
        JsonFormatter() if cfg.format == "json" else logging.Formatter(TEXT_LOG_FORMAT)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel("DEBUG" if debug else cfg.severity)
    for noisy in ("urllib3", "django_q", "django.db.backends"):
        logging.getLogger(noisy).setLevel("WARNING")
