"""The real watcher, connected with the Dialer to the Proxy: watch, resync after a Proxy
restart, and the path recorded in WatcherState."""

from __future__ import annotations

import pytest

from common.backoff import Backoff
from notifications.tasks import enqueue_reconcile
from teleportbridge.models import AccessRequest, RequestState, WatcherState
from teleportbridge.teleport.proxy.route import PATH_TLS_ROUTING
from teleportbridge.watcher import Watcher
from tests.proxy.conftest import make_dialer
from tests.teleport.conftest import WatcherThread
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def stored(request_id: str) -> AccessRequest | None:
    return AccessRequest.objects.filter(pk=request_id).first()


def test_the_watcher_resyncs_through_the_proxy_after_a_restart(teleport, proxy, identity_cfg):
    pending = teleport.create_request(user="a")
    to_approve = teleport.create_request(user="b")
    watcher = Watcher(
        make_dialer(identity_cfg).connect,
        on_change=enqueue_reconcile,
        backoff=Backoff(base=0.05, cap=0.2),
    )
    wt = WatcherThread(watcher).start()
    try:
        wait_until(watcher.ready.is_set, message="INIT + resync through the Proxy")
        assert stored(pending) is not None
        assert WatcherState.get().connection_path == PATH_TLS_ROUTING
        live = teleport.create_request(user="c")
        wait_until(lambda: stored(live) is not None, message="PUT through the Proxy")

        proxy.stop()
        wait_until(lambda: not watcher.ready.is_set(), message="disconnect noticed")
        missed = teleport.create_request(user="d")  # no event can reach us now
        teleport.approve(to_approve, reason="fine")
        proxy.start(proxy.port)
        wait_until(lambda: stored(missed) is not None, timeout=20, message="resync")
        wait_until(lambda: stored(to_approve).state == RequestState.APPROVED)
        assert watcher.connections >= 2
    finally:
        wt.stop()
