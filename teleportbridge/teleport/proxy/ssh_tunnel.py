"""Auth through a Proxy's SSH reverse tunnel: the path of Proxies without TLS routing.

What the Go plugins do (api/client `proxyConnect` / `tunnelConnect`), per connection:
SSH to the Proxy's reverse tunnel listener (3024) with the identity's SSH user certificate,
the Proxy's host certificate checked against the identity's `@cert-authority` lines; an
SSH channel `teleport-transport` whose one request `teleport-transport-dial` asks for
`@remote-auth-server`; then, inside the channel, TLS to Auth exactly as on the direct
path (client certificate, identity CAs, server name teleport.cluster.local, ALPN h2).

asyncssh (not paramiko) because it is asyncio: the SSH connection runs on the same
bridge loop thread as the other proxy paths (AlpnBridge), and it verifies OpenSSH host
certificates against CA keys itself. It has no public API for a custom channel type or
channel request, so `_open_transport` uses two internal methods of its channel class;
they are pinned with asyncssh in requirements.txt and covered by the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
from typing import Any

import asyncssh
from asyncssh.packet import String

from teleportbridge.teleport.connection import API_SERVER_NAME, Connection, unix_channel
from teleportbridge.teleport.errors import (
    CredentialsError,
    HandshakeError,
    TeleportError,
    TeleportUnavailable,
)
from teleportbridge.teleport.identity import Credentials, CredentialSource
from teleportbridge.teleport.proxy.alpn_bridge import AlpnBridge
from teleportbridge.teleport.proxy.find import ProxyInfo, public_ssl_context, public_trust
from teleportbridge.teleport.proxy.route import _ContextCache
from teleportbridge.teleport.proxy.streams import TlsStream, https_proxy_for, split_addr

log = logging.getLogger(__name__)
# asyncssh logs every connection and channel at INFO; our own lines say what matters.
logging.getLogger("asyncssh").setLevel(logging.WARNING)

CHAN_TRANSPORT = "teleport-transport"
TRANSPORT_DIAL_REQUEST = "teleport-transport-dial"
REMOTE_AUTH_SERVER = "@remote-auth-server"
ALPN_REVERSE_TUNNEL = "teleport-reversetunnel"
DEFAULT_TUNNEL_PORT = 3024
TUNNEL_ADDR_ENV = "TELEPORT_TUNNEL_PUBLIC_ADDR"

PATH_SSH_PROXY = "proxy (SSH reverse tunnel)"
PATH_SSH_TUNNEL = "reverse tunnel (SSH)"
PATH_SSH_ALPN = "proxy (SSH reverse tunnel over TLS routing)"

# SSH keepalives: a dead tunnel (a Proxy gone without a FIN) is noticed within ~90 s and
# becomes a dropped stream; grpcio's own keepalive covers the TLS session inside.
KEEPALIVE_INTERVAL = 30.0
KEEPALIVE_COUNT_MAX = 3


def _host_port(addr: str) -> tuple[str, str]:
    text = addr.split("://", 1)[-1].split("/", 1)[0]
    host, port = split_addr(text, default_port=0)
    return host, (str(port) if port else "")


def _join(host: str, port: str | int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def tunnel_addr(proxy_addr: str, info: ProxyInfo) -> str:
    """Where the reverse tunnel listens, in the Go client's order of preference:
    TELEPORT_TUNNEL_PUBLIC_ADDR, the Proxy's tunnel public address, then the host of its
    SSH or web public address (or of the address we dialled) with the tunnel port."""
    override = os.environ.get(TUNNEL_ADDR_ENV, "").strip()
    if override:
        host, port = _host_port(override)
        return _join(host, port or DEFAULT_TUNNEL_PORT)
    if info.tunnel_public_addr:
        host, port = _host_port(info.tunnel_public_addr)
        return _join(host, port or DEFAULT_TUNNEL_PORT)
    port = _host_port(info.tunnel_listen_addr)[1] if info.tunnel_listen_addr else ""
    port = port or str(DEFAULT_TUNNEL_PORT)
    for candidate in (info.ssh_public_addr, info.public_addr, proxy_addr):
        if candidate:
            return _join(_host_port(candidate)[0], port)
    return _join(_host_port(proxy_addr)[0], port)


def ssh_ca_keys(lines: tuple[str, ...]) -> list[asyncssh.SSHKey]:
    """The public keys of `@cert-authority <hosts> <type> <base64> [options]` lines."""
    keys = []
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        try:
            keys.append(asyncssh.import_public_key(f"{fields[2]} {fields[3]}"))
        except (asyncssh.KeyImportError, ValueError):
            continue
    return keys


class SshCredentials:
    """asyncssh's view of one credential set: client key + certificate, host CA keys."""

    def __init__(self, creds: Credentials) -> None:
        if not creds.has_ssh:
            raise CredentialsError(
                f"{creds.source} has no SSH certificate and host CA (a TLS triple never "
                "has): the SSH reverse tunnel path needs an identity file from "
                "`tctl auth sign --format=file` or tbot"
            )
        try:
            key = asyncssh.import_private_key(creds.key_pem)
            cert: Any = asyncssh.import_certificate(creds.ssh_cert)  # an OpenSSH certificate
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise CredentialsError(
                f"identity file {creds.source}: the SSH certificate cannot be used ({exc})"
            ) from None
        self.client_keys = [(key, cert)]
        # Like the Go client: the first principal, else the key id.
        self.username = (cert.principals[0] if cert.principals else "") or cert.key_id
        self.ca_keys = ssh_ca_keys(creds.ssh_cas)
        if not self.ca_keys:
            raise CredentialsError(
                f"identity file {creds.source}: no usable @cert-authority line, so the "
                "Proxy's SSH host certificate could not be verified"
            )


async def _connect_socket(host: str, port: int, timeout: float) -> socket.socket:
    """A connected non-blocking socket to host:port, through HTTPS_PROXY's HTTP CONNECT
    when it applies (the Go tunnel dialer honours it too)."""
    loop = asyncio.get_running_loop()
    proxy = https_proxy_for(host)
    target_host, target_port = (host, port) if proxy is None else (proxy.hostname, proxy.port)
    if proxy is not None and proxy.scheme == "https":
        raise TeleportUnavailable(
            "HTTPS_PROXY is an https:// forward proxy; the SSH reverse tunnel path can only "
            "go through an http:// one"
        )
    infos = await loop.getaddrinfo(target_host, target_port or 80, type=socket.SOCK_STREAM)
    last: OSError = OSError(f"cannot resolve {target_host}")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, address), timeout)
            break
        except (OSError, TimeoutError) as exc:
            sock.close()
            last = exc if isinstance(exc, OSError) else OSError(f"timed out after {timeout:g}s")
    else:
        raise last
    if proxy is None:
        return sock
    try:
        await _http_connect(sock, host, port, proxy, timeout)
    except BaseException:
        sock.close()
        raise
    return sock


async def _http_connect(sock: socket.socket, host: str, port: int, proxy, timeout: float):
    import base64
    import urllib.parse

    loop = asyncio.get_running_loop()
    target = _join(host, port)
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.username:
        user = urllib.parse.unquote(proxy.username)
        userinfo = f"{user}:{urllib.parse.unquote(proxy.password or '')}"
        lines.append("Proxy-Authorization: Basic " + base64.b64encode(userinfo.encode()).decode())
    await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""

    async def read_head() -> bytes:
        # One byte at a time: the SSH server speaks first, and its banner must stay in the
        # socket for asyncssh, so we may not read past the end of the CONNECT answer.
        data = b""
        while not data.endswith(b"\r\n\r\n"):
            chunk = await loop.sock_recv(sock, 1)
            if not chunk or len(data) > 16384:
                raise ConnectionError(f"HTTPS_PROXY {proxy.hostname} closed during CONNECT")
            data += chunk
        return data

    head = await asyncio.wait_for(read_head(), timeout)
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if len(status.split()) < 2 or status.split()[1] != "200":
        raise ConnectionError(f"HTTPS_PROXY {proxy.hostname} refused CONNECT {target}: {status}")


class _Carrier:
    """The asyncssh `tunnel` hook: how the SSH connection's bytes reach the Proxy (plain
    TCP, HTTP CONNECT, and TLS with ALPN teleport-reversetunnel when `tls` is set)."""

    def __init__(self, tls: ssl.SSLContext | None, timeout: float) -> None:
        self.tls = tls
        self.timeout = timeout

    async def create_connection(self, session_factory: Any, host: str, port: int) -> Any:
        sock = await _connect_socket(host, port, self.timeout)
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.create_connection(
                    session_factory,
                    sock=sock,
                    ssl=self.tls,
                    server_hostname=host if self.tls else None,
                ),
                self.timeout,
            )
        except BaseException:
            sock.close()
            raise


class _ChannelSession(asyncssh.SSHTCPSession[bytes]):
    """Receives the transport channel's data into a queue; stderr is the Proxy's reason
    when it refuses the dial request."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.stderr = b""

    def data_received(self, data: bytes, datatype: int | None) -> None:
        if datatype == asyncssh.EXTENDED_DATA_STDERR:
            self.stderr += data
        else:
            self.queue.put_nowait(data)

    def eof_received(self) -> bool:
        self.queue.put_nowait(b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.queue.put_nowait(b"")


class NoTunnel(TeleportUnavailable):
    """Nothing SSH answered (refused, closed, timed out, not SSH): before the first success
    the address is not a reverse tunnel; on a remembered path, the Proxy is away."""


class DialRefused(Exception):
    """The Proxy answered `teleport-transport-dial` with a failure."""


class TransportStream:
    """One `teleport-transport` channel as a ByteStream; closing it ends the SSH connection
    too (one SSH connection per gRPC connection, like the Go client's exclusive ChConn)."""

    def __init__(self, conn: asyncssh.SSHClientConnection, chan: Any, session: _ChannelSession):
        self._conn = conn
        self._chan = chan
        self._session = session

    async def read(self) -> bytes:
        data = await self._session.queue.get()
        if not data:
            self._session.queue.put_nowait(b"")  # stay at end of stream for later reads
        return data

    async def write(self, data: bytes) -> None:
        self._chan.write(data)

    def close(self) -> None:
        self._chan.close()
        self._conn.close()


async def _open_transport(conn: asyncssh.SSHClientConnection) -> TransportStream:
    """Open `teleport-transport` and ask it for `@remote-auth-server`."""
    chan = conn.create_tcp_channel()
    # Internal asyncssh API (see the module docstring): accept stderr on this channel (the
    # Proxy explains a refused dial there; a TCP channel would call it a protocol error),
    # open a channel of our own type and send a channel request that wants a reply.
    chan._read_datatypes = {asyncssh.EXTENDED_DATA_STDERR}
    session = await chan._open_forward(_ChannelSession, CHAN_TRANSPORT.encode())
    assert isinstance(session, _ChannelSession)
    payload = json.dumps({"address": REMOTE_AUTH_SERVER, "conn_type": "node"}).encode()
    ok = await chan._make_request(TRANSPORT_DIAL_REQUEST.encode(), String(payload))
    if not ok:
        await asyncio.sleep(0)  # let stderr sent before the failure reach the session
        reason = session.stderr.decode("utf-8", "replace").strip()
        chan.close()
        raise DialRefused(reason or f"failed connecting to {REMOTE_AUTH_SERVER}")
    return TransportStream(conn, chan, session)


class SshRoute:
    """Everything needed to open one TLS session with Auth through the reverse tunnel."""

    def __init__(
        self,
        tunnel: str,
        creds_source: CredentialSource,
        *,
        path: str,
        proxy_addr: str = "",
        alpn_tls: bool = False,
        timeout: float = 10.0,
        public_ca: str | None = None,
        reconnect: bool = False,
    ) -> None:
        self.tunnel = tunnel
        self.host, self.port = split_addr(tunnel, default_port=DEFAULT_TUNNEL_PORT)
        self.proxy_addr = proxy_addr or tunnel
        self.creds_source = creds_source
        self.path = path
        self.timeout = timeout
        self.reconnect = reconnect
        self.alpn_tls = alpn_tls
        self._public_ca = public_ca
        self._contexts = _ContextCache(None)
        self._ssh_for: tuple[Credentials, SshCredentials] | None = None

    def _ssh(self, creds: Credentials) -> SshCredentials:
        # Loop thread (or the probe before the bridge exists): one SshCredentials per
        # credential set, so a refreshed identity is used from the next connection on.
        if self._ssh_for is None or self._ssh_for[0] is not creds:
            self._ssh_for = (creds, SshCredentials(creds))
        return self._ssh_for[1]

    def _carrier(self) -> _Carrier:
        tls = None
        if self.alpn_tls:
            tls = public_ssl_context(public_trust(self._public_ca))
            tls.set_alpn_protocols([ALPN_REVERSE_TUNNEL])
        return _Carrier(tls, self.timeout)

    async def _ssh_connect(self, creds: Credentials) -> asyncssh.SSHClientConnection:
        ssh = self._ssh(creds)
        return await asyncio.wait_for(
            asyncssh.connect(
                self.host,
                self.port,
                tunnel=self._carrier(),
                username=ssh.username,
                client_keys=ssh.client_keys,
                # Trust only the identity's host CAs: no known_hosts file, no TOFU.
                known_hosts=([], ssh.ca_keys, []),
                agent_path=None,
                config=None,
                preferred_auth=["publickey"],
                keepalive_interval=KEEPALIVE_INTERVAL,
                keepalive_count_max=KEEPALIVE_COUNT_MAX,
                connect_timeout=self.timeout,
            ),
            self.timeout,
        )

    async def open(self) -> TlsStream:
        creds = self.creds_source.current()
        conn = await self._ssh_connect(creds)
        try:
            transport = await asyncio.wait_for(_open_transport(conn), self.timeout)
        except BaseException:
            conn.close()
            raise
        tls = TlsStream(transport, self._contexts.get(creds), API_SERVER_NAME)
        try:
            await tls.handshake(self.timeout)
        except BaseException:
            tls.close()
            raise
        return tls


def explain(exc: BaseException, route: SshRoute) -> TeleportError:
    """One line for why the reverse tunnel path failed, naming the address."""
    where = f"the Teleport reverse tunnel at {route.tunnel}"
    if isinstance(exc, TeleportError):
        return exc
    if isinstance(exc, asyncssh.HostKeyNotVerifiable) and "principal" in exc.reason:
        return HandshakeError(
            f"{where}: the Proxy's SSH host certificate does not name {route.host} "
            f"({exc.reason}): use the Proxy's public address (or set "
            f"{TUNNEL_ADDR_ENV} to it)"
        )
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return HandshakeError(
            f"{where} presented an SSH host certificate that the identity's host CAs "
            f"(@cert-authority lines) do not trust ({exc.reason}): the identity was signed by "
            "another cluster or its CA was rotated; sign a new identity"
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return HandshakeError(
            f"{where} refused the identity's SSH certificate: it is expired, revoked or from "
            "another cluster; sign a new identity"
        )
    if isinstance(exc, DialRefused):
        return TeleportUnavailable(
            f"{where} could not reach the Auth Service ({' '.join(str(exc).split())})"
        )
    if isinstance(exc, asyncssh.ChannelOpenError):
        return HandshakeError(
            f"{where} refused the {CHAN_TRANSPORT} channel ({exc.reason}): is it a Teleport "
            "Proxy's reverse tunnel port (3024)?"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return HandshakeError(
            f"the Teleport Auth Service behind {where} presented a certificate the identity's "
            f"CAs do not trust ({exc.verify_message}): sign a new identity"
        )
    if isinstance(exc, ssl.SSLError) and not route.alpn_tls:  # TLS with Auth, inside SSH
        return HandshakeError(
            f"TLS with the Teleport Auth Service behind {where} failed "
            f"({exc.reason or exc}): check that the identity belongs to this cluster"
        )
    if isinstance(exc, TimeoutError):
        return NoTunnel(f"{where} did not answer within {route.timeout:g}s")
    text = " ".join(str(getattr(exc, "reason", "") or exc).split()) or type(exc).__name__
    if route.reconnect:
        return NoTunnel(f"{where} closed the connection or is unreachable ({text})")
    return NoTunnel(f"no SSH reverse tunnel answered at {route.tunnel} ({text})")


async def _close(stream: TlsStream) -> None:
    stream.close()


class _SshLink:
    """Ties a Connection to its bridge and route, so a later failure can be explained."""

    def __init__(self, bridge: AlpnBridge, route: SshRoute) -> None:
        self.bridge = bridge
        self.route = route

    def close(self) -> None:
        self.bridge.close()


def connect_via_tunnel(
    tunnel: str,
    creds_source: CredentialSource,
    *,
    path: str,
    proxy_addr: str = "",
    alpn_tls: bool = False,
    timeout: float = 10.0,
    public_ca: str | None = None,
    reconnect: bool = False,
) -> Connection:
    """A Connection whose channel reaches Auth through the reverse tunnel at `tunnel`.

    One session is opened now (and closed) so a failure gets a precise one-line message
    instead of grpcio's "Socket closed"; grpcio then dials the bridge, one SSH connection
    per gRPC connection.
    """
    SshCredentials(creds_source.current())  # no SSH part: say so before any network
    route = SshRoute(
        tunnel,
        creds_source,
        path=path,
        proxy_addr=proxy_addr,
        alpn_tls=alpn_tls,
        timeout=timeout,
        public_ca=public_ca,
        reconnect=reconnect,
    )
    bridge = AlpnBridge(route.open, f"{path} at {tunnel}")
    try:
        tls = bridge.run(route.open(), timeout=timeout * 3)
        alpn = tls.selected_alpn
        bridge.run(_close(tls), timeout=timeout)  # on the loop: transports are not thread-safe
        if alpn != "h2":
            raise HandshakeError(f"TLS with Auth through {tunnel} negotiated ALPN {alpn!r}, not h2")
    except BaseException as exc:
        bridge.close()
        if isinstance(exc, Exception):
            raise explain(exc, route) from None
        raise
    link = _SshLink(bridge, route)
    return Connection(channel=unix_channel(bridge.socket_path), path=path, _closers=[link.close])


def tunnel_failure(conn: Connection) -> TeleportError | None:
    """Why the bridge behind a reverse tunnel Connection last failed (see route.py)."""
    for closer in conn._closers:
        link = getattr(closer, "__self__", None)
        if isinstance(link, _SshLink) and link.bridge.last_error is not None:
            return explain(link.bridge.last_error, link.route)
    return None
