"""Ending a process together with everything it forked (the forced-shutdown path).

The django-q2 workers are grandchildren (runwatcher -> sentinel -> workers), and a plain
os._exit() would leave them running as orphans; so a forced stop kills the whole tree.
Linux only (reads /proc), like the rest of the deployment story.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def _stat(pid: int | str) -> list[str] | None:
    """/proc/<pid>/stat fields after the command name: [state, ppid, ...]; None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None  # the process ended while we looked
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    return stat.rsplit(")", 1)[1].split()


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for a reaper (containers may have no init to reap)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def descendants(pid: int) -> list[int]:
    """PIDs below `pid`, children before grandchildren; [] where /proc is unreadable."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        for child in parents.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def kill_tree_and_exit(code: int = 1) -> None:
    """SIGKILL every descendant, then leave without cleanup (cleanup is what hung).

    Leaving is guaranteed: a child we may not signal (or any other surprise) must not keep
    a forced stop from ending the process."""
    try:
        for child in descendants(os.getpid()):
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(child, signal.SIGKILL)
    finally:
        os._exit(code)
