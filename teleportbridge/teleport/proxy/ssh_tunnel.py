"""Auth through a Proxy's SSH reverse tunnel: the path of Proxies without TLS routing.

What the Go plugins do (api/client `proxyConnect` / `tunnelConnect` / `tlsRoutingConnect`),
per connection:
SSH to the Proxy's reverse tunnel listener (3024) with the identity's SSH user certificate,
the Proxy's host certificate checked against the identity's `@cert-authority` lines; an
SSH channel `teleport-transport` whose one request `teleport-transport-dial` asks for
`@remote-auth-server`; then, inside the channel, TLS to Auth exactly as on the direct
path (client certificate, identity CAs, server name teleport.cluster.local, ALPN h2).

asyncssh (not paramiko) because it is asyncio: the SSH connection runs on the same
bridge loop thread as the other proxy paths (AlpnBridge), and it verifies OpenSSH host
certificates against CA keys itself. The carrier (TCP, HTTP CONNECT, TLS with ALPN
teleport-reversetunnel) is in ssh_carrier.py, the SSH credentials and the transport
channel in ssh_transport.py; this module chooses addresses, opens sessions and explains
failures in one line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl

import asyncssh

from teleportbridge.teleport.connection import API_SERVER_NAME, Connection, unix_channel
from teleportbridge.teleport.errors import (
    HandshakeError,
    TeleportError,
    TeleportUnavailable,
)
from teleportbridge.teleport.identity import Credentials, CredentialSource
from teleportbridge.teleport.proxy.alpn_bridge import AlpnBridge
from teleportbridge.teleport.proxy.find import ProxyInfo, public_ssl_context, public_trust
from teleportbridge.teleport.proxy.route import ContextCache
from teleportbridge.teleport.proxy.ssh_carrier import Carrier
from teleportbridge.teleport.proxy.ssh_transport import (
    CHAN_TRANSPORT,
    DialRefused,
    SshCredentials,
    open_transport,
)
from teleportbridge.teleport.proxy.streams import TlsStream, join_host_port, split_addr

log = logging.getLogger(__name__)
# asyncssh logs every connection and channel at INFO; our own lines say what matters.
logging.getLogger("asyncssh").setLevel(logging.WARNING)

ALPN_REVERSE_TUNNEL = "teleport-reversetunnel"
DEFAULT_TUNNEL_PORT = 3024
TUNNEL_ADDR_ENV = "TELEPORT_TUNNEL_PUBLIC_ADDR"

PATH_SSH_PROXY = "proxy (SSH reverse tunnel)"
PATH_SSH_TUNNEL = "reverse tunnel (SSH)"
PATH_SSH_ALPN = "proxy (SSH over TLS routing)"  # WatcherState keeps 32 characters

# SSH keepalives: a dead tunnel (a Proxy gone without a FIN) is noticed within ~90 s and
# becomes a dropped stream; grpcio's own keepalive covers the TLS session inside.
KEEPALIVE_INTERVAL = 30.0
KEEPALIVE_COUNT_MAX = 3


def _host_port(addr: str) -> tuple[str, str]:
    text = addr.split("://", 1)[-1].split("/", 1)[0]
    host, port = split_addr(text, default_port=0)
    return host, (str(port) if port else "")


def tunnel_addr(proxy_addr: str, info: ProxyInfo) -> str:
    """Where the reverse tunnel listens, in the Go client's order of preference:
    TELEPORT_TUNNEL_PUBLIC_ADDR, the Proxy's tunnel public address, then the host of its
    SSH or web public address (or of the address we dialled) with the tunnel port."""
    override = os.environ.get(TUNNEL_ADDR_ENV, "").strip()
    if override:
        host, port = _host_port(override)
        return join_host_port(host, port or DEFAULT_TUNNEL_PORT)
    if info.tunnel_public_addr:
        host, port = _host_port(info.tunnel_public_addr)
        return join_host_port(host, port or DEFAULT_TUNNEL_PORT)
    port = _host_port(info.tunnel_listen_addr)[1] if info.tunnel_listen_addr else ""
    port = port or str(DEFAULT_TUNNEL_PORT)
    candidate = info.ssh_public_addr or info.public_addr or proxy_addr
    return join_host_port(_host_port(candidate)[0], port)


class NoTunnel(TeleportUnavailable):
    """Nothing SSH answered (refused, closed, timed out, not SSH): before the first success
    the address is not a reverse tunnel; on a remembered path, the Proxy is away."""


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
        # Over TLS routing the tunnel is the web address (443 when no port is given).
        default_port = 443 if alpn_tls else DEFAULT_TUNNEL_PORT
        self.host, self.port = split_addr(tunnel, default_port=default_port)
        self.proxy_addr = proxy_addr or tunnel
        self.creds_source = creds_source
        self.path = path
        self.timeout = timeout
        self.reconnect = reconnect
        self.alpn_tls = alpn_tls
        self._public_ca = public_ca
        self._contexts = ContextCache(None)
        self._ssh_for: tuple[Credentials, SshCredentials] | None = None

    def _ssh(self, creds: Credentials) -> SshCredentials:
        # Loop thread (or the probe before the bridge exists): one SshCredentials per
        # credential set, so a refreshed identity is used from the next connection on.
        if self._ssh_for is None or self._ssh_for[0] is not creds:
            self._ssh_for = (creds, SshCredentials(creds))
        return self._ssh_for[1]

    def _carrier(self) -> Carrier:
        tls = None
        if self.alpn_tls:
            tls = public_ssl_context(public_trust(self._public_ca))
            tls.set_alpn_protocols([ALPN_REVERSE_TUNNEL])
        return Carrier(tls, self.timeout)

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
            transport = await asyncio.wait_for(open_transport(conn), self.timeout)
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
