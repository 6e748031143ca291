"""Process trees that end together: nothing the project starts outlives its parent.

Three tools, for three ways a parent can end:
- it stops on purpose but cleanup hangs: `kill_tree_and_exit()` kills every descendant
  (the django-q2 workers are grandchildren: runwatcher -> sentinel -> workers);
- it is killed outright (SIGKILL, OOM killer), so none of its code runs: the kernel must
  tell the children, which is what Linux's parent-death signal (`prctl(PR_SET_PDEATHSIG)`)
  does. `spawn()` arms it for a command we start, `forks_die_with_parent()` for every
  process a runwatcher forks (the workers);
- `signal_group()` reaches a child's whole process group, including grandchildren that
  were re-parented after their own parent died.

Linux only (reads /proc, calls prctl), like the rest of the deployment story.

Run as a script (`python bridge/proctree.py PARENT_PID CMD...`) it is the tiny launcher
that `spawn()` uses: arm the parent-death signal, then exec CMD (the setting survives exec).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _stat(pid: int | str) -> list[str] | None:
    """/proc/<pid>/stat fields after the command name: [state, ppid, pgrp, ...]; None if gone."""
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


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group `pgid`, wherever they were re-parented."""
    members = []
    for entry in Path("/proc").iterdir():
        fields = _stat(entry.name) if entry.name.isdigit() else None
        if fields is not None and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def signal_group(pgid: int, sig: int) -> None:
    """Signal a whole process group; a group that is already empty is not an error."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def kill_tree_and_exit(code: int = 1) -> None:
    """SIGKILL every descendant, then leave without cleanup (cleanup is what hung).

    Leaving is guaranteed: a child we may not signal (or any other surprise) must not keep
    a forced stop from ending the process."""
    try:
        kill_all(descendants(os.getpid()))
    finally:
        os._exit(code)


def kill_all(pids: Sequence[int]) -> None:
    """SIGKILL each of `pids`; one that already ended is skipped."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(pid, signal.SIGKILL)


# -- the parent-death signal ------------------------------------------------------------------
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent(parent_pid: int, sig: int, libc: ctypes.CDLL | None = None) -> None:
    """Have the kernel send `sig` to this process when its parent ends.

    Race: the parent may already have ended between our fork and this call; we were then
    re-parented (to init or a subreaper) and the kernel will never send the signal. So the
    parent is checked *after* arming, and if it is no longer `parent_pid` we signal
    ourselves: either way the signal arrives exactly when it should."""
    libc = libc or _libc()
    if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


_fork_guard = threading.Lock()
_forks_armed = False
_forking_pid = 0  # set in the parent just before each fork; the child reads its copy


def forks_die_with_parent() -> None:
    """From now on every process forked from this one (and, recursively, their forks)
    gets SIGKILL as soon as its parent ends.

    runwatcher calls this before django-q2 forks its sentinel, so killing runwatcher
    (SIGKILL, OOM) takes the sentinel down, which takes the workers, pusher and monitor
    down: no worker keeps draining the queue with no leader watching Teleport. SIGKILL
    because there is nothing for them to clean up (an unfinished delivery is picked up
    by the next runwatcher, see notifications.delivery) and it cannot be caught. The
    registration is inherited by forked children, which is what makes it recursive.

    Caveat of the kernel feature: "parent" is the *thread* that forked. django-q2 forks
    from the main thread of runwatcher and of its sentinel, which live as long as they do.
    Forks done by exec'ing helpers (subprocess) do not run these hooks: use spawn()."""
    global _forks_armed
    with _fork_guard:
        if _forks_armed:
            return
        libc = _libc()  # loaded here, not in the child right after fork

        def remember_parent() -> None:
            global _forking_pid
            _forking_pid = os.getpid()

        def arm_child() -> None:
            die_with_parent(_forking_pid, signal.SIGKILL, libc)

        os.register_at_fork(before=remember_parent, after_in_child=arm_child)
        _forks_armed = True


def spawn(args: Sequence[str], **popen_kwargs) -> subprocess.Popen:
    """`subprocess.Popen(args)` whose process gets SIGTERM when this process ends, even
    when this process is SIGKILLed and runs no cleanup at all.

    The child starts as this file (stdlib only, so it is quick and needs no sys.path),
    arms the parent-death signal and execs `args`; the setting survives exec. SIGTERM,
    not SIGKILL, so a runwatcher child stops gracefully and takes its own workers along.

    Must be called from the main thread: the kernel sends the signal when the *thread*
    that forked the child ends, and only the main thread lives exactly as long as the
    process (a child forked from a short-lived thread would be killed with that thread)."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("proctree.spawn() must be called from the main thread")
    launcher = [sys.executable, str(Path(__file__).resolve()), str(os.getpid()), *args]
    return subprocess.Popen(launcher, **popen_kwargs)


def _launch(argv: list[str]) -> None:
    """`spawn()`'s launcher: arm, then become the command (same PID, same stdio)."""
    parent_pid, *command = argv
    die_with_parent(int(parent_pid), signal.SIGTERM)
    os.execvp(command[0], command)  # noqa: S606 - argv from spawn(), no shell involved


if __name__ == "__main__":
    _launch(sys.argv[1:])
