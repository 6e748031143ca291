"""Stopping runwatcher: every way it can end takes its whole process tree along, and a
graceful stop is quick even when the workers are busy (issues 18 and 11 §6)."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest

from bridge.service import GRACEFUL_STOP_SECONDS
from tests.bridge.processes import (
    alive,
    kill_tree,
    start_runwatcher,
    started_runwatcher,
    wait_all_gone,
)
from tests.conftest import write_config
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name
)
def test_every_stop_takes_the_workers_along(sig, tmp_path, teleport, identity_file, mattermost):
    """SIGKILL runs none of our code: without the parent-death signal the sentinel and
    workers would be re-parented and keep delivering with no watcher (no leader)."""
    proc = started_runwatcher(tmp_path, teleport, identity_file, mattermost)
    tree = proc.tree
    try:
        # sentinel, one worker, the monitor and the pusher
        assert len(tree) >= 4, tree
        started = time.monotonic()
        proc.send_signal(sig)
        wait_all_gone([proc.pid, *tree], timeout=5)
        stopped_after = time.monotonic() - started
        code = proc.wait(timeout=5)
    finally:
        kill_tree(proc)
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:  # Ctrl-C (SIGINT) stops gracefully, like SIGTERM; SIGHUP reloads (test_reload)
        assert code == 0
        log = (tmp_path / "plugin.log").read_text()
        assert f"Got {sig.name}, shutting down" in log and "Successfully shut down" in log
    assert stopped_after < GRACEFUL_STOP_SECONDS
    print(f"{sig.name}: runwatcher tree gone {stopped_after:.2f}s after the signal")


def test_an_idle_stop_does_not_wait_out_the_workers_drain(
    tmp_path, teleport, identity_file, mattermost
):
    """django-q2's pusher sees its stop only between two dequeues, and an idle dequeue
    waits up to Q_POLL for a wake-up: the stop used to sit out the whole drain window and
    then kill idle workers as if they were busy. The stop now wakes the pusher. Q_POLL=60
    makes the old behaviour certain rather than likely."""
    proc = started_runwatcher(tmp_path, teleport, identity_file, mattermost, Q_POLL="60")
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        kill_tree(proc)
    log = (tmp_path / "plugin.log").read_text()
    assert "Successfully shut down" in log
    assert "The workers were still busy" not in log


def test_graceful_stop_during_a_burst_is_quick_and_loses_nothing(
    tmp_path, teleport, identity_file, mattermost
):
    """Two workers busy with a burst, one of them held inside a POST (Mattermost stops
    answering: the client would wait its full 10 s timeout), the audit poller running:
    SIGTERM still ends everything within 5 s, with exit code 0. The deliveries cut short
    are finished by the next start, each post exactly once."""
    mattermost.set_latency(0.05)
    recipients = ["eng/access-requests", "alice@example.com"]
    proc = started_runwatcher(
        tmp_path,
        teleport,
        identity_file,
        mattermost,
        "--audit-interval",
        "0.5",
        recipients=recipients,
        Q_WORKERS="2",
    )
    ids = [teleport.create_request(user=f"user{i}", roles=["editor"]) for i in range(30)]
    try:
        wait_until(lambda: len(mattermost.root_posts()) >= 6, timeout=60, message="burst started")
        mattermost.pause_posts()
        wait_until(lambda: mattermost.inflight_posts >= 1, timeout=30, message="a held POST")
        ids += [teleport.create_request(user=f"late{i}", roles=["editor"]) for i in range(10)]
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        took = time.monotonic() - started
        leftover = alive(proc.tree)
    finally:
        mattermost.resume_posts()
        kill_tree(proc)
    log = (tmp_path / "plugin.log").read_text()
    assert code == 0, log[-3000:]
    assert took < GRACEFUL_STOP_SECONDS, f"graceful stop took {took:.1f}s"
    assert not leftover
    assert "Successfully shut down" in log
    print(f"graceful stop during a burst: exit {code} {took:.2f}s after SIGTERM")

    # The next start delivers the rest; nothing is posted twice.
    proc = started_runwatcher(
        tmp_path,
        teleport,
        identity_file,
        mattermost,
        "--audit-interval",
        "0",
        recipients=recipients,
        Q_WORKERS="2",
        NOTIFY_SENDING_LEASE_SECONDS="2",
    )
    try:

        def roots_per_request() -> Counter:
            return Counter(
                rid for p in mattermost.root_posts() for rid in ids if rid in p["message"]
            )

        wait_until(
            lambda: all(roots_per_request()[rid] >= 2 for rid in ids),
            timeout=90,
            message="every request posted in both places",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        kill_tree(proc)
    counts = roots_per_request()
    assert set(counts.values()) == {2}, {rid: n for rid, n in counts.items() if n != 2}


def test_a_standby_stops_at_once_and_takes_over_from_a_stopped_leader(
    tmp_path, teleport, identity_file, mattermost
):
    """The leader lock is not what holds a stop: a standby waiting for it stops at once,
    and a leader's stop (graceful or SIGKILL) hands the lock over."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the leader lock is a PostgreSQL advisory lock; SQLite has no standby")
    leader = started_runwatcher(tmp_path / "a", teleport, identity_file, mattermost)
    standbys = []
    try:
        for name in ("b", "c"):
            (tmp_path / name).mkdir()
            config = write_config(
                tmp_path / name / "tm.toml",
                teleport_addr=teleport.address,
                identity=identity_file,
                mattermost_url=mattermost.url,
                recipients=["eng/access-requests"],
                log_output=str(tmp_path / name / "plugin.log"),
            )
            standbys.append(start_runwatcher(config, log=tmp_path / name / "out.log"))
        for name in ("b", "c"):
            log = tmp_path / name / "plugin.log"
            wait_until(
                lambda log=log: log.exists() and "standing by" in log.read_text(),
                timeout=60,
                message=f"{name} standing by",
            )
        b, c = standbys
        started = time.monotonic()
        b.send_signal(signal.SIGTERM)
        assert b.wait(timeout=10) == 0
        assert time.monotonic() - started < GRACEFUL_STOP_SECONDS
        leader.send_signal(signal.SIGKILL)
        wait_all_gone([leader.pid, *leader.tree], timeout=5)
        c_log = tmp_path / "c" / "plugin.log"
        wait_until(lambda: "Plugin is ready" in c_log.read_text(), timeout=30, message="takeover")
        rid = teleport.create_request(user="after-takeover")
        wait_until(
            lambda: any(rid in p["message"] for p in mattermost.root_posts()),
            timeout=30,
            message="the new leader posts",
        )
        c.send_signal(signal.SIGTERM)
        assert c.wait(timeout=10) == 0
    finally:
        for proc in [leader, *standbys]:
            kill_tree(proc)


def _end_lock_session() -> None:
    """What a database restart does to the leader: its lock's session ends."""
    from django.db import connection

    from bridge.leader import LOCK_KEY

    with connection.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND objid = %s AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())",
            [LOCK_KEY],
        )
        assert cur.fetchall() == [(True,)]


def test_a_leader_whose_lock_session_ends_takes_it_again_or_stops(
    tmp_path, teleport, identity_file, mattermost
):
    """A database restart ends the session holding the advisory lock without a word. Alone,
    the leader takes the lock again and keeps watching; when another session was faster,
    it stops with exit code 1 and one line, so two watchers never stay active together."""
    from django.db import connection

    from bridge.leader import LeaderLock

    if connection.vendor != "postgresql":
        pytest.skip("the leader lock is a PostgreSQL advisory lock")
    proc = started_runwatcher(tmp_path, teleport, identity_file, mattermost)
    log = tmp_path / "plugin.log"
    rival = LeaderLock()
    try:
        _end_lock_session()
        wait_until(lambda: "took the lock again" in log.read_text(), timeout=30)
        rid = teleport.create_request(user="still-leading")
        wait_until(
            lambda: any(rid in p["message"] for p in mattermost.root_posts()),
            timeout=30,
            message="the leader still posts",
        )

        _end_lock_session()
        # The rival takes the lock before the leader's next check (every 2 s).
        assert rival.try_acquire()
        code = proc.wait(timeout=30)
        wait_all_gone(proc.tree, timeout=10)
    finally:
        rival.release()
        kill_tree(proc)
    assert code == 1
    assert "lost the leader lock" in log.read_text()
    out = (tmp_path / "out.log").read_text().strip().splitlines()
    assert out and "lost the leader lock" in out[-1], out[-3:]
