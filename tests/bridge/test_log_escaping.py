"""Logs cannot be forged: values from outside never break a text log line, JSON stays JSON."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from bridge.logsetup import configure_logging
from common.request_log import escape_controls, request_context
from teleportbridge.config import LogConfig
from tests.bridge.processes import kill_tree
from tests.bridge.processes import start_runwatcher as start
from tests.conftest import write_config
from tests.waiting import wait_until

# What a forger would put in a user name, a reason or a server's error text.
FORGED_LINE = "2026-01-01 00:00:00,000 INFO    bridge.service: Successfully shut down request_id=-"
HOSTILE = (
    f"mallory\n{FORGED_LINE}\r\n"
    "\x1b[2J\x1b]0;pwned\x07"  # clear the screen, set the terminal title
    "\x00nul\x7fdel\x9bcsi\ttab"
    "\u2028sep\u2029para\u202eevil\u2066iso"
    "\ud800lone-surrogate"
)
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ +[\w.-]+: ")
UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@pytest.fixture
def root_logging():
    """Restore the root logger after configure_logging() replaced its handlers."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _log_everything(logger: logging.Logger) -> None:
    with request_context(HOSTILE):
        logger.info("Access request stored from %s", HOSTILE)
        logger.warning(HOSTILE)
        try:
            raise ValueError(HOSTILE)
        except ValueError:
            logger.exception("Failed with %r", HOSTILE)


def _physical_lines(path: Path) -> list[str]:
    # Split only on \n: that is what `tail`, `grep` and log shippers do.
    return path.read_bytes().decode("utf-8").split("\n")[:-1]


def test_text_log_is_one_line_per_record(tmp_path, root_logging):
    log_file = tmp_path / "plugin.log"
    configure_logging(LogConfig(output=str(log_file), severity="INFO"))
    _log_everything(logging.getLogger("teleportbridge.sync"))
    lines = _physical_lines(log_file)
    assert len(lines) == 3
    for line in lines:
        assert RECORD_START.match(line), line
        assert not UNSAFE.search(line), line
        assert "\\nTraceback" not in line  # the traceback follows " | ", escaped
    assert lines[0].endswith(f"request_id={escape_controls(HOSTILE)}")
    assert "mallory\\n2026-01-01 00:00:00,000 INFO" in lines[0]
    assert "\\x1b[2J\\x1b]0;pwned\\x07\\x00nul\\x7fdel\\x9bcsi\\ttab" in lines[1]
    assert "\\u2028sep\\u2029para\\u202eevil\\u2066iso\\ud800lone" in lines[1]
    assert " | Traceback (most recent call last):\\n" in lines[2]
    assert lines[2].endswith(f"ValueError: {escape_controls(HOSTILE)}")


def test_json_log_keeps_values_and_structure(tmp_path, root_logging):
    log_file = tmp_path / "plugin.json"
    configure_logging(LogConfig(output=str(log_file), severity="INFO", format="json"))
    _log_everything(logging.getLogger("teleportbridge.sync"))
    lines = _physical_lines(log_file)
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    for line in lines:
        assert not UNSAFE.search(line), line
    # The values are exactly what came in, not a lossy rendering of it.
    assert records[0]["message"] == f"Access request stored from {HOSTILE}"
    assert records[1]["message"] == HOSTILE
    assert records[1]["request_id"] == HOSTILE
    assert records[2]["error"].startswith("ValueError: mallory")


def test_django_logging_settings_escape_too(settings, tmp_path):
    """Processes that never read the TOML (qcluster, the web UI) log through settings.LOGGING."""
    from logging.config import dictConfig

    log_file = tmp_path / "django.log"
    console = settings.LOGGING["handlers"]["console"]
    dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": settings.LOGGING["filters"],
            "formatters": settings.LOGGING["formatters"],
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "filename": str(log_file),
                    "formatter": console["formatter"],
                    "filters": console["filters"],
                }
            },
            "loggers": {"tests.escaping": {"handlers": ["file"], "propagate": False}},
        }
    )
    logger = logging.getLogger("tests.escaping")
    try:
        _log_everything(logger)
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    lines = _physical_lines(log_file)
    assert len(lines) == 3
    for line in lines:
        assert RECORD_START.match(line), line
        assert not UNSAFE.search(line), line


@pytest.mark.django_db(transaction=True)
def test_runwatcher_log_cannot_be_forged_by_a_user_name(
    tmp_path, teleport, identity_file, mattermost
):
    user = HOSTILE.replace("\x00", "").replace("\ud800", "")  # storable on PostgreSQL
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr=teleport.address,
        identity=identity_file,
        mattermost_url=mattermost.url,
        recipients=["eng/access-requests"],
        log_output=str(tmp_path / "plugin.log"),
    )
    proc = start(config, "--no-workers", "--audit-interval", "0", log=tmp_path / "out.log")
    log = tmp_path / "plugin.log"
    try:
        wait_until(lambda: log.exists() and "Plugin is ready" in log.read_text(), timeout=60)
        teleport.create_request(user=user, roles=["editor"])
        wait_until(lambda: "mallory" in log.read_text(), timeout=30, message="stored request")
    finally:
        kill_tree(proc)
    lines = _physical_lines(log)
    assert lines
    for line in lines:
        assert RECORD_START.match(line), line
        assert not UNSAFE.search(line), line
    assert sum(line.startswith(FORGED_LINE[:23]) for line in lines) == 0
