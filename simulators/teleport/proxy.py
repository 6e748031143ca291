"""A Teleport Proxy stand-in in front of the simulated Auth: TLS routing, /webapi/find, the
WebSocket connection upgrade, and switches for "TLS routing off" and "behind an L7 LB".

Like Teleport's Proxy, it reads the TLS ClientHello *without terminating it*: a connection
offering ALPN ``teleport-auth@<hex cluster>.teleport.cluster.local`` for this cluster is
forwarded byte for byte to Auth (so the client's TLS session, and its certificate checks,
are end to end with Auth); other ``teleport-auth@`` routes are closed. Anything else gets
TLS with the Proxy's own "public" certificate (``localhost``/127.0.0.1, issued by a
separate public CA that tests trust through REQUESTS_CA_BUNDLE) and a tiny HTTP/1.1 server.

Threads: one accept loop, one thread per connection (two for a raw forward). Sockets are
plain except the terminated TLS ones, which only ever one thread touches.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import select
import socket
import socketserver
import ssl
import struct
import threading
import time
from pathlib import Path

from simulators.base import SimulatorServer
from simulators.teleport.certs import API_DOMAIN, ClusterPKI
from simulators.teleport.public_tls import public_pki, public_server_context

__all__ = ["ProxySimulator", "parse_client_hello"]

ROUTE_PREFIX = "teleport-auth@"
REVERSE_TUNNEL_ALPN = "teleport-reversetunnel"
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def parse_client_hello(data: bytes) -> tuple[str, list[str]] | None:
    """(SNI, ALPN list) from the first TLS record; None unless it is a whole ClientHello."""
    if len(data) < 5 or data[0] != 0x16:
        return None
    end = 5 + struct.unpack("!H", data[3:5])[0]
    body = data[5:end]
    if len(data) < end or len(body) < 42 or body[0] != 0x01:
        return None
    pos = 4 + 2 + 32  # handshake header, client_version, random
    pos += 1 + body[pos]  # session id
    pos += 2 + struct.unpack("!H", body[pos : pos + 2])[0]  # cipher suites
    pos += 1 + body[pos]  # compression methods
    sni, alpn = "", list[str]()
    if pos + 2 > len(body):
        return sni, alpn
    ext_end = pos + 2 + struct.unpack("!H", body[pos : pos + 2])[0]
    pos += 2
    while pos + 4 <= min(ext_end, len(body)):
        kind, size = struct.unpack("!HH", body[pos : pos + 4])
        ext = body[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if kind == 0 and len(ext) > 5:  # server_name: list len, type, name len, name
            sni = ext[5 : 5 + struct.unpack("!H", ext[3:5])[0]].decode("ascii", "replace")
        elif kind == 16:  # ALPN: list len, then length-prefixed names
            i = 2
            while i < len(ext):
                alpn.append(ext[i + 1 : i + 1 + ext[i]].decode("ascii", "replace"))
                i += 1 + ext[i]
    return sni, alpn


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy a → b until either side ends, then shut both (wakes the opposite copier)."""
    with contextlib.suppress(OSError):
        while data := a.recv(65536):
            b.sendall(data)
    for s in (a, b):
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def _read_ws_frame(sock: socket.socket) -> tuple[int, bytes]:
    b0, b1 = _recv_exact(sock, 2)
    n = b1 & 0x7F
    if n >= 126:
        n = int.from_bytes(_recv_exact(sock, 2 if n == 126 else 8), "big")
    key = _recv_exact(sock, 4) if b1 & 0x80 else b""
    data = _recv_exact(sock, n)
    if key:
        data = bytes(c ^ key[i % 4] for i, c in enumerate(data))
    return b0 & 0x0F, data


def _ws_frame(opcode: int, data: bytes) -> bytes:
    n = len(data)
    size = struct.pack("!B", n) if n < 126 else struct.pack("!BH", 126, n)
    return bytes([0x80 | opcode]) + (struct.pack("!BQ", 127, n) if n >= 1 << 16 else size) + data


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # restart() rebinds the same port despite TIME_WAIT
    daemon_threads = True
    proxy: ProxySimulator


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.proxy._handle(self.request)


class ProxySimulator(SimulatorServer):
    """The Proxy; ``address`` is what a Teleport Cloud user would put in ``[teleport] addr``.

    Switches (plain attributes, may be flipped while running, apply to new connections):
    ``tls_routing`` (False: find says so, and routes are closed) and ``l7_mode`` (True: act
    like an L7 load balancer: every TLS session ends here, ALPN is never negotiated, only
    HTTP including the connection upgrade gets through).
    """

    def __init__(
        self,
        auth_addr: str,
        pki: ClusterPKI,
        *,
        tls_routing: bool = True,
        l7_mode: bool = False,
        server_version: str = "17.4.2",
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host)
        self.auth_addr = auth_addr
        self.cluster_name = pki.cluster_name
        self.tls_routing = tls_routing
        self.l7_mode = l7_mode
        self.server_version = server_version
        self.public_ca_pem, cert_pem, key_pem = public_pki()
        self._public_chain = cert_pem + key_pem
        self._ctx = public_server_context(self._public_chain)
        self._ctx.set_alpn_protocols(["http/1.1"])  # never h2 and never a route: we're HTTP
        # TLS routing of the SSH reverse tunnel (what the Go client's tlsRoutingConnect asks
        # for): TLS ends here with the public certificate, SSH inside goes to the tunnel.
        self._tunnel_ctx = public_server_context(self._public_chain)
        self._tunnel_ctx.set_alpn_protocols([REVERSE_TUNNEL_ALPN])
        # Guards _live and routed: connection threads add sockets and count routes while
        # stop() (test thread) shuts them all down.
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self.routed = 0  # connections forwarded to Auth (tests assert the path was used)
        # Separate listeners mode: the port of the SSH reverse tunnel listener advertised by
        # /webapi/find (a ReverseTunnelSimulator); its host is our public address's.
        self.tunnel_port: int | None = None
        # With TLS routing: where ALPN teleport-reversetunnel connections go (host:port of a
        # ReverseTunnelSimulator), and a switch refusing teleport-auth@ routes.
        self.reverse_tunnel_addr = ""
        self.auth_routing = True

    def public_server_context(self) -> ssl.SSLContext:
        """A server context with this Proxy's public certificate (localhost/127.0.0.1), for
        test servers that must pass the same trust check (e.g. an https:// forward proxy)."""
        return public_server_context(self._public_chain)

    def write_public_ca(self, path: str | os.PathLike[str]) -> Path:
        """Write the public CA (for REQUESTS_CA_BUNDLE) and return its path."""
        target = Path(path)
        target.write_bytes(self.public_ca_pem)
        return target

    # -- lifecycle --------------------------------------------------------------------------
    def _open(self, port: int) -> tuple[_Server, int]:
        server = _Server((self.host, port), _Handler)
        server.proxy = self
        threading.Thread(
            target=server.serve_forever, args=(0.05,), name="sim-proxy", daemon=True
        ).start()
        return server, server.server_address[1]

    def _close(self, server: _Server) -> None:
        """Stop listening and cut every open connection (clients see their streams fail)."""
        with self._lock:
            live, self._live = list(self._live), set()
        server.shutdown()
        server.server_close()
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _track(self, sock: socket.socket, mine: list[socket.socket]) -> None:
        mine.append(sock)
        with self._lock:
            self._live.add(sock)

    # -- connections ------------------------------------------------------------------------
    def _peek_hello(self, sock: socket.socket) -> bytes:
        """The first TLS record, left unread in the socket (MSG_PEEK) for forwarding."""
        sock.settimeout(5)
        data = sock.recv(16389, socket.MSG_PEEK)
        for _ in range(1000):  # up to 5 s for the rest of a split ClientHello (rare on loopback)
            if len(data) < 5 or len(data) >= 5 + struct.unpack("!H", data[3:5])[0]:
                break
            time.sleep(0.005)
            data = sock.recv(16389, socket.MSG_PEEK)
        sock.settimeout(None)
        return data

    def _route_ok(self, alpn: list[str]) -> bool:
        """Does the ALPN list ask for this cluster's Auth (with routing on)?"""
        route = next((p for p in alpn if p.startswith(ROUTE_PREFIX)), "")
        hexname = route[len(ROUTE_PREFIX) :].removesuffix("." + API_DOMAIN)
        try:
            cluster = bytes.fromhex(hexname).decode()
        except ValueError:
            return False
        return self.tls_routing and cluster == self.cluster_name

    def _handle(self, sock: socket.socket) -> None:
        mine: list[socket.socket] = []  # this connection's sockets, closed when it ends
        try:
            self._dispatch(sock, mine)
        finally:
            with self._lock:
                self._live.difference_update(mine)
            for s in mine:
                with contextlib.suppress(OSError):
                    s.close()

    def _dispatch(self, sock: socket.socket, mine: list[socket.socket]) -> None:
        self._track(sock, mine)
        try:
            hello = parse_client_hello(self._peek_hello(sock))
        except OSError:
            return
        alpn = hello[1] if hello else None
        if alpn is None:
            return  # not TLS: a real Proxy would close too
        if not self.l7_mode and any(p.startswith(ROUTE_PREFIX) for p in alpn):
            if self._route_ok(alpn) and self.auth_routing:
                self._forward(sock, mine)
            return  # unknown cluster, bad hex, or routing off: close, as Teleport does
        if REVERSE_TUNNEL_ALPN in alpn and not self.l7_mode:
            if self.tls_routing and self.reverse_tunnel_addr:
                self._to_reverse_tunnel(sock, mine)
            return
        try:
            tls = self._ctx.wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError):
            return  # e.g. grpcio probing us: it rejects the public certificate
        self._track(tls, mine)
        with contextlib.suppress(OSError, ConnectionError, ValueError):
            self._serve_http(tls, mine)

    def _dial_auth(self, mine: list[socket.socket]) -> socket.socket:
        host, port = self.auth_addr.rsplit(":", 1)
        auth = socket.create_connection((host, int(port)), timeout=5)
        auth.settimeout(None)
        self._track(auth, mine)
        return auth

    def _forward(self, sock: socket.socket, mine: list[socket.socket]) -> None:
        """Raw bytes both ways; the ClientHello is still unread in `sock`, so Auth gets it."""
        try:
            auth = self._dial_auth(mine)
        except OSError:
            return
        with self._lock:
            self.routed += 1
        back = threading.Thread(target=_pipe, args=(auth, sock), daemon=True)
        back.start()
        _pipe(sock, auth)
        back.join()

    def _to_reverse_tunnel(self, sock: socket.socket, mine: list[socket.socket]) -> None:
        """End TLS (ALPN teleport-reversetunnel) and pipe the SSH inside to the tunnel.

        One thread does both directions (select): an SSLSocket must not be read and written
        by two threads at once."""
        try:
            tls = self._tunnel_ctx.wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError):
            return
        self._track(tls, mine)
        host, port = self.reverse_tunnel_addr.rsplit(":", 1)
        try:
            ssh = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            return
        ssh.settimeout(None)
        # Small SSH packets both ways: without NODELAY, Nagle and delayed ACKs add ~40 ms.
        for end in (tls, ssh):  # `sock` itself is detached by wrap_socket
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._track(ssh, mine)
        with self._lock:
            self.routed += 1
        with contextlib.suppress(OSError, ssl.SSLError):
            while True:
                ready = [tls] if tls.pending() else select.select([tls, ssh], [], [])[0]
                if tls in ready:
                    data = tls.recv(65536)
                    if not data:
                        return
                    ssh.sendall(data)
                if ssh in ready:
                    data = ssh.recv(65536)
                    if not data:
                        return
                    tls.sendall(data)

    def _serve_http(self, tls: ssl.SSLSocket, mine: list[socket.socket]) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = tls.recv(4096)
            if not chunk:
                return
            head += chunk
        request, *lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        method, path = [*request.split(), "", ""][:2]
        if method == "GET" and path.split("?")[0] == "/webapi/find":
            body = json.dumps(self.find_response()).encode()
            tls.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
        elif path == "/webapi/connectionupgrade" and "websocket" in headers.get("upgrade", ""):
            key = headers.get("sec-websocket-key", "")
            digest = hashlib.sha1((key + _WS_GUID).encode()).digest()  # noqa: S324 (RFC 6455)
            tls.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Protocol: alpn\r\n"
                + f"Sec-WebSocket-Accept: {base64.b64encode(digest).decode()}\r\n\r\n".encode()
            )
            self._tunnel(tls, mine)
        else:
            tls.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def _tunnel(self, tls: ssl.SSLSocket, mine: list[socket.socket]) -> None:
        """WebSocket frames ↔ Auth, after routing the ClientHello found inside the frames.

        One thread does both directions (select), because an SSLSocket must not be read and
        written by two threads at once.
        """
        first = b""
        while (hello := parse_client_hello(first)) is None and len(first) < 65536:
            opcode, data = _read_ws_frame(tls)
            if opcode == 8:
                return
            first += data
        if hello is None or not self._route_ok(hello[1]):
            return
        auth = self._dial_auth(mine)
        auth.sendall(first)
        with self._lock:
            self.routed += 1
        while True:
            ready = [tls] if tls.pending() else select.select([tls, auth], [], [])[0]
            if tls in ready:
                opcode, data = _read_ws_frame(tls)
                if opcode == 8:
                    return
                if opcode == 9:
                    tls.sendall(_ws_frame(10, data))
                elif data:
                    auth.sendall(data)
            if auth in ready:
                data = auth.recv(65536)
                if not data:
                    return
                tls.sendall(_ws_frame(2, data))

    def find_response(self) -> dict:
        """The shape of Teleport's /webapi/find answer (webclient.PingResponse), trimmed."""
        tunnel = f"0.0.0.0:{self.tunnel_port or 3024}"
        ssh = {"listen_addr": "0.0.0.0:3023", "tunnel_listen_addr": tunnel}
        ssh |= {"web_listen_addr": "0.0.0.0:3080", "public_addr": self.address}
        proxy = {"kube": {"enabled": False}, "ssh": ssh, "db": {}}
        return {
            "auth": {"type": "local", "second_factor": "on", "local": {"name": ""}},
            "proxy": proxy | {"tls_routing_enabled": self.tls_routing},
            "server_version": self.server_version,
            "min_client_version": f"{int(self.server_version.split('.')[0]) - 1}.0.0",
            "cluster_name": self.cluster_name,
            "automatic_upgrades": False,
        }
