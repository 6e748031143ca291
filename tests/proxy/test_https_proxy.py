"""HTTPS_PROXY: /webapi/find and the routed sessions go through an HTTP CONNECT proxy, and
NO_PROXY exempts hosts (as Teleport's Go dialers do)."""

from __future__ import annotations

import base64
import contextlib
import socket
import socketserver
import ssl
import threading

import pytest

from teleportbridge.teleport.client import TeleportClient
from teleportbridge.teleport.errors import TeleportError
from teleportbridge.teleport.proxy.route import PATH_TLS_ROUTING, PATH_UPGRADE
from teleportbridge.teleport.proxy.ssh_tunnel import PATH_SSH_PROXY
from tests.proxy.conftest import make_dialer


class _ConnectProxy(socketserver.ThreadingTCPServer):
    """A forward proxy that only does CONNECT, and records each target."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls: ssl.SSLContext | None = None, credentials: str = "") -> None:
        super().__init__(("127.0.0.1", 0), _ConnectHandler)
        self.tls = tls  # an https:// proxy: TLS to the proxy, then CONNECT inside it
        self.credentials = credentials  # "user:password" the proxy demands (Basic), if any
        self.targets: list[str] = []
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True)
        return sock, addr


class _ConnectHandler(socketserver.StreamRequestHandler):
    server: _ConnectProxy

    def handle(self) -> None:
        line = self.rfile.readline().decode()
        headers = []
        while (header := self.rfile.readline()) not in (b"\r\n", b""):
            headers.append(header.decode().strip())
        method, target, _ = line.split(" ", 2)
        if method != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        if self.server.credentials:
            token = base64.b64encode(self.server.credentials.encode()).decode()
            if f"Proxy-Authorization: Basic {token}" not in headers:
                self.wfile.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                return
        self.server.targets.append(target)
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host.strip("[]"), int(port))) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            a, b = self.connection, upstream

            def pipe(src: socket.socket, dst: socket.socket) -> None:
                with contextlib.suppress(OSError):
                    while data := src.recv(65536):
                        dst.sendall(data)
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

            back = threading.Thread(target=pipe, args=(b, a), daemon=True)
            back.start()
            pipe(a, b)
            back.join()


@pytest.fixture
def forward_proxy():
    server = _ConnectProxy()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def auth_forward_proxy():
    server = _ConnectProxy(credentials="bridge:s3cr%t")
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def tls_forward_proxy(proxy):
    server = _ConnectProxy(tls=proxy.public_server_context())
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("l7", [False, True])
def test_everything_goes_through_https_proxy(
    proxy, identity_cfg, forward_proxy, monkeypatch, opened, l7
):
    proxy.l7_mode = l7
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{forward_proxy.server_address[1]}")
    conn, _ = make_dialer(identity_cfg).connect()
    opened.append(conn)
    assert conn.path == (PATH_UPGRADE if l7 else PATH_TLS_ROUTING)
    tunnels = len(forward_proxy.targets)
    TeleportClient(conn).list_access_requests()
    assert set(forward_proxy.targets) == {proxy.address}
    assert tunnels >= 2  # /webapi/find and at least one routed session


def test_no_proxy_exempts_the_proxy_host(proxy, identity_cfg, forward_proxy, monkeypatch, opened):
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{forward_proxy.server_address[1]}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    conn, _ = make_dialer(identity_cfg).connect()
    opened.append(conn)
    assert forward_proxy.targets == []


def test_an_https_forward_proxy_is_spoken_to_over_tls(
    proxy, identity_cfg, tls_forward_proxy, monkeypatch, opened
):
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    # localhost: the name on the certificate (trusted via REQUESTS_CA_BUNDLE, as /webapi/find).
    monkeypatch.setenv("HTTPS_PROXY", f"https://localhost:{tls_forward_proxy.server_address[1]}")
    conn, _ = make_dialer(identity_cfg).connect()
    opened.append(conn)
    assert conn.path == PATH_TLS_ROUTING
    TeleportClient(conn).list_access_requests()
    assert set(tls_forward_proxy.targets) == {proxy.address}


@pytest.mark.parametrize(("userinfo", "ok"), [("bridge:s3cr%25t@", True), ("", False)])
def test_forward_proxy_credentials_come_from_the_url(
    proxy, identity_cfg, auth_forward_proxy, monkeypatch, opened, userinfo, ok
):
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    port = auth_forward_proxy.server_address[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://{userinfo}127.0.0.1:{port}")
    if ok:  # percent-escapes in the URL are decoded before Basic encoding
        conn, _ = make_dialer(identity_cfg).connect()
        opened.append(conn)
        TeleportClient(conn).list_access_requests()
        assert set(auth_forward_proxy.targets) == {proxy.address}
    else:
        with pytest.raises(TeleportError) as err:
            make_dialer(identity_cfg).connect()
        assert "407" in str(err.value) and "\n" not in str(err.value)


def test_the_reverse_tunnel_goes_through_https_proxy_with_its_credentials(
    separate, tunnel, identity_cfg, auth_forward_proxy, monkeypatch, opened
):
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    port = auth_forward_proxy.server_address[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://bridge:s3cr%25t@127.0.0.1:{port}")
    conn, _ = make_dialer(identity_cfg).connect()
    opened.append(conn)
    assert conn.path == PATH_SSH_PROXY
    TeleportClient(conn).list_access_requests()
    assert tunnel.address in auth_forward_proxy.targets  # the SSH connections, via CONNECT
    assert tunnel.dials >= 2
