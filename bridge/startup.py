"""Start-up validation for the server processes: one line, exit code 1, nothing started.

Every problem a server process can detect before doing any work is found here, in this
order: settings a server must not run with, Django's system checks, the database (and
Redis with Q_BROKER=redis), and (in a child process, see `run_in_child`) the network
checks against Teleport and Mattermost. Only then does `runwatcher` fork its django-q2
workers, so a failure never prints their start and stop lines and never leaves a
half-started process behind.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

from common.redaction import Redactor
from common.request_log import escape_controls

# Processes that serve (sign sessions, CSRF tokens or django-q2 tasks with SECRET_KEY);
# one-off commands (migrate, collectstatic, makemigrations, createsuperuser) are not.
SERVER_COMMANDS = frozenset({"runwatcher", "qcluster", "runserver"})
NEW_KEY_HINT = (
    "hint: generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
)


class StartupError(Exception):
    """A one-line reason the service cannot start, with an optional hint line."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def teleport_failure(exc: Exception) -> StartupError:
    """A failed Teleport start-up check, with the setting to look at when it is one."""
    from teleportbridge.teleport.errors import HandshakeError, TeleportUnavailable

    text = str(exc)
    if isinstance(exc, HandshakeError):
        text += "; check [teleport] addr and the identity"
    elif isinstance(exc, TeleportUnavailable):
        text += "; check [teleport] addr"
    return StartupError(text)


def mattermost_failure(exc: Exception) -> StartupError:
    """A failed health check (the plugin's wording), naming [mattermost] url if nothing else."""
    text = f"API health check failed: {exc}"
    if "[mattermost]" not in text:
        text += "; check [mattermost] url"
    return StartupError(text)


def server_settings_problem() -> StartupError | None:
    """What a server process must not run with, though one-off commands may."""
    if not settings.SECRET_KEY_CONFIGURED and not settings.DEBUG:
        return StartupError(
            "SECRET_KEY is not set (nor SECRET_KEY_FILE) and DEBUG is off: set it to the "
            "same random value for runwatcher, qcluster and the web UI",
            hint=NEW_KEY_HINT,
        )
    return None


def run_system_checks() -> None:
    """Django's system checks, the first serious problem as one line (not a report)."""
    from django.core import checks

    serious = [m for m in checks.run_checks() if m.is_serious() and not m.is_silenced()]
    if serious:
        first = serious[0]
        where = f"{first.obj}: " if first.obj is not None else ""
        more = f" (and {len(serious) - 1} more)" if len(serious) > 1 else ""
        raise StartupError(
            f"{where}{first.id}: {first.msg}{more}",
            hint="hint: python manage.py check lists every problem",
        )


def check_database() -> None:
    """The database answers and has every migration of this version applied."""
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except (DatabaseError, OSError) as exc:
        reason = " ".join(str(exc).split())  # drivers write several lines
        raise StartupError(f"DATABASE_URL: cannot use the database: {reason}") from None
    finally:
        connection.close()
    if plan:
        raise StartupError(
            f"DATABASE_URL: the database lacks {len(plan)} migration(s) of this version",
            hint="hint: run python manage.py migrate",
        )


def check_broker() -> None:
    """With Q_BROKER=redis: Redis answers (a PING). Without this a wrong REDIS_URL showed
    only at the first enqueue, as a logged error per request, after "Plugin is ready"."""
    if settings.Q_BROKER != "redis":
        return  # the database broker: check_database() covered it
    import redis

    from bridge.redis_broker import shared_redis

    try:
        shared_redis().ping()
    except redis.RedisError as exc:
        reason = " ".join(str(exc).split())
        raise StartupError(f"REDIS_URL: cannot use Redis: {reason}") from None


def secrets_in_use(extra: Iterable[str] = ()) -> Redactor:
    """Everything that must never appear in a start-up error: the database's and Redis'
    passwords too."""
    password = settings.DATABASES["default"].get("PASSWORD") or ""
    return Redactor([password, _redis_password(), *extra])


def _redis_password() -> str:
    from urllib.parse import unquote, urlsplit

    url = settings.Q_CLUSTER.get("redis")
    return unquote(urlsplit(url).password or "") if isinstance(url, str) else ""


def one_line(message: str, redact: Callable[[str], str], hint: str = "") -> str:
    """The text of the CommandError: one escaped, redacted line, then the hint if any."""
    text = escape_controls(redact(message.strip()) or "start-up failed")
    return f"{text}\n{escape_controls(hint)}" if hint else text


def _child_main(fn: Callable[[], Any], sender: Any) -> None:
    # The parent decides about signals: it kills us on SIGTERM, and a Ctrl-C reaching the
    # whole process group must not turn into an error message of ours.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        result: tuple[str, Any] = ("ok", fn())
    except StartupError as exc:
        result = ("error", (str(exc), exc.hint))
    except Exception as exc:
        from teleportbridge.teleport.errors import TeleportError

        if isinstance(exc, TeleportError):
            result = ("error", (str(exc), ""))
        else:
            result = ("error", (f"start-up check failed: {type(exc).__name__}: {exc}", ""))
    sender.send(result)
    sender.close()


def run_in_child(fn: Callable[[], Any], stopping: threading.Event) -> Any | None:
    """Run fn in a forked child; its return value, StartupError, or None if stopping.

    Why a child: the network checks use gRPC, and grpcio must not be used in a process
    that forks afterwards (its threads and polling state do not survive the fork), yet
    the checks must pass before the django-q2 workers are forked. The child does the
    gRPC work and exits; this process stays gRPC-free until the workers exist.
    """
    from django.db import connections

    connections.close_all()  # never share a database socket with the child
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child_main, args=(fn, sender), name="startup-checks", daemon=True
    )
    child.start()
    sender.close()
    try:
        # Poll, so that a SIGTERM during a slow check (an unreachable host) is honoured.
        while not receiver.poll(0.2):
            if stopping.is_set():
                return None
            if not child.is_alive() and not receiver.poll():
                raise StartupError(
                    f"start-up checks ended without an answer (exit code {child.exitcode})"
                )
        try:
            kind, value = receiver.recv()
        except EOFError:
            raise StartupError(
                f"start-up checks ended without an answer (exit code {child.exitcode})"
            ) from None
    finally:
        if child.is_alive() and stopping.is_set():
            child.kill()
        child.join(timeout=10)
        receiver.close()
    if kind == "ok":
        return value
    message, hint = value
    raise StartupError(message, hint=hint)
