"""A process's identity that survives pid reuse: `host:pid:start time`.

Used to name the owner of a claim (notifications.claims) so that a later process can tell
whether the owner still runs. The start time (clock ticks since boot, /proc/PID/stat
field 22) differs for a new process that got the same pid, e.g. after a restart in a
container's fresh pid namespace. Linux only; elsewhere the start is "?" and nothing is
ever judged dead by it.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timedelta
from pathlib import Path

from django.utils import timezone

_identity: tuple[int, str] | None = None  # (pid it was computed in, identity)


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and ')': split after its last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19]  # field 22, starttime


def identity() -> str:
    """This process. Computed once per process; forked children compute their own."""
    global _identity
    pid = os.getpid()
    if _identity is None or _identity[0] != pid:
        _identity = (pid, f"{socket.gethostname()}:{pid}:{start_time(pid) or '?'}")
    return _identity[1]


_stamp_lock = threading.Lock()
_last_stamp: datetime | None = None


def claim_stamp() -> datetime:
    """Now, but strictly later than any stamp this process handed out before.

    A claim is identified by (owner, stamp): the owner tells processes apart, the stamp the
    claims of one process. Two threads of one process (the tests run workers as threads)
    could otherwise read the same microsecond and each take the other's claim for its own
    (notifications.claims tells its claims from others' by exactly this pair).
    """
    global _last_stamp
    with _stamp_lock:
        now = timezone.now()
        if _last_stamp is not None and now <= _last_stamp:
            now = _last_stamp + timedelta(microseconds=1)
        _last_stamp = now
        return now
