"""Connect to Teleport the way `[teleport] addr` allows: Auth directly, or through a Proxy.

The same TOML works for an Auth address (3025) and a Proxy (443/3080, Teleport Cloud):
we decide by trying, never by port number. Direct mTLS first; when that fails, ask
`/webapi/find` whether a Proxy is there and use its TLS routing. The chosen path is
remembered, so reconnects of a running watcher go the same way.
"""

from __future__ import annotations

import logging
import threading

from teleportbridge.config import TeleportConfig
from teleportbridge.teleport.client import TeleportClient
from teleportbridge.teleport.connection import Connection, connect_direct
from teleportbridge.teleport.errors import (
    CredentialsError,
    HandshakeError,
    TeleportError,
    TeleportUnavailable,
)
from teleportbridge.teleport.identity import EXPIRED_MESSAGE, CredentialSource
from teleportbridge.teleport.proto.authservice_pb2 import PingResponse
from teleportbridge.teleport.proxy.find import FindUnreachable, find_proxy, find_url
from teleportbridge.teleport.proxy.route import (
    PATH_UPGRADE,
    connect_via_proxy,
    upstream_failure,
)

log = logging.getLogger(__name__)

DIRECT = "direct"
PROXY = "proxy"


class Dialer:
    """Opens Connections to one cluster; the first success fixes the path for later ones.

    Thread-safe: the watcher and the audit poller may both reconnect; `_lock` makes the
    first decision (and its single log line) happen once.
    """

    def __init__(
        self,
        cfg: TeleportConfig,
        creds_source: CredentialSource,
        *,
        probe_timeout: float = 5.0,
        public_ca: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.addr = cfg.addr
        self.creds_source = creds_source
        self.probe_timeout = probe_timeout
        self.public_ca = public_ca
        self._lock = threading.Lock()
        self.kind: str | None = None  # DIRECT or PROXY once decided
        self.cluster = ""  # the cluster the Proxy routes to (PROXY only)
        self.upgrade = False  # PROXY only: inside the WebSocket connection upgrade

    def decision(self) -> tuple[str | None, str, bool]:
        """The path chosen so far, to hand to another Dialer (see `adopt`)."""
        return self.kind, self.cluster, self.upgrade

    def adopt(self, decision: tuple[str | None, str, bool]) -> None:
        """Take the path a probe (runwatcher's start-up check, in a child) decided."""
        with self._lock:
            self.kind, self.cluster, self.upgrade = decision

    @property
    def description(self) -> str:
        if self.kind == DIRECT:
            return f"direct to Auth at {self.addr}"
        how = "TLS routing over a WebSocket connection upgrade" if self.upgrade else "TLS routing"
        return f"through the Proxy at {self.addr} using {how}"

    def connect(self) -> tuple[Connection, PingResponse]:
        """A pinged Connection; the first call decides the path, later ones reuse it."""
        creds = self.creds_source.current()
        if creds.expired:  # a refreshed identity can expire too: say so, on every path
            raise CredentialsError(EXPIRED_MESSAGE)
        with self._lock:
            first = self.kind is None
            if self.kind == DIRECT:
                conn, ping = self._direct()
            elif self.kind == PROXY:
                conn, ping = self._proxy(upgrade=self.upgrade)
            else:
                conn, ping = self._decide()
            name, version = ping.ClusterName, ping.ServerVersion
            if first:
                log.info(
                    "Connected to Teleport cluster %s (version %s) %s",
                    name,
                    version,
                    self.description,
                )
            else:
                log.debug("Reconnected to Teleport %s", self.description)
        return conn, ping

    def _ping(self, conn: Connection) -> PingResponse:
        try:
            return TeleportClient(conn).ping(timeout=self.probe_timeout)
        except TeleportError as exc:
            conn.close()
            # Through a Proxy grpcio only sees "Socket closed"; the bridge knows why.
            raise (upstream_failure(conn) or exc) from None
        except BaseException:
            conn.close()
            raise

    def _direct(self) -> tuple[Connection, PingResponse]:
        conn = connect_direct(self.addr, self.creds_source.current())
        return conn, self._ping(conn)

    def _proxy(self, *, upgrade: bool | None) -> tuple[Connection, PingResponse]:
        conn = connect_via_proxy(
            self.addr,
            self.creds_source,
            cluster=self.cluster,
            upgrade=upgrade,
            timeout=max(self.probe_timeout, 1.0),
            public_ca=self.public_ca,
        )
        return conn, self._ping(conn)

    def _decide(self) -> tuple[Connection, PingResponse]:
        try:
            conn, ping = self._direct()
            self.kind = DIRECT
            return conn, ping
        except (TeleportUnavailable, HandshakeError) as exc:
            direct_error = exc
        try:
            info = find_proxy(self.addr, timeout=self.probe_timeout, public_ca=self.public_ca)
        except FindUnreachable as exc:
            raise type(direct_error)(
                f"{direct_error} and {find_url(self.addr)} is unreachable ({exc})"
            ) from None
        if not info.tls_routing_enabled:
            raise TeleportError(
                f"{self.addr} is a Teleport Proxy without TLS routing: the plugin needs TLS "
                "routing enabled on the Proxy or direct access to the Auth Service (port 3025)"
            )
        creds = self.creds_source.current()
        if creds.cluster and creds.cluster != info.cluster_name:
            raise HandshakeError(
                f"the identity {creds.source} is for Teleport cluster {creds.cluster!r} but the "
                f"Proxy at {self.addr} serves cluster {info.cluster_name!r}: sign an identity "
                f"on {info.cluster_name!r} or point [teleport] addr at the right Proxy"
            )
        self.cluster = info.cluster_name
        conn, ping = self._proxy(upgrade=None)
        self.kind, self.upgrade = PROXY, conn.path == PATH_UPGRADE
        return conn, ping


def connect(
    cfg: TeleportConfig,
    creds_source: CredentialSource,
    *,
    probe_timeout: float = 5.0,
    public_ca: str | None = None,
) -> tuple[Connection, PingResponse]:
    """One-shot: decide the path and return a pinged Connection (see Dialer for reuse)."""
    return Dialer(cfg, creds_source, probe_timeout=probe_timeout, public_ca=public_ca).connect()
