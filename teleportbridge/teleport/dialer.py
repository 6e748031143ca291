"""Connect to Teleport the way `[teleport] addr` allows: Auth directly, or through a Proxy.

The same TOML works for an Auth address (3025), a Proxy with TLS routing (443/3080,
Teleport Cloud), a Proxy's web address with separate listeners (3080) and its reverse
tunnel address (3024): we decide by trying, never by port number, in a documented order
(the Go client races the same paths in parallel; an order gives one clear error):

1. direct mTLS to Auth;
2. `/webapi/find`: a Proxy with TLS routing → TLS routing (or the WebSocket upgrade), and
   if the Proxy will not route to Auth, SSH inside TLS with ALPN teleport-reversetunnel;
   a Proxy without it → SSH to its reverse tunnel address (identity file needed);
3. no Proxy answers find → SSH to `addr` itself as a reverse tunnel port.

The chosen path is remembered, so reconnects of a running watcher go the same way.
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
from teleportbridge.teleport.proxy.find import FindUnreachable, ProxyInfo, find_proxy, find_url
from teleportbridge.teleport.proxy.route import (
    PATH_UPGRADE,
    connect_via_proxy,
    upstream_failure,
)

log = logging.getLogger(__name__)


def _ssh_paths():
    """The SSH reverse tunnel module, imported on first use only: importing asyncssh looks
    for optional C libraries by running ldconfig/gcc/ld (seven child processes, ~0.4 s),
    which every runwatcher, worker and manage.py start would otherwise pay, and which
    would show up as children before runwatcher installs its signal handlers."""
    from teleportbridge.teleport.proxy import ssh_tunnel

    return ssh_tunnel


DIRECT = "direct"
PROXY = "proxy"
SSH_PROXY = "ssh-proxy"  # web address of a Proxy without TLS routing → its reverse tunnel
SSH_TUNNEL = "ssh-tunnel"  # addr is the reverse tunnel port itself
SSH_ALPN = "ssh-alpn"  # TLS routing Proxy: SSH inside TLS with ALPN teleport-reversetunnel


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
        self.tunnel = ""  # SSH paths: the reverse tunnel address

    def decision(self) -> tuple[str | None, str, bool, str]:
        """The path chosen so far, to hand to another Dialer (see `adopt`)."""
        return self.kind, self.cluster, self.upgrade, self.tunnel

    def adopt(self, decision: tuple[str | None, str, bool, str]) -> None:
        """Take the path a probe (runwatcher's start-up check, in a child) decided."""
        with self._lock:
            self.kind, self.cluster, self.upgrade, self.tunnel = decision

    @property
    def description(self) -> str:
        if self.kind == DIRECT:
            return f"direct to Auth at {self.addr}"
        if self.kind == SSH_PROXY:
            return (
                f"through the Proxy at {self.addr} (no TLS routing) using its SSH reverse "
                f"tunnel at {self.tunnel}"
            )
        if self.kind == SSH_TUNNEL:
            return f"through the Proxy's SSH reverse tunnel at {self.addr}"
        if self.kind == SSH_ALPN:
            return (
                f"through the Proxy at {self.addr} using its SSH reverse tunnel over TLS "
                "routing (ALPN teleport-reversetunnel)"
            )
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
            elif self.kind in (SSH_PROXY, SSH_TUNNEL, SSH_ALPN):
                conn, ping = self._ssh(self.kind, reconnect=True)
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
            tunnel = _ssh_paths().tunnel_failure(conn) if self.tunnel else None
            raise (upstream_failure(conn) or tunnel or exc) from None
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

    def _ssh(self, kind: str, *, reconnect: bool) -> tuple[Connection, PingResponse]:
        ssh = _ssh_paths()
        paths = {SSH_PROXY: ssh.PATH_SSH_PROXY, SSH_TUNNEL: ssh.PATH_SSH_TUNNEL}
        conn = ssh.connect_via_tunnel(
            self.tunnel,
            self.creds_source,
            path=paths.get(kind, ssh.PATH_SSH_ALPN),
            proxy_addr=self.addr,
            alpn_tls=kind == SSH_ALPN,
            timeout=max(self.probe_timeout, 1.0),
            public_ca=self.public_ca,
            reconnect=reconnect,
        )
        return conn, self._ping(conn)

    def _decide(self) -> tuple[Connection, PingResponse]:
        try:
            conn, ping = self._direct()
            self.kind = DIRECT
            return conn, ping
        except (TeleportUnavailable, HandshakeError) as exc:
            direct_error = exc
        creds = self.creds_source.current()
        try:
            info = find_proxy(self.addr, timeout=self.probe_timeout, public_ca=self.public_ca)
        except FindUnreachable as exc:
            unreachable = f"{direct_error} and {find_url(self.addr)} is unreachable ({exc})"
            if not creds.has_ssh:
                raise type(direct_error)(unreachable) from None
            return self._decide_tunnel(direct_error, unreachable)
        if not info.tls_routing_enabled:
            return self._decide_ssh_proxy(info)
        self._check_cluster(info.cluster_name)
        self.cluster = info.cluster_name
        try:
            conn, ping = self._proxy(upgrade=None)
        except HandshakeError as exc:
            if not creds.has_ssh:
                raise
            return self._decide_alpn_tunnel(exc)
        self.kind, self.upgrade = PROXY, conn.path == PATH_UPGRADE
        return conn, ping

    def _decide_alpn_tunnel(self, routing_error: HandshakeError) -> tuple[Connection, PingResponse]:
        """The Proxy routes TLS but not to Auth for us: the Go client's own way in, SSH
        inside TLS with ALPN teleport-reversetunnel on the same address."""
        self.tunnel = self.addr
        try:
            conn, ping = self._ssh(SSH_ALPN, reconnect=False)
        except (_ssh_paths().NoTunnel, HandshakeError):
            raise routing_error from None
        self.kind = SSH_ALPN
        return conn, ping

    def _check_cluster(self, cluster: str) -> None:
        creds = self.creds_source.current()
        if creds.cluster and cluster and creds.cluster != cluster:
            raise HandshakeError(
                f"the identity {creds.source} is for Teleport cluster {creds.cluster!r} but the "
                f"Proxy at {self.addr} serves cluster {cluster!r}: sign an identity "
                f"on {cluster!r} or point [teleport] addr at the right Proxy"
            )

    def _decide_ssh_proxy(self, info: ProxyInfo) -> tuple[Connection, PingResponse]:
        """A Proxy with separate listeners: Auth only through its SSH reverse tunnel."""
        creds = self.creds_source.current()
        if not creds.has_ssh:
            raise CredentialsError(
                f"{self.addr} is a Teleport Proxy without TLS routing, reachable only over "
                f"SSH, and {creds.source} has no SSH certificate (a TLS triple never has): "
                "use an identity file (`tctl auth sign --format=file`, or tbot), or point "
                "[teleport] addr at the Auth Service (port 3025)"
            )
        self._check_cluster(info.cluster_name)
        self.tunnel, self.cluster = _ssh_paths().tunnel_addr(self.addr, info), info.cluster_name
        try:
            conn, ping = self._ssh(SSH_PROXY, reconnect=False)
        except _ssh_paths().NoTunnel as exc:
            raise TeleportUnavailable(
                f"{self.addr} is a Teleport Proxy without TLS routing, so Auth is reached "
                f"through its SSH reverse tunnel, but {exc}: open that port to the plugin "
                "(or set TELEPORT_TUNNEL_PUBLIC_ADDR), enable TLS routing on the Proxy, or "
                "point [teleport] addr at the Auth Service (port 3025)"
            ) from None
        self.kind = SSH_PROXY
        return conn, ping

    def _decide_tunnel(
        self, direct_error: TeleportError, unreachable: str
    ) -> tuple[Connection, PingResponse]:
        """Neither Auth nor a web Proxy: the last path is `addr` as a reverse tunnel port."""
        self.tunnel = self.addr
        try:
            conn, ping = self._ssh(SSH_TUNNEL, reconnect=False)
        except _ssh_paths().NoTunnel:
            # No SSH there either: the first two reasons are the useful ones.
            raise type(direct_error)(unreachable) from None
        self.kind = SSH_TUNNEL
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
