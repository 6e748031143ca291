"""Each way the Proxy path can fail at start-up gives one clear line (and the right type)."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from simulators.teleport.certs import make_cluster, write_identity_file
from teleportbridge.config import TeleportConfig
from teleportbridge.teleport.dialer import connect
from teleportbridge.teleport.errors import (
    CredentialsError,
    HandshakeError,
    TeleportUnavailable,
)
from teleportbridge.teleport.identity import EXPIRED_MESSAGE, CredentialSource
from teleportbridge.teleport.proxy.route import auth_route, connect_via_proxy


def _connect(cfg: TeleportConfig):
    conn, ping = connect(cfg, CredentialSource(cfg), probe_timeout=3.0)
    conn.close()
    return ping


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


def test_the_route_name_hex_encodes_the_cluster():
    assert auth_route("example.com") == (
        "teleport-auth@6578616d706c652e636f6d.teleport.cluster.local"
    )


def test_a_proxy_without_tls_routing_and_no_reachable_tunnel_says_both(proxy, identity_cfg):
    """Without TLS routing the way in is the Proxy's SSH reverse tunnel (see
    test_reverse_tunnel.py); when nothing answers there, the line says what to open."""
    proxy.tls_routing = False
    with socket.socket() as s:  # a tunnel port nobody listens on
        s.bind(("127.0.0.1", 0))
        proxy.tunnel_port = s.getsockname()[1]
    with pytest.raises(TeleportUnavailable) as err:
        _connect(identity_cfg)
    text = _one_line(err.value)
    assert text.startswith(f"{proxy.address} is a Teleport Proxy without TLS routing, so Auth")
    assert f"no SSH reverse tunnel answered at 127.0.0.1:{proxy.tunnel_port}" in text
    assert "TELEPORT_TUNNEL_PUBLIC_ADDR" in text


def test_an_identity_of_another_cluster_names_both_clusters(proxy, tmp_path):
    other = make_cluster("other.example.com")
    path = write_identity_file(tmp_path / "id", other.issue_client(), other.cluster_name)
    with pytest.raises(HandshakeError) as err:
        _connect(TeleportConfig(addr=proxy.address, identity=str(path)))
    text = _one_line(err.value)
    assert "'other.example.com'" in text
    assert "'sim.example.com'" in text
    assert proxy.address in text


def test_the_proxy_closes_a_route_to_an_unknown_cluster(proxy, identity_cfg):
    with pytest.raises(HandshakeError) as err:
        connect_via_proxy(
            proxy.address, CredentialSource(identity_cfg), cluster="nope.example.com", timeout=3
        )
    assert _one_line(err.value) == (
        f"the Proxy at {proxy.address} closed the TLS routing connection for cluster "
        f"'nope.example.com' (ALPN {auth_route('nope.example.com')}): it does not serve "
        "that cluster, or cannot reach its Auth Service"
    )
    assert proxy.routed == 0


@pytest.mark.parametrize("l7", [False, True])
def test_an_auth_certificate_the_identity_does_not_trust_is_a_handshake_error(proxy, tmp_path, l7):
    """Same cluster name, different CA (a rotated or rebuilt cluster): Auth is not trusted."""
    proxy.l7_mode = l7
    impostor = make_cluster("sim.example.com")
    path = write_identity_file(tmp_path / "id", impostor.issue_client(), "sim.example.com")
    with pytest.raises(HandshakeError) as err:
        _connect(TeleportConfig(addr=proxy.address, identity=str(path)))
    text = _one_line(err.value)
    assert text.startswith(
        f"the Teleport Auth Service behind the Proxy at {proxy.address} presented a "
        "certificate the identity's CAs do not trust"
    )


def test_an_unreachable_find_is_added_to_the_direct_error(identity_cfg):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        addr = f"127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(TeleportUnavailable) as err:
        _connect(TeleportConfig(addr=addr, identity=identity_cfg.identity))
    text = _one_line(err.value)
    assert text.startswith("Ping: Teleport is unreachable")
    assert f" and https://{addr}/webapi/find is unreachable (" in text


def test_an_expired_identity_is_not_masked_by_the_proxy_path(teleport, proxy, tmp_path):
    now = dt.datetime.now(dt.UTC)
    creds = teleport.pki.issue_client(
        not_before=now - dt.timedelta(hours=2), not_after=now - dt.timedelta(hours=1)
    )
    path = write_identity_file(tmp_path / "id", creds, teleport.cluster_name)
    with pytest.raises(CredentialsError) as err:
        _connect(TeleportConfig(addr=proxy.address, identity=str(path)))
    assert str(err.value) == EXPIRED_MESSAGE
