"""Zero-step start: `start` and `web` bring the database schema up to date themselves.

Several processes may start at once (`start` and `web` from one systemd target, a
standby, a second replica), and two `migrate` runs racing on one database fail half-way
("relation already exists"). So migrating happens under a lock:

* PostgreSQL: a session-level advisory lock on its own connection (a key other than the
  leader lock's). The second process waits, then finds nothing left to apply.
* SQLite: an exclusive `flock` on `<database>.migrate-lock` beside the file. SQLite is
  for one machine, so a file lock covers every process that can open the database.

A database that has migrations this code does not know was migrated by a newer version:
running on it would write rows the newer schema does not expect, so it is refused in one
line before anything is applied (`MigrationError`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

from django.core.management import call_command
from django.db import DatabaseError, connections
from django.db.migrations.loader import MigrationLoader

log = logging.getLogger(__name__)

MIGRATE_LOCK_KEY = 0x7E1E_4D47  # arbitrary, constant; LeaderLock uses 0x7E1E_4D4D


class MigrationError(Exception):
    """One line: why the schema cannot be brought up to date."""


@contextlib.contextmanager
def migration_lock(alias: str = "default") -> Iterator[None]:
    connection = connections[alias]
    if connection.vendor == "postgresql":
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        with psycopg.connect(autocommit=True, **params) as conn:
            # Released by the unlock, or by the session ending if we die meanwhile.
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK_KEY,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK_KEY,))
        return
    name = str(connection.settings_dict["NAME"])
    if connection.vendor != "sqlite" or name == ":memory:" or name.startswith("file:"):
        yield
        return
    with open(Path(name).with_name(Path(name).name + ".migrate-lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield


def unknown_migrations(alias: str = "default") -> list[str]:
    """Migrations recorded in the database that this code does not have (a newer
    version applied them), for apps this code has; sorted."""
    loader = MigrationLoader(connections[alias], ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    ours = {app for app, _ in known}
    return sorted(
        f"{app}.{name}"
        for app, name in loader.applied_migrations
        if app in ours and (app, name) not in known
    )


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [DatabaseError, OSError]
    with contextlib.suppress(ImportError):
        import psycopg

        errors.append(psycopg.Error)  # the lock's own connection is not Django's
    return tuple(errors)


def apply_migrations(alias: str = "default") -> int:
    """Apply every pending migration under the lock; returns how many were applied."""
    from django.db.migrations.executor import MigrationExecutor

    try:
        with migration_lock(alias):
            newer = unknown_migrations(alias)
            if newer:
                more = f" (and {len(newer) - 1} more)" if len(newer) > 1 else ""
                raise MigrationError(
                    f"DATABASE_URL: the database was migrated by a newer version of "
                    f"teleport-mattermost-bridge ({newer[-1]}{more} unknown here); run that "
                    f"version, or restore a backup taken before the upgrade"
                )
            connection = connections[alias]
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
            if plan:
                log.info("Applying %d database migration(s)", len(plan))
                call_command("migrate", database=alias, interactive=False, verbosity=0)
            return len(plan)
    except _driver_errors() as exc:
        reason = " ".join(str(exc).split())
        raise MigrationError(f"DATABASE_URL: cannot migrate the database: {reason}") from None
    finally:
        connections[alias].close()
