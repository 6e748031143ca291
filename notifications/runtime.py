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
from teleportbridge.config import Config, load_config
from teleportbridge.teleport.client import TeleportClient
from teleportbridge.teleport.errors import TeleportError

log = logging.getLogger(__name__)

_lock = threading.Lock()  # guards the cached handles below (django-q2 threads, tests)
_cached: dict[str, object] = {}


def config_path() -> str:
    return os.environ.get("TELEPORT_MATTERMOST_CONFIG") or settings.TELEPORT_MATTERMOST_CONFIG


def get_config() -> Config:
    """The TOML, re-read when the file changes (so a recipients edit needs no restart)."""
    path = config_path()
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        mtime = 0.0
    with _lock:
        cached = _cached.get("config")
        if cached is not None and cached[0] == (path, mtime):
            return cached[1]
    cfg = load_config(path)
    with _lock:
        if cached is not None and cached[1].mattermost != cfg.mattermost:
            old = _cached.pop("mattermost", None)
            if old is not None:
                old.close()
        _cached["config"] = ((path, mtime), cfg)
    return cfg


def mattermost() -> MattermostClient:
    cfg = get_config()
    with _lock:
        client = _cached.get("mattermost")
        if client is None:
            client = MattermostClient(
                cfg.mattermost.url, cfg.mattermost.token, on_attempt=attempts.record
            )
            _cached["mattermost"] = client
        return client


def teleport() -> TeleportClient | None:
    """A Teleport client for plugin data, or None when Teleport cannot be reached now."""
    with _lock:
        client = _cached.get("teleport")
    if client is not None:
        return client
    from teleportbridge.teleport.dialer import Dialer
    from teleportbridge.teleport.identity import CredentialSource

    cfg = get_config()
    try:
        conn, _ping = Dialer(cfg.teleport, CredentialSource(cfg.teleport)).connect()
    except TeleportError as exc:
        log.warning("Teleport unreachable for plugin data, will retry later: %s", exc)
        return None
    client = TeleportClient(conn)
    with _lock:
        _cached["teleport"] = client
    return client


def drop_teleport() -> None:
    """Forget a broken Teleport connection; the next call dials again."""
    with _lock:
        client = _cached.pop("teleport", None)
    if client is not None:
        client.close()


def reset() -> None:
    """Close and forget every handle (tests switch simulators between cases)."""
    with _lock:
        items = list(_cached.items())
        _cached.clear()
    for name, obj in items:
        if name in ("mattermost", "teleport"):
            obj.close()
