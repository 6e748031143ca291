"""`GET https://<proxy>/webapi/find`: which cluster a Proxy serves and whether it routes TLS.

The call carries no client certificate, so it is verified against public roots like any
website: the system trust store, or a bundle named by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE /
SSL_CERT_FILE (corporate CAs, and the simulator's "public" CA in tests). HTTPS_PROXY and
NO_PROXY are honoured by requests itself.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
from pathlib import Path

import requests

from teleportbridge.teleport.errors import TeleportUnavailable

FIND_PATH = "/webapi/find"
_TRUST_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


class FindUnreachable(TeleportUnavailable):
    """No Teleport Proxy answered /webapi/find at this address (it may be an Auth server)."""


@dataclasses.dataclass(frozen=True)
class ProxyInfo:
    """The parts of the find response the bridge acts on."""

    cluster_name: str
    tls_routing_enabled: bool
    server_version: str
    public_addr: str
    # webclient.SSHProxySettings: where the reverse tunnel is (Proxies without TLS routing).
    ssh_public_addr: str = ""
    tunnel_public_addr: str = ""
    tunnel_listen_addr: str = ""


def public_trust(override: str | None = None) -> str | bool:
    """The CA bundle (file or directory) that verifies the Proxy's public certificate.

    One answer for both requests and the WebSocket upgrade, so the two can never disagree.
    Default: OpenSSL's system store (what Go's system roots are); True (certifi) only when
    the system has none.
    """
    if override:
        return override
    for name in _TRUST_ENV:
        if os.environ.get(name):
            return os.environ[name]
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.capath):
        if candidate and Path(candidate).exists():
            return candidate
    return True


def public_ssl_context(trust: str | bool) -> ssl.SSLContext:
    """An ssl context verifying public certificates with the same trust as `find_proxy`."""
    if isinstance(trust, str) and Path(trust).is_dir():
        return ssl.create_default_context(capath=trust)
    if isinstance(trust, str):
        return ssl.create_default_context(cafile=trust)
    import certifi  # requests' own fallback bundle

    return ssl.create_default_context(cafile=certifi.where())


def find_url(addr: str) -> str:
    return f"https://{addr}{FIND_PATH}"


def _one_line(exc: BaseException) -> str:
    """requests nests urllib3 errors several levels deep; keep the innermost reason."""
    inner: BaseException = exc
    while inner.__context__ is not None and inner.__context__ is not inner:
        inner = inner.__context__
    text = str(inner) or type(inner).__name__
    return " ".join(text.split())


def find_proxy(addr: str, *, timeout: float = 5.0, public_ca: str | None = None) -> ProxyInfo:
    """Ask the Proxy at `addr` (host:port) about itself; FindUnreachable when it cannot."""
    url = find_url(addr)
    try:
        resp = requests.get(url, timeout=timeout, verify=public_trust(public_ca))
    except requests.exceptions.SSLError as exc:
        raise FindUnreachable(
            f"TLS: {_one_line(exc)}; if the Proxy's certificate comes from a private CA, "
            "name it in REQUESTS_CA_BUNDLE"
        ) from None
    except requests.RequestException as exc:
        raise FindUnreachable(_one_line(exc)) from None
    if resp.status_code != 200:
        raise FindUnreachable(f"HTTP {resp.status_code}")
    try:
        body = resp.json()
        proxy = body.get("proxy") or {}
        ssh = proxy.get("ssh") or {}
        info = ProxyInfo(
            cluster_name=str(body.get("cluster_name") or ""),
            tls_routing_enabled=bool(proxy.get("tls_routing_enabled", False)),
            server_version=str(body.get("server_version") or ""),
            public_addr=str(ssh.get("public_addr") or ""),
            ssh_public_addr=str(ssh.get("ssh_public_addr") or ""),
            tunnel_public_addr=str(ssh.get("ssh_tunnel_public_addr") or ""),
            tunnel_listen_addr=str(ssh.get("tunnel_listen_addr") or ""),
        )
    except (ValueError, AttributeError):
        raise FindUnreachable("the answer is not a Teleport Proxy's JSON") from None
    if not info.cluster_name:
        raise FindUnreachable("the answer names no cluster_name") from None
    return info
