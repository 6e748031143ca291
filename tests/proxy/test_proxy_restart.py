"""A running watcher loses its stream when the Proxy restarts, and gets everything back
through the same path once it is up again."""

from __future__ import annotations

import grpc
import pytest

from teleportbridge.teleport.client import TeleportClient
from teleportbridge.teleport.errors import TeleportUnavailable
from teleportbridge.teleport.proto import authservice_pb2 as pb
from teleportbridge.teleport.proxy.route import PATH_TLS_ROUTING, PATH_UPGRADE
from tests.proxy.conftest import make_dialer
from tests.waiting import wait_until


@pytest.mark.parametrize("l7", [False, True])
def test_a_proxy_restart_mid_stream_reconnects_with_nothing_lost(
    teleport, proxy, identity_cfg, opened, l7
):
    proxy.l7_mode = l7
    dialer = make_dialer(identity_cfg)
    conn, _ = dialer.connect()
    opened.append(conn)
    path = conn.path
    assert path == (PATH_UPGRADE if l7 else PATH_TLS_ROUTING)
    stream = TeleportClient(conn).watch()
    assert next(stream).Type == pb.INIT
    before = teleport.create_request(user="alice")
    assert next(stream).AccessRequest.Metadata.Name == before

    proxy.stop()
    with pytest.raises(grpc.RpcError):
        next(stream)  # the stream fails instead of hanging
    missed = teleport.create_request(user="bob")  # created while the Proxy is down
    with pytest.raises(TeleportUnavailable):
        dialer.connect()  # the caller backs off and tries again

    proxy.start(proxy.port)
    conn2, _ = dialer.connect()
    opened.append(conn2)
    assert conn2.path == path  # same path, no re-discovery
    client = TeleportClient(conn2)
    stream2 = client.watch()
    try:
        assert next(stream2).Type == pb.INIT
        names = {r.Metadata.Name for r in client.list_access_requests()}
        assert {before, missed} <= names  # the resync after reconnect sees the missed one
        latest = teleport.create_request(user="carol")
        assert next(stream2).AccessRequest.Metadata.Name == latest
    finally:
        stream2.cancel()


def test_an_auth_restart_behind_the_proxy_is_survived_by_the_same_connection(
    teleport, proxy, identity_cfg, opened
):
    """grpcio redials through the bridge by itself; each redial is a new routed session."""
    dialer = make_dialer(identity_cfg)
    conn, _ = dialer.connect()
    opened.append(conn)
    client = TeleportClient(conn)
    teleport.stop()
    with pytest.raises(TeleportUnavailable):
        client.ping(timeout=2)
    with pytest.raises(TeleportUnavailable) as err:  # the remembered path: retry, not fatal
        dialer.connect()
    assert "closed the TLS routing connection" in str(err.value)
    teleport.start(teleport.port)
    routed = proxy.routed

    def pings() -> bool:
        try:
            return client.ping(timeout=2).ClusterName == "sim.example.com"
        except TeleportUnavailable:
            return False  # grpcio is still in its reconnect backoff

    wait_until(pings, 10, message="Ping through the bridge after the Auth restart")
    assert proxy.routed > routed
