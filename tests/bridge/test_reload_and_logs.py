"""Operating it like the Go plugin: SIGHUP reloads, logrotate works, syslog works, JSON
logs carry Teleport's field names (issue 12). Real runwatcher processes, real signals."""

from __future__ import annotations

import json
import logging
import re
import signal
import socket
from datetime import datetime

import pytest

from bridge.logsetup import configure_logging
from common.request_log import request_context
from teleportbridge.config import LogConfig
from tests.bridge.processes import kill_tree, started_runwatcher
from tests.bridge.test_log_escaping import root_logging  # noqa: F401 (fixture)
from tests.conftest import write_config
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _posted_in(mattermost, channel: str, rid: str) -> bool:
    channel_id = mattermost.channel_ids[channel]
    return any(rid in p["message"] for p in mattermost.root_posts(channel_id))


def _json_records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_sighup_reloads_the_toml_and_a_broken_file_keeps_the_last_good_one(
    tmp_path, teleport, identity_file, mattermost
):
    proc = started_runwatcher(tmp_path, teleport, identity_file, mattermost)
    config, log = tmp_path / "tm.toml", tmp_path / "plugin.log"
    try:
        # New recipients and JSON logs, as an operator edits the file and runs
        # `systemctl reload` (ExecReload=/bin/kill -HUP $MAINPID).
        write_config(
            config,
            teleport_addr=teleport.address,
            identity=identity_file,
            mattermost_url=mattermost.url,
            recipients=["eng/town-square"],
            log_output=str(log),
        )
        with config.open("a") as f:
            f.write('format = "json"\n')
        proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: any(
                "reloaded the configuration" in r["message"] for r in _json_records(log.read_text())
            ),
            timeout=30,
            message="the reload logged in JSON",
        )
        rid = teleport.create_request(user="after-reload", roles=["editor"])
        wait_until(lambda: _posted_in(mattermost, "town-square", rid), timeout=30)
        assert not _posted_in(mattermost, "access-requests", rid)

        # A broken file: one error line, the process stays up with what it had.
        config.write_text('[mattermost\nurl = "oops"\n')
        proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: any("reload refused" in r["message"] for r in _json_records(log.read_text())),
            timeout=30,
            message="the refusal logged",
        )
        refused = [r for r in _json_records(log.read_text()) if "reload refused" in r["message"]]
        assert len(refused) == 1 and refused[0]["level"] == "error"
        rid2 = teleport.create_request(user="after-broken-edit", roles=["editor"])
        wait_until(lambda: _posted_in(mattermost, "town-square", rid2), timeout=30)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        kill_tree(proc)
    # Every line of the file is one record: the worker and the watcher both switched.
    text = log.read_text()
    tail = text[text.index('{"timestamp"') :]
    assert all(line.startswith("{") for line in tail.splitlines()), tail[-2000:]


def test_sighup_names_the_teleport_keys_that_need_a_restart(
    tmp_path, teleport, identity_file, mattermost
):
    proc = started_runwatcher(tmp_path, teleport, identity_file, mattermost)
    config, log = tmp_path / "tm.toml", tmp_path / "plugin.log"
    try:
        config.write_text(
            config.read_text().replace(teleport.address, "elsewhere.example.com:3025")
        )
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "restart to apply it" in log.read_text(), timeout=30)
        # Still connected to the simulator: a new request is posted.
        rid = teleport.create_request(user="still-here", roles=["editor"])
        wait_until(lambda: _posted_in(mattermost, "access-requests", rid), timeout=30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        kill_tree(proc)


def test_a_rotated_log_file_is_replaced_with_and_without_sighup(
    tmp_path, teleport, identity_file, mattermost
):
    """logrotate's default (`create`): the file is renamed, a new one must appear. The
    workers follow on their own (WatchedFileHandler); SIGHUP reopens in the watcher."""
    proc = started_runwatcher(tmp_path, teleport, identity_file, mattermost)
    log = tmp_path / "plugin.log"
    try:
        log.rename(tmp_path / "plugin.log.1")
        rid = teleport.create_request(user="after-rotation", roles=["editor"])
        wait_until(lambda: _posted_in(mattermost, "access-requests", rid), timeout=30)
        wait_until(
            lambda: log.exists() and "Posted root" in log.read_text(),
            timeout=30,
            message="the worker writes to a new plugin.log",
        )
        assert rid in log.read_text()
        log.rename(tmp_path / "plugin.log.2")
        proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: log.exists() and "reopened the log" in log.read_text(),
            timeout=30,
            message="the watcher writes to a new plugin.log",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        kill_tree(proc)
    assert "Successfully shut down" in log.read_text()
    assert "Plugin is ready" in (tmp_path / "plugin.log.1").read_text()


def test_syslog_output_goes_to_the_syslog_socket(tmp_path, teleport, identity_file, mattermost):
    """`[log] output = "syslog"`: datagrams to the socket SYSLOG_ADDRESS names (default
    /dev/log), from the watcher and from the workers, not a file named syslog."""
    path = tmp_path / "log.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.setblocking(False)
    received: list[str] = []

    def drain(needle: str) -> bool:
        while True:
            try:
                received.append(server.recv(65536).decode("utf-8"))
            except BlockingIOError:
                return any(needle in m for m in received)

    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr=teleport.address,
        identity=identity_file,
        mattermost_url=mattermost.url,
        recipients=["eng/access-requests"],
        log_output="syslog",
    )
    from tests.bridge.processes import start_runwatcher

    proc = start_runwatcher(config, log=tmp_path / "out.log", SYSLOG_ADDRESS=str(path))
    try:
        wait_until(lambda: drain("Plugin is ready"), timeout=60, message="ready, via syslog")
        rid = teleport.create_request(user="via-syslog", roles=["editor"])
        wait_until(lambda: drain("Posted root"), timeout=30, message="a worker's line")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        kill_tree(proc)
        server.close()
    assert not (tmp_path / "syslog").exists()
    ready = next(m for m in received if "Plugin is ready" in m)
    # <facility daemon (3) * 8 + info (6)>, the tag with the sender's pid, one line.
    assert re.match(r"<30>teleport-mattermost\[\d+\]: INFO ", ready), ready
    assert f"[{proc.pid}]" in ready
    posted = next(m for m in received if "Posted root" in m)
    assert f"request_id={rid}" in posted and f"[{proc.pid}]" not in posted
    assert all("\n" not in m.rstrip("\x00") for m in received)


def test_json_log_uses_teleports_field_names(tmp_path, root_logging):  # noqa: F811
    log_file = tmp_path / "plugin.json"
    configure_logging(LogConfig(output=str(log_file), severity="DEBUG", format="json"))
    logger = logging.getLogger("teleportbridge.watcher")
    with request_context("req-1"):
        logger.warning("Watcher lost its stream", extra={"attempt": 3})
    logger.critical("boom")
    first, second = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert list(first)[:5] == ["timestamp", "level", "message", "caller", "component"]
    assert first["level"] == "warn" and second["level"] == "fatal"
    assert first["message"] == "Watcher lost its stream"
    assert re.fullmatch(r"bridge/test_reload_and_logs\.py:\d+", first["caller"])
    assert first["component"] == "teleportbridge.watcher"
    assert first["request_id"] == "req-1" and first["attempt"] == 3
    assert second["request_id"] == "-"
    # RFC 3339, UTC, milliseconds.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["timestamp"])
    datetime.fromisoformat(first["timestamp"])


def test_django_q2_per_task_lines_stay_out_of_the_log(tmp_path, root_logging):  # noqa: F811
    """Bug: the quieting named the logger "django_q", but django-q2 logs as "django-q", so
    every request added three lines (enqueued, processing, processed) to the log, and
    their formatting to the workers' CPU. Its warnings and errors still show."""
    from django_q.conf import logger as django_q_logger

    log_file = tmp_path / "plugin.log"
    configure_logging(LogConfig(output=str(log_file), severity="INFO", format="text"))
    django_q_logger.info("Enqueued [teleportbridge] 7")
    django_q_logger.warning("reincarnated worker Process-1 after timeout")
    text = log_file.read_text()
    assert "Enqueued" not in text
    assert "reincarnated worker" in text
