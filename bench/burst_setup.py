"""notify_burst set-up: a fresh database, the Mattermost simulator, the plugin TOML, runwatcher."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from burst_common import ROOT, TOKEN


class Database:
    """A fresh database for one run: a temp SQLite file, or bench_<pid> on a PG server."""

    def __init__(self, spec: str, tmp: Path) -> None:
        self.admin_url = ""
        self.name = ""
        if spec == "sqlite":
            self.kind = "sqlite"
            self.url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        elif spec.startswith(("postgres://", "postgresql://")):
            self.kind = "postgres"
            self.admin_url = spec
            self.name = f"bench_{os.getpid()}"
            parts = urlsplit(spec)
            self.url = urlunsplit(parts._replace(path="/" + self.name))
        else:
            raise SystemExit(f"--database: 'sqlite' or a postgres:// URL, not {spec!r}")

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def create(self) -> None:
        if self.kind == "postgres":
            self._admin(f'CREATE DATABASE "{self.name}"')
        out = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": self.url},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode != 0:
            raise SystemExit(f"migrate failed:\n{out.stdout}{out.stderr}")

    def drop(self) -> None:
        if self.kind == "postgres" and self.name:
            try:
                self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            except Exception as exc:
                print(f"  ! could not drop {self.name}: {exc}", file=sys.stderr)


def start_mattermost(latency_s: float):
    from simulators.mattermost.server import MattermostSimulator

    sim = MattermostSimulator().start()
    sim.add_team("eng", "Engineering")
    for name in ("access-requests", "town-square", "ops"):
        sim.add_channel("eng", name, name)
    sim.add_user("alice@example.com", "alice")
    sim.add_user("bob@x.io", "bob")
    sim.set_latency(latency_s)
    return sim


def write_config(path: Path, teleport_addr: str, identity: Path, mm_url: str, handles, log):
    path.write_text(
        "\n".join(
            [
                "[teleport]",
                f'addr = "{teleport_addr}"',
                f'identity = "{identity}"',
                "",
                "[mattermost]",
                f'url = "{mm_url}"',
                f'token = "{TOKEN}"',
                "recipients = [" + ", ".join(f'"{h}"' for h in handles) + "]",
                "",
                "[log]",
                f'output = "{log}"',
                'severity = "INFO"',
                "",
            ]
        )
    )
    return path


def spawn_manage(
    args: list[str], db_url: str, workers: int, log: Path, **env_extra: str
) -> subprocess.Popen:
    """`manage.py <args>` that stops when this script ends, however it ends (a Ctrl-C, a
    `timeout`, the watchdog's os._exit): proctree.spawn arms the parent-death signal."""
    from bridge.proctree import spawn  # ROOT is on sys.path by now (the script's main)

    env = {**os.environ, "DATABASE_URL": db_url, "Q_WORKERS": str(workers)}
    env.pop("TELEPORT_MATTERMOST_CONFIG", None)
    env.pop("DEBUG", None)
    # Production settings (DEBUG off) need a key; one per benchmark process, shared by every
    # process it starts: django-q2 signs the queued tasks with it, so a restarted or another
    # process must read what the previous one queued.
    env["SECRET_KEY"] = os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    env.update(env_extra)
    return spawn(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_runwatcher(
    config: Path, db_url: str, workers: int, log: Path, *extra: str
) -> subprocess.Popen:
    """A real runwatcher (see spawn_manage); `extra`: more of its options."""
    return spawn_manage(
        [
            "runwatcher",
            "--config",
            str(config),
            "--audit-interval",
            "0",
            "--status-addr",
            "",  # not measured; and 8081 may be taken where the benchmark runs
            *extra,
        ],
        db_url,
        workers,
        log,
    )


def stop_runwatcher(proc: subprocess.Popen) -> str:
    if proc.poll() is not None:
        return f"already exited ({proc.returncode})"
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
        return f"exit {code} {time.monotonic() - started:.1f}s after SIGTERM"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        return "did not stop within 30s of SIGTERM: killed"
