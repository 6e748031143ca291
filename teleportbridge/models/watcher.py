"""The watcher's heartbeat, read by the health panel."""

from __future__ import annotations

from django.db import models

from common.ttl_cache import TTLCache

# The proxy address for links in posts, read by every reconcile: it changes only when the
# watcher (re)connects. Empty is never cached (a worker starting before the watcher's
# first Ping must not keep posting link-less messages for the TTL).
_proxy_addr: TTLCache[str] = TTLCache(ttl=10.0)


class WatcherState(models.Model):
    """Singleton row (pk=1) the running watcher updates; the dashboard only reads it."""

    connected = models.BooleanField(default=False)
    cluster_name = models.CharField(max_length=255, blank=True)
    server_version = models.CharField(max_length=64, blank=True)
    proxy_public_addr = models.CharField(max_length=255, blank=True)
    connection_path = models.CharField(max_length=32, blank=True)
    connected_since = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_resync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    reconnects = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return "connected" if self.connected else "disconnected"

    @classmethod
    def get(cls) -> WatcherState:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    @classmethod
    def proxy_addr(cls) -> str:
        """proxy_public_addr, cached for a few seconds per process (see _proxy_addr)."""
        return _proxy_addr.get(1, lambda: cls.get().proxy_public_addr, keep=bool)

    @classmethod
    def set(cls, **fields: object) -> None:
        """Update the singleton without a read (safe to call from the watcher loop)."""
        if "proxy_public_addr" in fields:
            _proxy_addr.clear()  # this process sees its own change at once
        if not cls.objects.filter(pk=1).update(**fields):
            cls.objects.get_or_create(pk=1, defaults=fields)
