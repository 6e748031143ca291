"""The SSH side of a Teleport Proxy with separate listeners: the reverse tunnel port (3024).

It does what the real one does for an API client: SSH with a host certificate signed by
the cluster CA, user authentication by an SSH certificate from the cluster CA (the
identity file's), one channel type `teleport-transport` whose request
`teleport-transport-dial` to `@remote-auth-server` is answered by dialling the simulated
Auth and piping bytes (the client's TLS session with Auth passes through unopened).

Switches for tests: ``host_ca_key`` (a host CA the identity does not know), ``user_ca``
(trust another cluster's user certificates, so the identity's is refused), ``refuse_dial``
(the Proxy cannot reach Auth), ``drop_tunnels()`` (cut every SSH connection, as a Proxy
restart or a network failure would).

asyncssh serves only the channel types it knows; the transport channel is added with the
handler-name hook asyncssh dispatches on (``_process_<type>_open``), installed on the
server connection class when this module is imported. Only the simulator runs an asyncssh
server, so nothing else sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any

import asyncssh

from simulators.base import SimulatorServer
from simulators.teleport.certs import ClusterPKI, PrivateKey

__all__ = ["ReverseTunnelSimulator"]

REMOTE_AUTH_SERVER = "@remote-auth-server"


class _Session(asyncssh.SSHTCPSession[bytes]):
    """Channel → Auth; bytes that arrive before the dial completes wait in `pending`."""

    def __init__(self) -> None:
        self.auth: asyncio.StreamWriter | None = None
        self.pending: list[bytes] = []

    def data_received(self, data: bytes, datatype: int | None) -> None:
        if self.auth is not None:
            self.auth.write(data)
        else:
            self.pending.append(data)

    def eof_received(self) -> bool:
        self.connection_lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.auth is not None:
            self.auth.close()


class _TransportChannel(asyncssh.SSHTCPChannel[bytes]):
    """A `teleport-transport` channel: the one request is the dial."""

    sim: ReverseTunnelSimulator
    _write_datatypes = {asyncssh.EXTENDED_DATA_STDERR}  # the refusal reason goes to stderr

    def _process_teleport_transport_dial_request(self, packet: Any) -> bool | None:
        payload = packet.get_string()
        try:
            address = json.loads(payload).get("address", "")
        except (ValueError, AttributeError):
            address = payload.decode("utf-8", "replace")  # the legacy raw-string payload
        if address != REMOTE_AUTH_SERVER:
            self.write(f"unsupported address {address}\n".encode(), asyncssh.EXTENDED_DATA_STDERR)
            return False
        self._dialing = asyncio.ensure_future(self._dial())  # kept: tasks are weakly held
        return None  # answered by _dial once Auth is (or is not) reached

    async def _dial(self) -> None:
        session = self._session
        assert isinstance(session, _Session)
        host, port = self.sim.auth_addr.rsplit(":", 1)
        try:
            if self.sim.refuse_dial:
                raise ConnectionRefusedError("the simulated Proxy cannot reach Auth")
            reader, writer = await asyncio.open_connection(host, int(port))
        except OSError as exc:
            self.write(
                f"failed to dial auth server: {exc}\n".encode(), asyncssh.EXTENDED_DATA_STDERR
            )
            self._report_response(False)
            return
        with self.sim._lock:
            self.sim.dials += 1
        session.auth = writer
        for data in session.pending:
            writer.write(data)
        session.pending.clear()
        self._report_response(True)
        try:
            while data := await reader.read(65536):
                self.write(data)
        except OSError:
            pass
        finally:
            self.close()


def _process_teleport_transport_open(conn: Any, packet: Any) -> tuple[_TransportChannel, _Session]:
    owner = conn._owner
    if not isinstance(owner, _Server):
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_UNKNOWN_CHANNEL_TYPE, "Unknown channel type")
    chan = _TransportChannel(conn, conn._loop, None, "strict", 2 * 1024 * 1024, 32768)
    chan.sim = owner.sim
    return chan, _Session()


asyncssh.SSHServerConnection._process_teleport_transport_open = (  # type: ignore[attr-defined]
    _process_teleport_transport_open
)


class _Server(asyncssh.SSHServer):
    def __init__(self, sim: ReverseTunnelSimulator) -> None:
        self.sim = sim
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        with self.sim._lock:
            self.sim._conns.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        with self.sim._lock:
            self.sim._conns.discard(self.conn)

    def begin_auth(self, username: str) -> bool:
        return True  # always authenticate: certificates only

    def public_key_auth_supported(self) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def auth_completed(self) -> None:
        with self.sim._lock:
            self.sim.logins += 1


class ReverseTunnelSimulator(SimulatorServer):
    """The reverse tunnel listener; its own event loop runs in one daemon thread."""

    def __init__(
        self,
        auth_addr: str,
        pki: ClusterPKI,
        *,
        host_ca_key: PrivateKey | None = None,
        user_ca: ClusterPKI | None = None,
        principals: tuple[str, ...] = ("localhost", "127.0.0.1"),
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host)
        self.auth_addr = auth_addr
        self.pki = pki
        key_pem, cert_line = pki.issue_ssh_host(principals, ca_key=host_ca_key)
        self._host_key = asyncssh.import_private_key(key_pem)
        self._host_cert = asyncssh.import_certificate(cert_line)
        # user_ca: trust another cluster's user certificates (so ours are refused).
        self._user_cas = asyncssh.import_authorized_keys((user_ca or pki).ssh_user_ca_line())
        self.refuse_dial = False
        # Guards the counters and _conns: asyncssh callbacks (loop thread) vs tests.
        self._lock = threading.Lock()
        self._conns: set[Any] = set()
        self.logins = 0  # SSH logins accepted
        self.dials = 0  # transport channels connected to Auth (tests assert the path)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sim-reverse-tunnel", daemon=True
        )
        self._thread.start()

    def _run(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _open(self, port: int) -> tuple[Any, int]:
        async def listen() -> Any:
            return await asyncssh.listen(
                self.host,
                port,
                server_factory=lambda: _Server(self),
                server_host_keys=[(self._host_key, self._host_cert)],
                authorized_client_keys=self._user_cas,
                reuse_address=True,
            )

        server = self._run(listen())
        return server, server.get_port()

    def _close(self, server: Any) -> None:
        async def shutdown() -> None:
            server.close()
            for conn in list(self._conns):
                conn.abort()
            await server.wait_closed()

        with contextlib.suppress(Exception):
            self._run(shutdown())

    def drop_tunnels(self) -> int:
        """Cut every SSH connection at once (clients see their streams fail)."""
        with self._lock:
            conns = list(self._conns)

        def abort() -> None:
            for conn in conns:
                conn.abort()

        self._loop.call_soon_threadsafe(abort)
        return len(conns)

    @property
    def tunnels(self) -> int:
        with self._lock:
            return len(self._conns)
