"""TLS routing to Auth through a Proxy: `connect_via_proxy()` returns a `dial.Connection`.

Per connection: TCP to the Proxy (or a WebSocket upgrade when an L7 load balancer ends TLS
in front of it), then TLS with SNI `teleport.cluster.local`, ALPN
`[teleport-auth@<hex cluster>.teleport.cluster.local, h2]`, the identity's client
certificate, and trust in the identity's CAs only. The Proxy forwards that session to
Auth unopened, so the certificate we verify is Auth's own.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import threading

from teleportbridge.teleport.connection import API_SERVER_NAME, Connection, unix_channel
from teleportbridge.teleport.errors import HandshakeError, TeleportError, TeleportUnavailable
from teleportbridge.teleport.identity import Credentials, CredentialSource
from teleportbridge.teleport.proxy.alpn_bridge import AlpnBridge
from teleportbridge.teleport.proxy.find import public_ssl_context, public_trust
from teleportbridge.teleport.proxy.streams import ByteStream, TlsStream, open_tcp, split_addr
from teleportbridge.teleport.proxy.websocket import UpgradeRefused, open_upgrade

PATH_TLS_ROUTING = "proxy (TLS routing)"
PATH_UPGRADE = "proxy (WebSocket upgrade)"


def auth_route(cluster: str) -> str:
    """The ALPN value that asks a Proxy for its cluster's Auth Service."""
    return f"teleport-auth@{cluster.encode().hex()}.{API_SERVER_NAME}"


class ContextCache:
    """One SSLContext per credential set: refresh_identity swaps it for new connections only.

    Python's ssl can load a key only from a file, so the PEMs pass through a 0600 file in a
    0700 directory and are deleted at once. The lock serialises callers (loop thread and
    the probe) so one credential change builds one context.
    """

    def __init__(self, route: str | None) -> None:
        self._route = route  # None: plain h2 (the reverse tunnel path needs no route)
        self._lock = threading.Lock()
        self._creds: Credentials | None = None
        self._ctx: ssl.SSLContext | None = None

    def get(self, creds: Credentials, *, verify: bool = True) -> ssl.SSLContext:
        if not verify:
            return self._build(creds, verify=False)
        with self._lock:
            if self._ctx is None or self._creds is not creds:
                self._ctx, self._creds = self._build(creds, verify=True), creds
            return self._ctx

    def _build(self, creds: Credentials, *, verify: bool) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        # The route first; h2 is what Auth takes.
        ctx.set_alpn_protocols([self._route, "h2"] if self._route else ["h2"])
        if verify:
            ctx.load_verify_locations(cadata=creds.ca_pem.decode())
        else:  # only used to read the ALPN a peer picks, never to carry data
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        with tempfile.TemporaryDirectory(prefix="tpb-key-") as tmp:
            path = os.path.join(tmp, "identity.pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(creds.key_pem + b"\n" + creds.cert_pem)
            ctx.load_cert_chain(path)
        return ctx


class ProxyRoute:
    """Everything needed to open one routed TLS session; used by the bridge and the probe."""

    def __init__(
        self,
        addr: str,
        creds_source: CredentialSource,
        cluster: str,
        *,
        upgrade: bool,
        timeout: float = 10.0,
        public_ca: str | None = None,
        reconnect: bool = False,
    ) -> None:
        self.addr = addr
        self.host, self.port = split_addr(addr)
        self.creds_source = creds_source
        self.cluster = cluster
        self.upgrade = upgrade
        # A remembered path (upgrade decided earlier) is known to lead to this cluster, so a
        # closed connection means "away for now", not "wrong cluster".
        self.reconnect = reconnect
        self.timeout = timeout
        self._contexts = ContextCache(auth_route(cluster))
        self._public_trust = public_trust(public_ca)
        self._public_ctx: ssl.SSLContext | None = None

    @property
    def path(self) -> str:
        return PATH_UPGRADE if self.upgrade else PATH_TLS_ROUTING

    def _carrier_ctx(self) -> ssl.SSLContext:
        if self._public_ctx is None:  # loop thread (or the probe before the bridge exists)
            ctx = public_ssl_context(self._public_trust)
            ctx.set_alpn_protocols(["http/1.1"])
            self._public_ctx = ctx
        return self._public_ctx

    async def _carrier(self) -> ByteStream:
        if self.upgrade:
            return await open_upgrade(self.host, self.port, self._carrier_ctx(), self.timeout)
        return await open_tcp(self.host, self.port, self.timeout)

    async def open(self, *, verify: bool = True) -> TlsStream:
        """One end-to-end TLS session with Auth, using the credentials current right now."""
        creds = self.creds_source.current()
        ctx = self._contexts.get(creds, verify=verify)
        carrier = await self._carrier()
        tls = TlsStream(carrier, ctx, API_SERVER_NAME)
        try:
            await tls.handshake(self.timeout)
        except BaseException:
            tls.close()
            raise
        return tls


class _NeedsUpgrade(Exception):
    """TLS to the Proxy negotiated no ALPN: an L7 load balancer ends TLS in front of it."""


def _is_no_alpn(exc: BaseException) -> bool:
    return isinstance(exc, ssl.SSLError) and "NO_APPLICATION_PROTOCOL" in str(exc).upper()


def explain(exc: BaseException, route: ProxyRoute) -> TeleportError:
    """One line for why a routed session failed, naming the Proxy and the cluster."""
    where = f"the Proxy at {route.addr}"
    if isinstance(exc, TeleportError):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        return HandshakeError(
            f"the Teleport Auth Service behind {where} presented a certificate the identity's "
            f"CAs do not trust ({exc.verify_message}): the identity was signed by another "
            f"cluster than {route.cluster!r} or its CA was rotated; sign a new identity"
        )
    if isinstance(exc, ssl.SSLEOFError | ConnectionResetError | BrokenPipeError):
        if route.reconnect:  # this route worked before: Auth behind the Proxy is away
            return TeleportUnavailable(
                f"{where} closed the TLS routing connection for cluster {route.cluster!r}; "
                "is its Auth Service up?"
            )
        return HandshakeError(
            f"{where} closed the TLS routing connection for cluster {route.cluster!r} "
            f"(ALPN {auth_route(route.cluster)}): it does not serve that cluster, or cannot "
            "reach its Auth Service"
        )
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        return HandshakeError(
            f"TLS with the Teleport Auth Service behind {where} failed ({reason}): check that "
            f"the identity belongs to cluster {route.cluster!r} and has not been revoked"
        )
    if isinstance(exc, UpgradeRefused):
        return TeleportError(f"{where} refused the WebSocket connection upgrade: {exc}")
    if isinstance(exc, TimeoutError):
        return TeleportUnavailable(f"{where} did not answer within {route.timeout:g}s")
    text = " ".join(str(exc).split()) or type(exc).__name__
    return TeleportUnavailable(f"cannot reach {where}: {text}")


async def _close(stream) -> None:
    stream.close()


def _probe(bridge: AlpnBridge, route: ProxyRoute) -> None:
    """Open one session now, so a failure gets a precise message instead of grpcio's
    "Socket closed"; raises _NeedsUpgrade when the Proxy side negotiates no ALPN."""
    try:
        tls = bridge.run(route.open(), timeout=route.timeout * 3)
    except ssl.SSLCertVerificationError as exc:
        if route.upgrade:
            raise explain(exc, route) from None
        # A load balancer's public certificate also fails here: look at the ALPN it picks.
        try:
            peek = bridge.run(route.open(verify=False), timeout=route.timeout * 3)
        except Exception:
            raise explain(exc, route) from None
        alpn = peek.selected_alpn
        # On the bridge's loop: asyncio transports are not thread-safe, and closing one
        # from this thread raced the loop handling the peer's own close (RuntimeError
        # "cannot switch state from UNWRAPPED to SHUTDOWN" from asyncio's SSL protocol).
        bridge.run(_close(peek), timeout=route.timeout)
        if alpn != "h2":
            raise _NeedsUpgrade from None
        raise explain(exc, route) from None
    except Exception as exc:
        if _is_no_alpn(exc) and not route.upgrade:
            raise _NeedsUpgrade from None
        raise explain(exc, route) from None
    alpn = tls.selected_alpn
    bridge.run(_close(tls), timeout=route.timeout)  # on the loop, as above
    if alpn != "h2":
        if not route.upgrade:
            raise _NeedsUpgrade
        raise HandshakeError(
            f"TLS routing through the Proxy at {route.addr} negotiated ALPN {alpn!r}, not h2"
        )


def connect_via_proxy(
    addr: str,
    creds_source: CredentialSource,
    *,
    cluster: str,
    upgrade: bool | None = None,
    timeout: float = 10.0,
    public_ca: str | None = None,
) -> Connection:
    """A Connection whose channel reaches Auth through the Proxy at `addr`.

    `upgrade=None` decides by trying: plain TLS routing, and the WebSocket upgrade when
    the Proxy's side negotiates no ALPN (an L7 load balancer). Pass the remembered value
    on reconnects so the path never changes under a running watcher; a closed routed
    connection is then TeleportUnavailable (retry) instead of a wrong-cluster error.
    """
    modes = [False, True] if upgrade is None else [upgrade]
    for mode in modes:
        route = ProxyRoute(
            addr,
            creds_source,
            cluster,
            upgrade=mode,
            timeout=timeout,
            public_ca=public_ca,
            reconnect=upgrade is not None,
        )
        bridge = AlpnBridge(route.open, f"{route.path} at {addr}")
        try:
            _probe(bridge, route)
        except _NeedsUpgrade:
            bridge.close()
            continue
        except BaseException:
            bridge.close()
            raise
        link = _ProxyLink(bridge, route)
        return Connection(
            channel=unix_channel(bridge.socket_path), path=route.path, _closers=[link.close]
        )
    raise HandshakeError(
        f"the Proxy at {addr} negotiated no ALPN protocol for TLS routing, even inside the "
        "WebSocket connection upgrade"
    )


class _ProxyLink:
    """Ties a Connection to its bridge and route, so a later failure can be explained."""

    def __init__(self, bridge: AlpnBridge, route: ProxyRoute) -> None:
        self.bridge = bridge
        self.route = route

    def close(self) -> None:
        self.bridge.close()


def upstream_failure(conn: Connection) -> TeleportError | None:
    """Why the bridge behind a proxy Connection last failed to reach Auth (None if it did
    not, or if `conn` is a direct connection): grpcio itself only sees "Socket closed"."""
    for closer in conn._closers:
        link = getattr(closer, "__self__", None)
        if isinstance(link, _ProxyLink) and link.bridge.last_error is not None:
            return explain(link.bridge.last_error, link.route)
    return None
