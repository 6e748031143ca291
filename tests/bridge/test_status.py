"""runwatcher's status listener as a supervisor and Prometheus meet it: a real process, the
simulators, real HTTP to /healthz, /readyz and /metrics."""

from __future__ import annotations

import signal
import socket
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.bridge.processes import kill_tree, start_runwatcher, started_runwatcher, status_url
from tests.conftest import write_config
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
P = "teleport_mattermost_"


def get(url: str) -> requests.Response:
    return requests.get(url, timeout=10)


def metrics(base: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, keyed by (name, labels)."""
    resp = get(base + "/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(base: str, name: str, **labels: str) -> float | None:
    return metrics(base).get((P + name, frozenset(labels.items())))


def test_probes_and_metrics_follow_requests_and_the_stream(
    tmp_path, teleport, identity_file, mattermost
):
    proc = started_runwatcher(tmp_path, teleport, identity_file, mattermost)
    try:
        base = status_url(tmp_path / "plugin.log")
        health = get(base + "/healthz")
        assert (health.status_code, health.text) == (200, "ok\n")
        assert get(base + "/readyz").status_code == 200
        assert get(base + "/nothing").status_code == 404
        assert value(base, "posts", status="sent") == 0
        assert value(base, "watcher_ready") == 1

        # Requests flow: counted by state, their posts by outcome, the calls by class.
        first = teleport.create_request(user="alice", roles=["db"])
        teleport.create_request(user="bob", roles=["db"])
        wait_until(
            lambda: value(base, "posts", status="sent") == 2,
            timeout=30,
            message="two sent posts in /metrics",
        )
        assert value(base, "access_requests", state="PENDING") == 2
        assert value(base, "delivery_attempts_total", status_class="2xx") >= 2
        assert value(base, "rate_limited_total") == 0
        assert value(base, "last_event_age_seconds") is not None
        teleport.approve(first)
        wait_until(
            lambda: value(base, "access_requests", state="APPROVED") == 1,
            timeout=30,
            message="the approval in /metrics",
        )

        # A 429 is counted, and so is the retry it causes.
        mattermost.rate_limit_next(1, retry_after=0.2, path_prefix="/api/v4/posts")
        teleport.create_request(user="carol")
        wait_until(
            lambda: value(base, "posts", status="sent") == 3,
            timeout=30,
            message="the rate-limited post sent after its retry",
        )
        assert value(base, "rate_limited_total") == 1
        assert value(base, "delivery_retries_total") == 1
        assert value(base, "delivery_attempts_total", status_class="4xx") >= 1

        # The stream goes down: not ready (one line why), still alive.
        teleport.stop()
        down = wait_until(
            lambda: (r := get(base + "/readyz")).status_code == 503 and r.text,
            timeout=30,
            message="/readyz 503 while Teleport is down",
        )
        assert down == (
            "not ready: the Teleport watch stream is down (no INIT since the last reconnect)\n"
        )
        assert get(base + "/healthz").status_code == 200
        assert value(base, "watcher_ready") == 0

        teleport.start(port=teleport.port)
        wait_until(
            lambda: get(base + "/readyz").status_code == 200,
            timeout=60,
            message="/readyz 200 once the stream is back",
        )
        wait_until(
            lambda: value(base, "watcher_reconnects_total") == 1,
            timeout=10,
            message="the reconnect counted",
        )

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        with pytest.raises(requests.ConnectionError):
            get(base + "/healthz")  # the port went with the process (no worker kept it)
    finally:
        kill_tree(proc)


def run_to_exit(tmp_path, teleport, identity_file, mattermost, *args: str) -> tuple[int, str]:
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr=teleport.address,
        identity=identity_file,
        mattermost_url=mattermost.url,
        log_output=str(tmp_path / "plugin.log"),
    )
    proc = start_runwatcher(config, *args, log=tmp_path / "out.log")
    try:
        code = proc.wait(timeout=60)
    finally:
        kill_tree(proc)
    return code, (tmp_path / "out.log").read_text()


def test_a_taken_status_port_is_one_line_before_any_worker(
    tmp_path, teleport, identity_file, mattermost
):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        code, out = run_to_exit(
            tmp_path, teleport, identity_file, mattermost, "--status-addr", addr
        )
    assert code == 1
    assert out.strip().splitlines() == [
        f"CommandError: --status-addr {addr}: cannot listen: Address already in use",
        'hint: pick a free HOST:PORT, or --status-addr "" to turn it off',
    ]
    assert "worker" not in (tmp_path / "plugin.log").read_text()


def test_a_malformed_status_addr_is_one_line(tmp_path, teleport, identity_file, mattermost):
    code, out = run_to_exit(
        tmp_path, teleport, identity_file, mattermost, "--status-addr", "localhost"
    )
    assert code == 1
    assert out.strip().splitlines()[0] == (
        "CommandError: --status-addr: expected HOST:PORT (e.g. 127.0.0.1:8081), got 'localhost'"
    )


def test_status_addr_empty_turns_the_listener_off(tmp_path, teleport, identity_file, mattermost):
    proc = started_runwatcher(
        tmp_path, teleport, identity_file, mattermost, "--no-workers", "--status-addr", ""
    )
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        kill_tree(proc)
    assert "Status listener" not in (tmp_path / "plugin.log").read_text()


def test_a_role_without_event_read_warns_once_and_polls_rarely_until_granted(
    tmp_path, teleport, identity_file, mattermost
):
    from teleportbridge.models import AuditCursor, AuditEvent

    teleport.deny("list", "event")  # the preset access-plugin role
    proc = started_runwatcher(
        tmp_path,
        teleport,
        identity_file,
        mattermost,
        "--no-workers",
        "--audit-interval",
        "0.1",
        "--audit-denied-interval",
        "1",
    )
    try:
        base = status_url(tmp_path / "plugin.log")
        started = time.monotonic()
        assert value(base, "audit_permission_missing") == 1
        assert AuditCursor.objects.get(pk=1).permission_missing
        # The start-up probe, then one call a second, not one per 0.1 s round.
        wait_until(lambda: len(teleport.calls_to("GetEvents")) >= 4, timeout=30)
        elapsed = time.monotonic() - started
        assert len(teleport.calls_to("GetEvents")) <= elapsed / 1 + 3
        log = (tmp_path / "plugin.log").read_text()
        warnings = [line for line in log.splitlines() if " WARNING " in line]
        assert len(warnings) == 1 and "`event: [list, read]`" in warnings[0], warnings

        teleport.allow("list", "event")
        teleport.create_request(user="after-the-grant")
        wait_until(
            lambda: AuditEvent.objects.filter(event_type="access_request.create").exists(),
            timeout=30,
            message="audit events once granted",
        )
        wait_until(lambda: value(base, "audit_permission_missing") == 0, timeout=10)
        assert "The audit log is readable now" in (tmp_path / "plugin.log").read_text()
    finally:
        kill_tree(proc)
