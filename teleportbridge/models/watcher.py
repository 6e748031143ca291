"""The watcher's heartbeat, read by the health panel."""

from __future__ import annotations

from django.db import models


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
    def set(cls, **fields: object) -> None:
        """Update the singleton without a read (safe to call from the watcher loop)."""
        if not cls.objects.filter(pk=1).update(**fields):
            cls.objects.get_or_create(pk=1, defaults=fields)
