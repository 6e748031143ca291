"""Per-process handles the workers need: config, Mattermost client, Teleport client.

Workers may be forked by runwatcher or started by `manage.py qcluster`; either way they
read the same TOML (TELEPORT_MATTERMOST_CONFIG) and build their clients lazily, after
the fork, once per process. Every Mattermost HTTP call is written to DeliveryAttempt
(see attempts.py).
"""

from __future__ import annotations

import logging
import os
import threading

from django.conf import settings

from notifications import attempts
from notifications.mattermost.client import MattermostClient
from notifications.pacing import SharedPacer, token_key
from teleportbridge.config import Config, ConfigError, load_config
from teleportbridge.teleport.client import TeleportClient
from teleportbridge.teleport.errors import TeleportError

log = logging.getLogger(__name__)


class _Handles:
    """This process's cached handles; every field is read and written under _lock."""

    config: tuple[tuple[str, float], Config] | None = None  # ((path, mtime), parsed)
    mattermost: MattermostClient | None = None
    teleport: TeleportClient | None = None


_lock = threading.Lock()  # guards _handles (django-q2 worker threads, tests)
_handles = _Handles()


def config_path() -> str:
    return os.environ.get("TELEPORT_MATTERMOST_CONFIG") or settings.TELEPORT_MATTERMOST_CONFIG


def get_config() -> Config:
    """The TOML, re-read when the file changes (so a recipients edit needs no restart).

    A changed file that does not parse is refused with one error line (once per change)
    and the last good configuration stays, as SIGHUP does in the watcher process; with
    no good one yet (a fresh process) the error is raised."""
    path = config_path()
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        mtime = 0.0
    with _lock:
        cached = _handles.config
    if cached is not None and cached[0] == (path, mtime):
        return cached[1]
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        if cached is None:
            raise
        log.error("Configuration change refused, keeping the last good one: %s", exc)
        with _lock:
            _handles.config = ((path, mtime), cached[1])  # do not re-parse until it changes
        return cached[1]
    stale: MattermostClient | None = None
    with _lock:
        if cached is not None and cached[1].mattermost != cfg.mattermost:
            stale, _handles.mattermost = _handles.mattermost, None
        _handles.config = ((path, mtime), cfg)
    if stale is not None:
        stale.close()
    return cfg


def mattermost() -> MattermostClient:
    cfg = get_config()
    with _lock:
        if _handles.mattermost is None:
            _handles.mattermost = MattermostClient(
                cfg.mattermost.url,
                cfg.mattermost.token,
                on_attempt=attempts.record,
                # One budget per token, shared through the database by every process.
                pacer=SharedPacer(token_key(cfg.mattermost.url, cfg.mattermost.token)),
            )
        return _handles.mattermost


def teleport() -> TeleportClient | None:
    """A Teleport client for plugin data, or None when Teleport cannot be reached now."""
    with _lock:
        if _handles.teleport is not None:
            return _handles.teleport
    from teleportbridge.teleport.dialer import Dialer
    from teleportbridge.teleport.identity import CredentialSource

    cfg = get_config()
    try:
        conn, _ping = Dialer(cfg.teleport, CredentialSource(cfg.teleport)).connect()
    except TeleportError as exc:
        log.warning("Teleport unreachable for plugin data, will retry later: %s", exc)
        return None
    client = TeleportClient(conn)
    # Dialing happens outside the lock (it can take seconds); two threads may both dial.
    # The first to get here wins and the other closes its own connection.
    with _lock:
        if _handles.teleport is None:
            _handles.teleport = client
            return client
        winner = _handles.teleport
    client.close()
    return winner


def drop_teleport() -> None:
    """Forget a broken Teleport connection; the next call dials again."""
    with _lock:
        client, _handles.teleport = _handles.teleport, None
    if client is not None:
        client.close()


def reset() -> None:
    """Close and forget every handle (tests switch simulators between cases)."""
    with _lock:
        mm, tp = _handles.mattermost, _handles.teleport
        _handles.config = _handles.mattermost = _handles.teleport = None
    for client in (mm, tp):
        if client is not None:
            client.close()


def prewarm_worker(**_signal: object) -> None:
    """A fresh worker's first task paid for the Teleport dial, TLS and the Mattermost
    session (~60-100 ms of its first post's latency, p95 at idle): build them now, in the
    background, so the worker takes tasks at once. A task that arrives first simply
    builds its own (teleport() keeps whichever connection wins)."""

    def warm() -> None:
        try:
            mattermost()
            teleport()
        except Exception as exc:  # not configured, unreachable: the first task will say
            log.debug("Worker pre-warm skipped: %s", exc)

    threading.Thread(target=warm, name="prewarm", daemon=True).start()
