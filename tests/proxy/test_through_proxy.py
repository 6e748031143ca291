"""Through the Proxy: Ping, WatchEvents and listing work as they do direct to Auth."""

from __future__ import annotations

import datetime as dt
import logging
import os

import pytest

from simulators.teleport.certs import write_identity_file
from teleportbridge.config import TeleportConfig
from teleportbridge.teleport.client import TeleportClient
from teleportbridge.teleport.dialer import connect
from teleportbridge.teleport.identity import CredentialSource
from teleportbridge.teleport.proto import authservice_pb2 as pb
from teleportbridge.teleport.proxy.route import PATH_TLS_ROUTING, PATH_UPGRADE
from tests.proxy.conftest import make_dialer
from tests.waiting import wait_until


def _watch_sees_new_request(conn, teleport) -> None:
    client = TeleportClient(conn)
    stream = client.watch()
    try:
        assert next(stream).Type == pb.INIT
        request_id = teleport.create_request(user="alice", roles=["editor"])
        event = next(stream)
        assert event.Type == pb.PUT
        assert event.AccessRequest.Metadata.Name == request_id
        assert [r.Metadata.Name for r in client.list_access_requests()] == [request_id]
    finally:
        stream.cancel()


@pytest.mark.parametrize("cfg_name", ["identity_cfg", "triple_cfg"])
def test_it_watches_through_the_proxy(cfg_name, request, teleport, proxy, opened):
    cfg = request.getfixturevalue(cfg_name)
    conn, ping = connect(cfg, CredentialSource(cfg), probe_timeout=3.0)
    opened.append(conn)
    assert conn.path == PATH_TLS_ROUTING
    assert ping.ClusterName == "sim.example.com"
    _watch_sees_new_request(conn, teleport)
    assert proxy.routed >= 1  # the bytes really went through the Proxy


def test_it_uses_the_websocket_upgrade_behind_an_l7_balancer(teleport, proxy, identity_cfg, opened):
    proxy.l7_mode = True
    conn, ping = connect(identity_cfg, CredentialSource(identity_cfg), probe_timeout=3.0)
    opened.append(conn)
    assert conn.path == PATH_UPGRADE
    assert ping.ServerVersion == teleport.server_version
    _watch_sees_new_request(conn, teleport)


def test_an_auth_address_still_goes_direct(teleport, proxy, identity_cfg, opened):
    cfg = TeleportConfig(addr=teleport.address, identity=identity_cfg.identity)
    conn, _ = connect(cfg, CredentialSource(cfg))
    opened.append(conn)
    assert conn.path == "direct to Auth"
    assert proxy.routed == 0


def test_the_chosen_path_is_logged_once(identity_cfg, proxy, opened, caplog):
    dialer = make_dialer(identity_cfg)
    with caplog.at_level(logging.INFO, logger="teleportbridge.teleport.dialer"):
        for _ in range(2):
            conn, _ = dialer.connect()
            opened.append(conn)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert lines == [
        "Connected to Teleport cluster sim.example.com (version 17.4.2) through the Proxy at "
        f"{proxy.address} using TLS routing"
    ]


def test_a_refreshed_identity_is_used_for_new_connections(teleport, proxy, tmp_path, opened):
    path = write_identity_file(
        tmp_path / "id", teleport.pki.issue_client("bot-1"), teleport.cluster_name
    )
    cfg = TeleportConfig(
        addr=proxy.address,
        identity=str(path),
        refresh_identity=True,
        refresh_identity_interval=dt.timedelta(0),
    )
    dialer = make_dialer(cfg)
    conn, _ = dialer.connect()
    opened.append(conn)
    assert teleport.calls_to("Ping")[-1].peer_user == "bot-1"

    write_identity_file(path, teleport.pki.issue_client("bot-2"), teleport.cluster_name)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    conn, _ = dialer.connect()
    opened.append(conn)
    wait_until(lambda: teleport.calls_to("Ping")[-1].peer_user == "bot-2", 5)
