"""`manage.py runwatcher` as a user runs it: a real process, real workers, real signals."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from bridge.proctree import running
from tests.bridge.processes import kill_tree, start_runwatcher, started_runwatcher
from tests.conftest import write_config
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def run_to_exit(config: Path, tmp_path: Path, **extra_env: str) -> tuple[int, str]:
    log = tmp_path / "out.log"
    proc = start_runwatcher(config, log=log, **extra_env)
    code = proc.wait(timeout=60)
    return code, log.read_text()


def test_end_to_end_and_sigterm(tmp_path, teleport, identity_file, mattermost):
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr=teleport.address,
        identity=identity_file,
        mattermost_url=mattermost.url,
        recipients=["eng/access-requests", "alice@example.com"],
        log_output=str(tmp_path / "plugin.log"),
    )
    earlier = teleport.create_request(user="early", roles=["editor"])  # before we start
    proc = start_runwatcher(config, "--audit-interval", "1", log=tmp_path / "out.log")
    try:
        wait_until(lambda: len(mattermost.root_posts()) == 2, timeout=60, message="resync posts")
        rid = teleport.create_request(user="bob", roles=["db"], reason="incident 42")
        wait_until(lambda: len(mattermost.root_posts()) == 4, timeout=30, message="live posts")
        teleport.review(rid, "carol", "APPROVED", reason="ok")
        wait_until(
            lambda: sum("✅ APPROVED" in p["message"] for p in mattermost.root_posts()) == 2,
            timeout=30,
            message="edits after approval",
        )
        wait_until(
            lambda: all(
                len(mattermost.replies(p["id"])) == 1
                for p in mattermost.root_posts()
                if rid in p["message"]
            ),
            timeout=30,
            message="one review reply per channel",
        )
        assert earlier in "".join(p["message"] for p in mattermost.root_posts())
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 15
    finally:
        kill_tree(proc)
    log = (tmp_path / "plugin.log").read_text()
    assert "Plugin is ready" in log and "Successfully shut down" in log
    assert f"request_id={rid}" in log
    assert "sim-bot-token" not in log + (tmp_path / "out.log").read_text()


def test_bad_config_is_one_line(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[mattermost]\nurl = "http://x"\n')
    code, out = run_to_exit(config, tmp_path)
    assert code == 1
    assert out.strip() == "CommandError: missing required value mattermost.token"


def test_unreachable_teleport(tmp_path, identity_file, mattermost):
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr="127.0.0.1:1",
        identity=identity_file,
        mattermost_url=mattermost.url,
    )
    code, out = run_to_exit(config, tmp_path)
    assert code == 1
    last = out.strip().splitlines()[-1]
    assert last.startswith("CommandError:") and "127.0.0.1:1" in last
    assert "Traceback" not in out


def test_wrong_mattermost_token(tmp_path, teleport, identity_file, mattermost):
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr=teleport.address,
        identity=identity_file,
        mattermost_url=mattermost.url,
        token="not-the-token",
    )
    code, out = run_to_exit(config, tmp_path)
    assert code == 1
    last = out.strip().splitlines()[-1]
    assert last.startswith("CommandError: API health check failed:") and "401" in last
    assert "not-the-token" not in out


def test_expired_identity(tmp_path, teleport, pki, mattermost):
    import datetime as dt

    from simulators.teleport.certs import write_identity_file

    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    ident = write_identity_file(
        tmp_path / "old",
        pki.issue_client(not_before=past - dt.timedelta(hours=2), not_after=past),
        pki.cluster_name,
    )
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr=teleport.address,
        identity=ident,
        mattermost_url=mattermost.url,
    )
    code, out = run_to_exit(config, tmp_path)
    assert code == 1
    assert "No valid credentials found, this likely means credentials are expired" in out


def test_permission_denied_lists_missing_verbs(tmp_path, teleport, identity_file, mattermost):
    teleport.deny("list", "access_request")
    teleport.deny("read", "access_plugin_data")
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr=teleport.address,
        identity=identity_file,
        mattermost_url=mattermost.url,
    )
    code, out = run_to_exit(config, tmp_path)
    assert code == 1
    last = out.strip().splitlines()[-1]
    assert "access_request: [list]" in last and "access_plugin_data: [read]" in last


def test_unparsable_fail_fast_stops_at_start(tmp_path, teleport, identity_file, mattermost):
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr=teleport.address,
        identity=identity_file,
        mattermost_url=mattermost.url,
    )
    code, out = run_to_exit(config, tmp_path, TELEPORT_PLUGIN_FAIL_FAST="yes")
    assert code == 1
    assert out.strip() == (
        "CommandError: failed to parse content 'yes' of the TELEPORT_PLUGIN_FAIL_FAST "
        "environment variable"
    )


def test_fail_fast_exits_when_the_stream_drops(tmp_path, teleport, identity_file, mattermost):
    proc = started_runwatcher(
        tmp_path, teleport, identity_file, mattermost, "--no-workers", TELEPORT_PLUGIN_FAIL_FAST="1"
    )
    try:
        assert teleport.drop_streams() == 1
        # A supervisor restarts us; we must not linger reconnecting.
        assert proc.wait(timeout=30) == 1
    finally:
        kill_tree(proc)
    last = (tmp_path / "out.log").read_text().strip().splitlines()[-1]
    assert last.startswith("CommandError: watcher lost its connection:")
    assert "TELEPORT_PLUGIN_FAIL_FAST" in last


def test_sigusr1_is_ignored_like_the_plugin(tmp_path, teleport, identity_file, mattermost):
    proc = started_runwatcher(tmp_path, teleport, identity_file, mattermost)
    try:
        proc.send_signal(signal.SIGUSR1)
        rid = teleport.create_request(user="still-here")
        wait_until(lambda: len(mattermost.root_posts()) == 1, timeout=30, message="still posting")
        assert proc.poll() is None and rid in mattermost.root_posts()[0]["message"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        kill_tree(proc)


def test_second_sigint_forces_exit_with_the_workers(tmp_path, teleport, identity_file, mattermost):
    proc = started_runwatcher(tmp_path, teleport, identity_file, mattermost)
    try:
        workers = proc.tree
        assert workers, "runwatcher forks its django-q2 workers"
        # Hold a worker inside a POST, so the graceful stop cannot finish first.
        mattermost.pause_posts()
        teleport.create_request(user="slow")
        wait_until(lambda: mattermost.inflight_posts == 1, timeout=30, message="a held POST")
        proc.send_signal(signal.SIGINT)
        log = tmp_path / "plugin.log"
        wait_until(lambda: "Got SIGINT, shutting down" in log.read_text(), timeout=10)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 1
        assert "Got SIGINT again, forcing shutdown" in log.read_text()
        wait_until(
            lambda: not any(running(pid) for pid in workers),
            timeout=10,
            message="no orphaned workers",
        )
    finally:
        mattermost.resume_posts()
        kill_tree(proc)


def test_a_hung_graceful_stop_is_forced(tmp_path, teleport, identity_file, mattermost):
    proc = started_runwatcher(
        tmp_path, teleport, identity_file, mattermost, FORCED_STOP_SECONDS="2"
    )
    try:
        # A worker stuck in a POST holds the graceful stop for the whole drain window
        # (service.WORKER_DRAIN_SECONDS, 3 s), longer than the 2 s allowed here.
        mattermost.pause_posts()
        teleport.create_request(user="slow")
        wait_until(lambda: mattermost.inflight_posts == 1, timeout=30, message="a held POST")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)  # a second SIGTERM does not force; the timer does
        assert proc.wait(timeout=30) == 1
        assert time.monotonic() - started >= 2
        log = (tmp_path / "plugin.log").read_text()
        assert "Graceful shutdown took over 2s, forcing it" in log
        wait_until(lambda: not any(running(pid) for pid in proc.tree), timeout=10)
    finally:
        mattermost.resume_posts()
        kill_tree(proc)


def test_q_sync_runs_the_tasks_in_place(tmp_path, teleport, identity_file, mattermost):
    """Q_SYNC=true starts no workers (forking them shared our PostgreSQL socket with the
    pusher: "generator raised StopIteration") and still delivers, on both databases."""
    proc = started_runwatcher(tmp_path, teleport, identity_file, mattermost, Q_SYNC="true")
    try:
        teleport.create_request(user="bob", roles=["db"])
        wait_until(lambda: len(mattermost.root_posts()) == 1, timeout=60, message="the post")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        kill_tree(proc)
    out = (tmp_path / "plugin.log").read_text() + (tmp_path / "out.log").read_text()
    assert "no workers started" in out
    assert "StopIteration" not in out and "Traceback" not in out


def test_workers_dial_teleport_before_their_first_task(
    tmp_path, teleport, identity_file, mattermost
):
    """Pre-warm at fork: each worker connects at start (the start-up probe is the one
    other "Connected" line; the watcher logs its own), not on its first request's
    latency."""
    proc = started_runwatcher(tmp_path, teleport, identity_file, mattermost, Q_WORKERS="2")
    log = tmp_path / "plugin.log"
    try:
        wait_until(
            lambda: log.read_text().count("Connected to Teleport cluster") >= 3,
            timeout=60,
            message="the probe and both workers connected",
        )
    finally:
        kill_tree(proc)
    assert not mattermost.posts()  # no request was needed for it
