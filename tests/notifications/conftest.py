"""Pipeline fixtures: a request in the Teleport simulator, mirrored to the DB, reconciled."""

from __future__ import annotations

import pytest

from notifications.reconcile import reconcile_request
from notifications.tasks import enqueue_reconcile
from teleportbridge import sync
from teleportbridge.models import WatcherState


@pytest.fixture
def bridge(teleport, mattermost, plugin_config):
    """Drives the pipeline step by step: create/review/resolve in Teleport, then reconcile."""

    class Bridge:
        def __init__(self) -> None:
            self.teleport = teleport
            self.mm = mattermost
            self.configure = plugin_config
            WatcherState.set(proxy_public_addr="teleport.example.com:443")

        def pull(self, request_id: str) -> None:
            """What the watcher does on an event."""
            if request_id in {r.Metadata.Name for r in teleport.requests}:
                sync.upsert_request(teleport.get_request(request_id), on_change=enqueue_reconcile)
            else:
                sync.mark_deleted(request_id, on_change=enqueue_reconcile)

        def create(self, **kwargs) -> str:
            rid = teleport.create_request(**kwargs)
            self.pull(rid)
            return rid

        def reconcile(self, request_id: str) -> str:
            return reconcile_request(request_id)

        def channel_id(self, name: str) -> str:
            return mattermost.channel_ids[name]

    return Bridge()
