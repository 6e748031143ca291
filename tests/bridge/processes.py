"""Real processes for the tests in this folder: start them, find their whole tree, make
sure nothing outlives the test.

Every process is started with `bridge.proctree.spawn()`, so even a pytest that is killed
outright (SIGKILL, a CI timeout) takes its runwatchers and demos down with it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from django.db import connection

from bridge.proctree import descendants, group_members, running, spawn
from tests.conftest import write_config
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
STATUS_LINE = re.compile(r"Status listener on (http://\S+) ")


def database_url() -> str:
    """The test database, for a child process to use."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def start_runwatcher(config: Path, *args: str, log: Path, **extra_env: str) -> subprocess.Popen:
    """runwatcher with its status listener on a free port (named in its log, see
    status_url()) unless the test picks --status-addr: tests never fight over 8081."""
    if "--status-addr" not in args:
        args = (*args, "--status-addr", "127.0.0.1:0")
    env = {**os.environ, "DATABASE_URL": database_url(), "Q_WORKERS": "1", "DEBUG": "1"}
    env.pop("TELEPORT_MATTERMOST_CONFIG", None)
    env.pop("TELEPORT_PLUGIN_FAIL_FAST", None)
    env.update(extra_env)
    return spawn(
        [sys.executable, "manage.py", "runwatcher", "--config", str(config), *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def started_runwatcher(
    tmp_path: Path,
    teleport,
    identity_file: Path,
    mattermost,
    *args: str,
    recipients: list[str] | None = None,
    **env: str,
) -> subprocess.Popen:
    """A runwatcher that has reached "Plugin is ready" (logging to plugin.log); its
    process tree at that moment is kept in `proc.tree` for kill_tree() and the checks."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr=teleport.address,
        identity=identity_file,
        mattermost_url=mattermost.url,
        recipients=recipients or ["eng/access-requests"],
        log_output=str(tmp_path / "plugin.log"),
    )
    proc = start_runwatcher(config, *args, log=tmp_path / "out.log", **env)
    plugin_log = tmp_path / "plugin.log"
    wait_until(
        lambda: plugin_log.exists() and "Plugin is ready" in plugin_log.read_text(),
        timeout=60,
        message="watcher ready",
    )
    proc.tree = descendants(proc.pid)
    return proc


def status_url(log: Path) -> str:
    """Where a runwatcher's status listener serves, from its "Status listener on" line."""
    found = wait_until(
        lambda: log.exists() and STATUS_LINE.search(log.read_text()),
        timeout=30,
        message="the status listener's log line",
    )
    return found.group(1)


def kill_tree(proc: subprocess.Popen, *groups: int) -> None:
    """Kill whatever a test left running: the tree seen at start (a dead parent's
    children are no longer below it), the tree now, and whole process groups."""
    known = getattr(proc, "tree", [])
    now = descendants(proc.pid) if proc.poll() is None else []
    for pid in {*known, *now, *(p for g in groups for p in group_members(g))}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def child_groups(pid: int) -> list[int]:
    """Process groups of `pid`'s descendants other than ours (the demo starts each child
    in its own session); never our own group, so killing them cannot kill pytest."""
    groups = set()
    for child in descendants(pid):
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            groups.add(os.getpgid(child))
    return sorted(groups - {os.getpgrp()})


def alive(pids: Iterable[int], groups: Iterable[int] = ()) -> list[int]:
    """Which of `pids`, or of any process in `groups`, is still running."""
    found = {pid for pid in pids if running(pid)}
    for group in groups:
        found.update(group_members(group))
    return sorted(found)


def wait_all_gone(pids: Iterable[int], groups: Iterable[int] = (), timeout: float = 5.0) -> None:
    pids = list(pids)
    groups = list(groups)
    wait_until(
        lambda: not alive(pids, groups),
        timeout=timeout,
        interval=0.05,
        message=f"every process of the tree to end (still alive: {alive(pids, groups)})",
    )


def port_is_free(port: int) -> bool:
    """True if a server could listen on 127.0.0.1:port now (as runserver binds it, with
    SO_REUSEADDR: our own test connections may leave TIME_WAIT entries behind)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
