"""One active watcher per cluster: a PostgreSQL advisory lock, others stand by.

Two watchers would both be correct (every write is idempotent) but would double the
load on Teleport; the lock makes a second `runwatcher` a hot standby instead. The lock
lives on its own connection so Django's connection recycling can never drop it.
SQLite deployments are single-machine by nature: no lock.
"""

from __future__ import annotations

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

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # closing the session releases the advisory lock
            finally:
                self._conn = None
