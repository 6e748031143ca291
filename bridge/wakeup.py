"""Wake-up channels: tell a waiting django-q2 pusher that a task row was just committed.

The queue itself stays in the database (durable, transactional with the change that asks
for the work); these channels only carry "look now", so a lost wake-up costs at most the
broker's fallback poll, never a task. Two kinds, picked by the database engine:

- PostgreSQL: `NOTIFY` on the caller's own connection, inside its transaction: PostgreSQL
  delivers it only if and when that transaction commits, to every `LISTEN`ing session on
  any machine. The listener owns a separate autocommit connection (Django closes and
  reopens its own ones between tasks).
- SQLite (one machine by nature): a directory of unix datagram sockets next to the
  database file, one per waiting pusher. A notifier sends one byte to each after its
  commit; a socket nobody reads any more (its process died) refuses it and is removed.

A datagram sent while the pusher is busy stays queued in its socket, so the pusher's
"drain, then query, then wait" order never misses a commit that happened in between.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import time
from pathlib import Path
from typing import Any, Protocol

from django.db import connections, transaction

log = logging.getLogger(__name__)

#: The PostgreSQL channel name (an identifier: never built from outside input).
PG_CHANNEL = "teleportbridge_queue"
#: A datagram socket's buffer holds far more than this; more wake-ups add nothing.
_DRAIN_MAX = 4096


class Listener(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block until a wake-up or `timeout`; True if woken. Drains pending wake-ups."""

    def close(self) -> None: ...


def notify(alias: str) -> None:
    """Wake every pusher once the current transaction (if any) has committed."""
    conn = connections[alias]
    if conn.vendor == "postgresql":
        # Transactional by itself: queued with the transaction, dropped on rollback.
        with conn.cursor() as cursor:
            cursor.execute(f"NOTIFY {PG_CHANNEL}")
        return
    directory = socket_dir(alias)
    if directory is not None:
        # After the commit: a pusher woken before it would find nothing yet. robust: a
        # failed wake-up must never fail the caller (the fallback poll covers it).
        transaction.on_commit(lambda: _send_all(directory), using=alias, robust=True)


def listener(alias: str) -> Listener | None:
    """A listener for the database behind `alias`; None where there is no channel (an
    in-memory SQLite database, another engine): the broker then just polls."""
    conn = connections[alias]
    if conn.vendor == "postgresql":
        return PgListener(alias)
    directory = socket_dir(alias)
    return SocketListener(directory) if directory is not None else None


def socket_dir(alias: str) -> Path | None:
    """`<database file>.wake/` for a file SQLite database, else None."""
    conn = connections[alias]
    if conn.vendor != "sqlite":
        return None
    name = str(conn.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or "mode=memory" in name or name.startswith("file:"):
        return None
    return Path(f"{name}.wake")


def _send_all(directory: Path) -> None:
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return  # no pusher has ever waited on this database
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for path in entries:
            try:
                sock.sendto(b"!", str(path))
            except BlockingIOError:
                pass  # its buffer is full of wake-ups already: it will look anyway
            except (ConnectionRefusedError, FileNotFoundError):
                # Nobody bound to it any more (a pusher that died): tidy up.
                with contextlib.suppress(OSError):
                    path.unlink()
            except OSError as exc:
                log.debug("Wake-up of %s failed: %s", path.name, exc)


class SocketListener:
    """One pusher's datagram socket in the database's wake-up directory."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(mode=0o700, exist_ok=True)
        self.path = directory / f"{os.getpid()}.sock"
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a previous process with our pid
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)

    def wait(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return False
        for _ in range(_DRAIN_MAX):
            try:
                self.sock.recv(16)
            except BlockingIOError:
                break
        return True

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class PgListener:
    """`LISTEN` on a dedicated autocommit connection, reconnected after any failure."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.conn: Any = None

    def _connect(self) -> Any:
        conn = _pg_autocommit(self.alias)
        conn.execute(f"LISTEN {PG_CHANNEL}")
        return conn

    def wait(self, timeout: float) -> bool:
        try:
            if self.conn is None:
                self.conn = self._connect()
                return True  # anything committed before LISTEN: look once
            if self._drain():
                return True  # arrived while the pusher was busy
            # Not notifies(timeout=...): psycopg wakes every 0.1 s inside it to check for
            # Ctrl-C, ten wake-ups a second in an idle pusher (~0.18% of a core, a quarter
            # of the idle tree's CPU). One select() on the connection's socket waits the
            # whole timeout; what it brings is then read without waiting.
            select.select([self.conn.fileno()], [], [], timeout)
            return self._drain()
        except Exception as exc:
            log.warning("Queue wake-up channel lost (%s); polling until it is back", exc)
            self.close()
            time.sleep(timeout)  # the fallback poll's pace, not a busy loop of reconnects
            return False

    def _drain(self) -> bool:
        """Read every notification already here (buffered or on the socket), no wait:
        one query of the queue serves them all."""
        woken = False
        for _ in self.conn.notifies(timeout=0):
            woken = True
        return woken

    def close(self) -> None:
        _close_quietly(self.conn)
        self.conn = None


class Waker:
    """Wake-ups sent at once, outside any transaction, for a stopping runwatcher: django-q2's
    pusher looks at its stop event only between two dequeues, and an idle dequeue waits up
    to Q_POLL (5 s) for a wake-up, which held every stop for seconds. After a failure it
    stays quiet (a database that does not answer must not hold the stop up connecting
    again every 0.1 s): the stop's own deadline still ends the wait."""

    #: libpq's smallest useful connect timeout; a stop's drain window is 3 s.
    CONNECT_TIMEOUT = 2

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.vendor = connections[alias].vendor
        self.directory = socket_dir(alias)
        self.conn: Any = None
        self.failed = False

    def wake(self) -> None:
        if self.failed:
            return
        try:
            if self.vendor == "postgresql":
                if self.conn is None:
                    self.conn = _pg_autocommit(self.alias, connect_timeout=self.CONNECT_TIMEOUT)
                self.conn.execute(f"NOTIFY {PG_CHANNEL}")
            elif self.directory is not None:
                _send_all(self.directory)
        except Exception as exc:
            log.debug("Stop wake-up failed: %s", exc)
            self.failed = True
            self.close()

    def close(self) -> None:
        _close_quietly(self.conn)
        self.conn = None


def _close_quietly(conn: Any) -> None:
    """Close a connection of our own, if any, whatever state it is in."""
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()


def _pg_autocommit(alias: str, connect_timeout: int | None = None) -> Any:
    """A connection of our own to the database behind `alias` (Django closes and reopens
    its own between tasks, and they may be inside a transaction)."""
    import psycopg

    params = dict(connections[alias].get_connection_params())
    # Django's own cursor class and prepare settings are for its connections only.
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    if connect_timeout is not None:
        params["connect_timeout"] = connect_timeout
    return psycopg.connect(**params, autocommit=True)
