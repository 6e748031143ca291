"""Auth through the Proxy's SSH reverse tunnel: a Proxy web address without TLS routing, and
the tunnel port itself, with the identity file's SSH certificate; the refusals say why in
one line."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from simulators.teleport.certs import make_cluster, write_identity_file, write_tls_triple
from simulators.teleport.ssh_tunnel import ReverseTunnelSimulator
from teleportbridge.config import TeleportConfig
from teleportbridge.teleport.client import TeleportClient
from teleportbridge.teleport.errors import CredentialsError, HandshakeError, TeleportUnavailable
from teleportbridge.teleport.identity import load_identity_file, load_tls_triple
from teleportbridge.teleport.proto import authservice_pb2 as pb
from teleportbridge.teleport.proxy.find import ProxyInfo
from teleportbridge.teleport.proxy.ssh_tunnel import (
    PATH_SSH_ALPN,
    PATH_SSH_PROXY,
    PATH_SSH_TUNNEL,
    tunnel_addr,
)
from tests.proxy.conftest import make_dialer


def identity_at(addr: str, teleport, tmp_path, name: str = "identity") -> TeleportConfig:
    path = write_identity_file(tmp_path / name, teleport.pki.issue_client(), teleport.cluster_name)
    return TeleportConfig(addr=addr, identity=str(path))


def test_an_identity_file_keeps_its_ssh_parts_and_a_triple_has_none(teleport, tmp_path):
    creds = teleport.pki.issue_client()
    identity = load_identity_file(str(write_identity_file(tmp_path / "id", creds, "c")))
    assert identity.ssh_cert == creds.ssh_cert and identity.has_ssh
    assert identity.ssh_cas == (creds.ssh_ca,)
    triple = load_tls_triple(*map(str, write_tls_triple(tmp_path / "tls", creds)))
    assert not triple.has_ssh


@pytest.mark.parametrize("where", ["web address", "tunnel port"])
def test_it_watches_through_the_reverse_tunnel(
    where, teleport, separate, tunnel, tmp_path, opened, caplog
):
    addr = separate.address if where == "web address" else tunnel.address
    dialer = make_dialer(identity_at(addr, teleport, tmp_path))
    conn, ping = dialer.connect()
    opened.append(conn)
    assert ping.ClusterName == teleport.cluster_name
    assert conn.path == (PATH_SSH_PROXY if where == "web address" else PATH_SSH_TUNNEL)
    stream = TeleportClient(conn).watch()
    try:
        assert next(stream).Type == pb.INIT
        rid = teleport.create_request(user="alice")
        assert next(stream).AccessRequest.Metadata.Name == rid
    finally:
        stream.cancel()
    assert tunnel.dials >= 2  # the probe session, then grpcio's own connection
    chosen = [r.getMessage() for r in caplog.records if "Connected to Teleport" in r.getMessage()]
    assert len(chosen) == 1 and f"reverse tunnel at {tunnel.address}" in chosen[0]


def test_a_dropped_tunnel_is_a_dropped_stream_and_the_same_path_resyncs(
    teleport, separate, tunnel, tmp_path, opened
):
    dialer = make_dialer(identity_at(separate.address, teleport, tmp_path))
    conn, _ = dialer.connect()
    opened.append(conn)
    stream = TeleportClient(conn).watch()
    assert next(stream).Type == pb.INIT
    assert tunnel.drop_tunnels() >= 1
    with pytest.raises(grpc.RpcError):
        next(stream)  # fails instead of hanging
    missed = teleport.create_request(user="bob")
    conn2, _ = dialer.connect()
    opened.append(conn2)
    assert conn2.path == PATH_SSH_PROXY
    names = {r.Metadata.Name for r in TeleportClient(conn2).list_access_requests()}
    assert missed in names


def test_auth_away_behind_a_remembered_tunnel_is_retried(teleport, tunnel, tmp_path, opened):
    dialer = make_dialer(identity_at(tunnel.address, teleport, tmp_path))
    conn, _ = dialer.connect()
    conn.close()
    tunnel.refuse_dial = True
    with pytest.raises(TeleportUnavailable) as err:
        dialer.connect()
    assert "could not reach the Auth Service (failed to dial auth server" in str(err.value)


def test_an_unknown_host_ca_is_refused_in_one_line(teleport, tmp_path):
    stranger = make_cluster("stranger.example.com")
    sim = ReverseTunnelSimulator(teleport.address, teleport.pki, host_ca_key=stranger.ca_key)
    with sim as t, pytest.raises(HandshakeError) as err:
        make_dialer(identity_at(t.address, teleport, tmp_path)).connect()
    text = str(err.value)
    assert "\n" not in text
    assert "SSH host certificate that the identity's host CAs (@cert-authority lines)" in text
    assert t.logins == 0  # refused before we authenticate


def test_a_user_certificate_of_another_ca_is_refused(teleport, tmp_path):
    stranger = make_cluster("stranger.example.com")
    sim = ReverseTunnelSimulator(teleport.address, teleport.pki, user_ca=stranger)
    with sim as t, pytest.raises(HandshakeError) as err:
        make_dialer(identity_at(t.address, teleport, tmp_path)).connect()
    assert "refused the identity's SSH certificate" in str(err.value)


def test_a_tls_triple_is_told_it_needs_an_identity_file(teleport, separate, tmp_path):
    key, crt, cas = write_tls_triple(tmp_path / "tls", teleport.pki.issue_client())
    cfg = TeleportConfig(
        addr=separate.address, client_key=str(key), client_crt=str(crt), root_cas=str(cas)
    )
    with pytest.raises(CredentialsError) as err:
        make_dialer(cfg).connect()
    text = str(err.value)
    assert "\n" not in text and "without TLS routing" in text and "no SSH certificate" in text


def test_a_refreshed_identity_is_used_for_new_tunnel_connections(
    teleport, tunnel, tmp_path, opened
):
    cfg = identity_at(tunnel.address, teleport, tmp_path)
    cfg = dataclasses.replace(cfg, refresh_identity=True, refresh_identity_interval=timedelta(0))
    dialer = make_dialer(cfg)
    conn, _ = dialer.connect()
    conn.close()
    stranger = make_cluster("stranger.example.com")
    # A renewal signed by another cluster: the next connection uses it, and is refused.
    write_identity_file(cfg.identity, stranger.issue_client(), stranger.cluster_name)
    with pytest.raises(HandshakeError):
        dialer.connect()


def test_the_tunnel_address_follows_the_go_clients_preference(monkeypatch):
    info = ProxyInfo("c", False, "17.0.0", public_addr="web.example.com:443")
    assert tunnel_addr("10.0.0.1:3080", info) == "web.example.com:3024"
    info = dataclasses.replace(info, tunnel_listen_addr="0.0.0.0:4024")
    assert tunnel_addr("10.0.0.1:3080", info) == "web.example.com:4024"
    info = dataclasses.replace(info, ssh_public_addr="ssh.example.com:3023")
    assert tunnel_addr("10.0.0.1:3080", info) == "ssh.example.com:4024"
    info = dataclasses.replace(info, tunnel_public_addr="tunnel.example.com:443")
    assert tunnel_addr("10.0.0.1:3080", info) == "tunnel.example.com:443"
    monkeypatch.setenv("TELEPORT_TUNNEL_PUBLIC_ADDR", "override.example.com:5024")
    assert tunnel_addr("10.0.0.1:3080", info) == "override.example.com:5024"
    monkeypatch.delenv("TELEPORT_TUNNEL_PUBLIC_ADDR")
    bare = ProxyInfo("c", False, "17.0.0", public_addr="")
    assert tunnel_addr("10.0.0.1:3080", bare) == "10.0.0.1:3024"


def test_a_tls_routing_proxy_that_will_not_route_to_auth_is_entered_by_alpn_ssh(
    teleport, proxy, tunnel, identity_cfg, opened
):
    """The Go client's tlsRoutingConnect: TLS with ALPN teleport-reversetunnel to the web
    address, SSH inside it."""
    proxy.auth_routing = False  # teleport-auth@ routes are closed
    proxy.reverse_tunnel_addr = tunnel.address
    dialer = make_dialer(identity_cfg)
    conn, _ = dialer.connect()
    opened.append(conn)
    assert conn.path == PATH_SSH_ALPN
    assert "ALPN teleport-reversetunnel" in dialer.description
    before = tunnel.dials
    TeleportClient(conn).list_access_requests()
    assert tunnel.dials > before or tunnel.dials >= 2
    proxy.reverse_tunnel_addr = ""  # and without that way either: the routing error stays
    with pytest.raises(HandshakeError) as err:
        make_dialer(identity_cfg).connect()
    assert "closed the TLS routing connection" in str(err.value)


def test_a_host_certificate_for_another_name_is_refused_in_one_line(teleport, tmp_path):
    sim = ReverseTunnelSimulator(teleport.address, teleport.pki, principals=("proxy.example.com",))
    with sim as t, pytest.raises(HandshakeError) as err:
        make_dialer(identity_at(t.address, teleport, tmp_path)).connect()
    text = str(err.value)
    assert "\n" not in text and "host certificate does not name 127.0.0.1" in text


def test_starting_the_bridge_does_not_import_asyncssh():
    """Importing asyncssh runs ldconfig/gcc/ld child processes (it looks for optional C
    libraries): runwatcher must not pay that, nor have children before its signal handlers
    exist, unless an SSH path is actually used."""
    code = (
        "import django, sys; django.setup(); "
        "import bridge.service, teleportbridge.teleport.dialer, "
        "bridge.management.commands.runwatcher; "
        "print('asyncssh' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "bridge.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_every_path_name_fits_the_watcher_state_column():
    from teleportbridge.models import WatcherState

    limit = WatcherState._meta.get_field("connection_path").max_length
    assert all(len(p) <= limit for p in (PATH_SSH_ALPN, PATH_SSH_PROXY, PATH_SSH_TUNNEL))
