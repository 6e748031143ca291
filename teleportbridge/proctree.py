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


def descendants(pid: int) -> list[int]:
    """PIDs below `pid`, children before grandchildren; [] where /proc is unreadable."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended while we looked
        # Field 4 is the parent; the command name (field 2) may hold spaces, so split after ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
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
