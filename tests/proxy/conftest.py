"""Fixtures: a simulated Auth with the simulated Proxy in front, and plugin credentials.

The Proxy's "public" CA is trusted the way an operator would trust a private one:
REQUESTS_CA_BUNDLE (read by the bridge for /webapi/find and the WebSocket upgrade).
"""

from __future__ import annotations

import pytest

from simulators.teleport.certs import write_identity_file, write_tls_triple
from simulators.teleport.proxy import ProxySimulator
from simulators.teleport.ssh_tunnel import ReverseTunnelSimulator
from teleportbridge.config import TeleportConfig
from teleportbridge.teleport.connection import Connection
from teleportbridge.teleport.dialer import Dialer
from teleportbridge.teleport.identity import CredentialSource


@pytest.fixture
def proxy(teleport, tmp_path, monkeypatch):
    with ProxySimulator(
        teleport.address, teleport.pki, server_version=teleport.server_version
    ) as p:
        ca = p.write_public_ca(tmp_path / "public-ca.pem")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
        yield p


@pytest.fixture
def tunnel(teleport):
    """The Proxy's SSH reverse tunnel listener (3024) in front of the simulated Auth."""
    with ReverseTunnelSimulator(teleport.address, teleport.pki) as t:
        yield t


@pytest.fixture
def separate(proxy, tunnel):
    """The Proxy in separate listeners mode: find says no TLS routing, names the tunnel."""
    proxy.tls_routing = False
    proxy.tunnel_port = tunnel.port
    return proxy


@pytest.fixture
def identity_cfg(teleport, proxy, tmp_path) -> TeleportConfig:
    """[teleport] with addr = the Proxy and an identity file, as for Teleport Cloud."""
    path = write_identity_file(
        tmp_path / "identity", teleport.pki.issue_client(), teleport.cluster_name
    )
    return TeleportConfig(addr=proxy.address, identity=str(path))


@pytest.fixture
def triple_cfg(teleport, proxy, tmp_path) -> TeleportConfig:
    key, crt, cas = write_tls_triple(tmp_path / "tls", teleport.pki.issue_client())
    return TeleportConfig(
        addr=proxy.address, client_key=str(key), client_crt=str(crt), root_cas=str(cas)
    )


@pytest.fixture
def opened():
    """Connections a test opened; closed (bridges stopped) after it."""
    conns: list[Connection] = []
    yield conns
    for conn in conns:
        conn.close()


def make_dialer(cfg: TeleportConfig, **kw) -> Dialer:
    return Dialer(cfg, CredentialSource(cfg), probe_timeout=kw.pop("probe_timeout", 3.0), **kw)
