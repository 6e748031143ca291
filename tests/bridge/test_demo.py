"""`manage.py demo` from the README works, directly and through the simulated Proxy, and
nothing it starts outlives it (issue 18)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge.proctree import descendants, spawn
from tests.bridge.processes import (
    ROOT,
    child_groups,
    free_port,
    kill_tree,
    port_is_free,
    wait_all_gone,
)
from tests.waiting import wait_until


def demo_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
    env.pop("TELEPORT_MATTERMOST_CONFIG", None)
    return env


def demo_command(tmp_path: Path, port: int) -> list[str]:
    data = str(tmp_path / "data")
    return [sys.executable, "manage.py", "demo", "--port", str(port), "--data-dir", data]


def run_demo(tmp_path: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """subprocess.run(), but a demo left running by a failure (or a killed pytest) is
    stopped, its children included."""
    proc = spawn(
        args,
        cwd=ROOT,
        env=demo_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        kill_tree(proc, *child_groups(proc.pid))
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "via-proxy"])
def test_demo_delivers_the_seeded_history(tmp_path, via_proxy):
    data = tmp_path / "data"
    data.mkdir()
    # Left world-readable by an older demo: rewriting it in place would keep that mode.
    old_config = data / "teleport-mattermost.toml"
    old_config.write_text("# old\n")
    old_config.chmod(0o644)
    args = ["--exit-after-seed", "--data-dir", str(data)]
    if via_proxy:
        args.append("--via-proxy")
    out = run_demo(tmp_path, [sys.executable, "manage.py", "demo", *args], timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    # The echo polls, so a post may first be seen already edited: check the end state.
    assert "in eng/access-requests: **Status**: ✅ APPROVED" in out.stdout
    assert "in eng/access-requests: **Status**: ❌ DENIED" in out.stdout
    assert "reply in eng/access-requests: carol reviewed the request" in out.stdout
    # The follow-ups: a reminder, an escalation, a requester DM and a security alert.
    assert "reply in eng/access-requests: ⏰ Still waiting for review" in out.stdout
    assert "post  in eng/oncall: **Status**: ⏳ PENDING" in out.stdout
    assert "in direct message: ✅ Your access request" in out.stdout
    assert "post  in eng/security-alerts: 🚨 **Access request anomaly**" in out.stdout
    log = (data / "runwatcher.log").read_text()
    path = "through the Proxy" if via_proxy else "direct to Auth"
    assert path in log and "Successfully shut down" in log
    # The TOML holds the bot token and the identity a private key: owner only.
    for secret in ("teleport-mattermost.toml", "identity"):
        assert stat.S_IMODE((data / secret).stat().st_mode) == 0o600, secret
    assert "token" in (data / "teleport-mattermost.toml").read_text()


def start_demo(tmp_path: Path, port: int) -> subprocess.Popen:
    """A demo serving the UI on `port`, once it says the dashboard is up. Its process
    tree (runwatcher, workers, runserver) is kept in `proc.tree`, the process groups of
    its children in `proc.groups`."""
    out = tmp_path / "demo.out"
    proc = spawn(
        demo_command(tmp_path, port),
        cwd=ROOT,
        env=demo_env(tmp_path),
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
    )
    proc.tree, proc.groups = [], []
    try:
        wait_until(
            lambda: "Dashboard: http://127.0.0.1:" in out.read_text() or proc.poll() is not None,
            timeout=180,
            message="the demo to be up",
        )
        assert proc.poll() is None, out.read_text()
        proc.tree = descendants(proc.pid)
        proc.groups = child_groups(proc.pid)
    except BaseException:
        kill_tree(proc)
        raise
    return proc


def cmdlines(pids: list[int]) -> str:
    text = []
    for pid in pids:
        with contextlib.suppress(OSError):  # it ended meanwhile
            text.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return "\n".join(text)


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=lambda s: s.name
)
def test_stopping_the_demo_stops_everything_it_started(tmp_path, sig):
    """As `timeout`, a supervisor, CI or a closed terminal stops it; SIGKILL runs none of
    the demo's code, so there the children must notice on their own."""
    port = free_port()
    proc = start_demo(tmp_path, port)
    try:
        names = cmdlines(proc.tree)
        assert "runwatcher" in names and f"runserver 127.0.0.1:{port}" in names, names
        assert len(proc.tree) >= 6, names  # + sentinel, worker(s), monitor, pusher
        assert not port_is_free(port)
        started = time.monotonic()
        proc.send_signal(sig)
        wait_all_gone([proc.pid, *proc.tree], proc.groups, timeout=10)
        took = time.monotonic() - started
        code = proc.wait(timeout=10)
    finally:
        kill_tree(proc, *proc.groups)
    assert port_is_free(port)
    output = (tmp_path / "demo.out").read_text()
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:
        assert code == 0, output
        assert f"Got {sig.name}, stopping…" in output and "Traceback" not in output
        assert "Successfully shut down" in (tmp_path / "data" / "runwatcher.log").read_text()
    assert took < 10
    print(f"{sig.name}: every process gone {took:.2f}s after the signal")


def test_a_second_demo_on_a_taken_port_leaves_the_running_demos_database(tmp_path):
    """Found in review: manage.py deleted demo.sqlite3 before the demo saw the taken port."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "demo.sqlite3").write_bytes(b"the running demo's history")
    env = {k: v for k, v in demo_env(tmp_path).items() if k != "DATABASE_URL"}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        out = subprocess.run(
            demo_command(tmp_path, port),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 1, out.stderr
    assert (data / "demo.sqlite3").read_bytes() == b"the running demo's history"


def test_a_taken_port_is_one_line(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        out = run_demo(tmp_path, demo_command(tmp_path, port), timeout=60)
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.strip() == (
        f"CommandError: port {port} on 127.0.0.1 is already in use (another demo?); "
        "stop it or choose another port with --port"
    )
    assert not (tmp_path / "data").exists()  # it said so before starting anything
