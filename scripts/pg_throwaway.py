#!/usr/bin/env python3
"""Start and stop a throwaway PostgreSQL cluster for the test suite (stdlib only).

    python scripts/pg_throwaway.py start --state FILE   # prints DATABASE_URL on stdout
    python scripts/pg_throwaway.py stop  --state FILE   # shuts it down, deletes its files

Why a private cluster rather than "whatever runs on 5432": a fresh machine has no
server at all, a developer's server has unknown users/auth, and two test runs must not
share databases. This one lives in a temp dir, listens on 127.0.0.1 only, on a free
port, with trust auth, fsync off (nothing in it is worth keeping), and its unix socket
in its own dir (so it never collides with /var/run/postgresql).

As root, everything runs as the `postgres` user through runuser, because initdb and
postgres refuse to run as root. Progress goes to stderr; stdout carries only the URL, so
`url=$(python scripts/pg_throwaway.py start --state f)` works.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 60.0  # seconds for the server to accept connections
PORT_ATTEMPTS = 5  # a free port can be taken between probing and binding: retry
# C locale: independent of the locales installed on the machine; --no-sync: faster.
INITDB_OPTS = ["-E", "UTF8", "--locale=C", "--no-sync"]


def log(msg: str) -> None:
    print(f"pg_throwaway: {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    """A one-line reason to give up; main() prints it and exits 1."""


def find_bin(name: str) -> str:
    """PATH first (lets a developer pick a version), then Debian's versioned dirs."""
    found = shutil.which(name)
    if found:
        return found

    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parts[-3]  # /usr/lib/postgresql/<ver>/bin/<name>
        return tuple(int(x) for x in part.split(".") if x.isdigit())

    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version)
    if candidates:
        return candidates[-1]  # newest installed major version
    raise Failure(
        f"{name} not found (PATH, /usr/lib/postgresql/*/bin); install the Debian package "
        "`postgresql` (bash scripts/bootstrap.sh --dev does it) or set DATABASE_URL"
    )


def as_postgres_prefix() -> list[str]:
    """Command prefix that drops root to the postgres user; empty when not root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise Failure("running as root but there is no `postgres` user to run initdb") from None
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", "postgres", "--"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    # cwd is the cluster dir: the postgres user may not be allowed into the caller's cwd.
    return subprocess.run(
        cmd,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_ready(port: int, sockdir: Path, prefix: list[str], deadline: float) -> None:
    """Poll until the server accepts connections on 127.0.0.1:port, or the deadline."""
    pg_isready = shutil.which("pg_isready") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_isready"))), None
    )
    while time.monotonic() < deadline:
        if pg_isready:
            probe = [pg_isready, "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
            if run(probe, cwd=sockdir, timeout=10).returncode == 0:
                return
        else:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                pass
        time.sleep(0.2)
    raise Failure(f"server on port {port} did not accept connections within {START_TIMEOUT}s")


def log_tail(logfile: Path, lines: int = 15) -> str:
    try:
        return "\n".join(logfile.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def start(state_file: Path, base_dir: str | None) -> int:
    if state_file.exists() and state_file.stat().st_size > 0:  # mktemp's empty file is fine
        raise Failure(f"{state_file} exists: a cluster may still be running; run stop first")
    initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
    prefix = as_postgres_prefix()

    workdir = Path(tempfile.mkdtemp(prefix="pg-throwaway-", dir=base_dir))
    try:
        if prefix:
            pw = pwd.getpwnam("postgres")
            os.chown(workdir, pw.pw_uid, pw.pw_gid)
            # The temp root (e.g. a private TMPDIR) must be traversable by postgres too.
            if run([*prefix, "test", "-w", str(workdir)], cwd=Path("/")).returncode != 0:
                raise Failure(f"user postgres cannot write {workdir}; pass --base-dir /tmp")
        datadir, logfile = workdir / "data", workdir / "server.log"

        log(f"initdb in {datadir}")
        res = run(
            [*prefix, initdb, "-D", str(datadir), "-A", "trust", "-U", "postgres", *INITDB_OPTS],
            cwd=workdir,
        )
        if res.returncode != 0:
            raise Failure(f"initdb failed:\n{res.stdout}{res.stderr}")

        for _attempt in range(PORT_ATTEMPTS):
            port = free_port()
            # Later lines in postgresql.conf win, so a retry simply appends a new block.
            with open(datadir / "postgresql.conf", "a") as conf:
                conf.write(
                    "\n# pg_throwaway: test-only settings\n"
                    "listen_addresses = '127.0.0.1'\n"
                    f"port = {port}\n"
                    f"unix_socket_directories = '{workdir}'\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 200\n"
                )
            # -w makes pg_ctl wait for the postmaster; -l keeps the server's output out of
            # our stdout (otherwise `$(... start ...)` in a shell would never return).
            wait_opts = ["-w", "-t", str(int(START_TIMEOUT))]
            res = run(
                [*prefix, pg_ctl, "start", *wait_opts, "-D", str(datadir), "-l", str(logfile)],
                cwd=workdir,
                timeout=START_TIMEOUT + 30,
            )
            if res.returncode == 0:
                break
            log(f"start on port {port} failed, retrying on another port")
        else:
            raise Failure(f"pg_ctl start failed:\n{res.stderr}\n{log_tail(logfile)}")

        url = f"postgres://postgres@127.0.0.1:{port}/postgres"
        state = {"dir": str(workdir), "port": port, "pg_ctl": pg_ctl, "prefix": prefix}
        state_file.write_text(json.dumps(state))
        # From here on `stop` can clean up, whatever happens next.
        try:
            wait_ready(port, workdir, prefix, time.monotonic() + START_TIMEOUT)
        except Failure:
            stop(state_file)
            raise
    except BaseException:
        if not state_file.exists():
            _kill_postmaster(workdir / "data")
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    log(f"ready on 127.0.0.1:{port} (dir {workdir})")
    print(url, flush=True)
    return 0


def _kill_postmaster(datadir: Path) -> None:
    """Last resort when pg_ctl stop failed: SIGQUIT (immediate shutdown) the postmaster."""
    try:
        pid = int((datadir / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGQUIT)
    except (OSError, ValueError, IndexError):
        pass


def stop(state_file: Path) -> int:
    """Idempotent: a missing state file means there is nothing left to stop."""
    try:
        state = json.loads(state_file.read_text())
    except FileNotFoundError:
        log(f"{state_file} not found: nothing to stop")
        return 0
    workdir = Path(state["dir"])
    datadir = workdir / "data"
    if (datadir / "postmaster.pid").exists():
        # Immediate mode: nothing in a throwaway cluster needs a clean checkpoint.
        pg_ctl = [*state["prefix"], state["pg_ctl"]]
        res = run(
            [*pg_ctl, "stop", "-w", "-m", "immediate", "-D", str(datadir)],
            cwd=workdir if workdir.exists() else Path("/"),
            timeout=60,
        )
        if res.returncode != 0:
            log(f"pg_ctl stop failed ({res.stderr.strip()}); sending SIGQUIT")
            _kill_postmaster(datadir)
            time.sleep(1)
    shutil.rmtree(workdir, ignore_errors=True)
    state_file.unlink(missing_ok=True)
    log(f"stopped port {state['port']}, removed {workdir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--state", required=True, type=Path, help="JSON file to track it")
    parser.add_argument("--base-dir", help="where to create the cluster dir (default: TMPDIR)")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            return start(args.state, args.base_dir)
        return stop(args.state)
    except Failure as exc:
        log(f"ERROR: {exc}")
        return 1
    except subprocess.TimeoutExpired as exc:
        log(f"ERROR: timed out: {' '.join(map(str, exc.cmd))}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
