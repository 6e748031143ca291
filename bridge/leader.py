"""One active watcher per cluster: a PostgreSQL advisory lock, others stand by.

Two watchers would both be correct (every write is idempotent) but would double the
load on Teleport; the lock makes a second `runwatcher` a hot standby instead. The lock
lives on its own connection so Django's connection recycling can never drop it.
SQLite deployments are single-machine by nature: no lock.

The lock lives exactly as long as that session: a database restart, a failover or an
idle-session timeout ends it silently, and a standby may then take it. So the leader
checks it (`still_held`) every few seconds and, when its session is gone, takes the lock
again or, if a standby was faster, stops: two active watchers must not outlive one check.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING

from django.db import connections

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

LOCK_KEY = 0x7E1E_4D4D  # arbitrary, constant: "teleport-mattermost" watcher


class LeaderLock:
    def __init__(self, alias: str = "default") -> None:
        self.alias = alias
        self._conn: psycopg.Connection | None = None  # the session that holds the lock

    @property
    def supported(self) -> bool:
        return connections[self.alias].vendor == "postgresql"

    def try_acquire(self) -> bool:
        if not self.supported:
            return True
        import psycopg

        if self._conn is None:
            params = connections[self.alias].get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            self._conn = psycopg.connect(autocommit=True, **params)
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        return bool(row and row[0])

    def wait(self, stop: threading.Event, interval: float = 5.0) -> bool:
        """Block until we hold the lock (True) or stop is set (False)."""
        announced = False
        while not stop.is_set():
            if self.try_acquire():
                return True
            if not announced:
                log.info("Another watcher holds the leader lock; standing by")
                announced = True
            stop.wait(interval)
        return False

    def still_held(self) -> bool | None:
        """True while we hold the lock, False once another session holds it, None when the
        database cannot be reached (nobody can take the lock then; ask again later)."""
        if not self.supported:
            return True
        import psycopg

        if self._conn is not None:
            try:
                # Our session never unlocks, so a live session still holds the lock.
                self._conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                self._drop()
        try:
            held = self.try_acquire()
        except psycopg.Error:
            self._drop()
            return None
        if held:
            log.warning("The leader lock's database session had ended; took the lock again")
        return held

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Already broken: closing can only fail, and there is nothing left to release.
            with contextlib.suppress(Exception):
                conn.close()

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # closing the session releases the advisory lock
            finally:
                self._conn = None
