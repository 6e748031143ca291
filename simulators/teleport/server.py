"""TeleportSimulator: a real gRPC server over mTLS that behaves like Teleport's Auth Service.

Typical use in a test::

    with TeleportSimulator() as sim:
        creds = sim.pki.issue_client()
        write_identity_file(tmp / "identity", creds, sim.cluster_name)
        ...  # point the bridge at sim.address with server name "teleport.cluster.local"
        rid = sim.create_request(user="alice", roles=["editor"])
        sim.wait_for_streams(1)

The control API (create_request, review, approve, deny, promote, delete, put_rule, …) is
inherited from :class:`~simulators.teleport.state.ClusterState`; state survives
``stop()``/``start(port=same)`` so tests can simulate an Auth restart.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc

from simulators.base import SimulatorServer
from simulators.teleport.certs import API_DOMAIN, ClientCreds, ClusterPKI, make_cluster
from simulators.teleport.services import (
    AccessMonitoringRulesServicer,
    AuthServicer,
    UserLoginStateServicer,
    UsersServicer,
)
from simulators.teleport.state import ClusterState
from teleportbridge.teleport.proto import (
    accessmonitoringrules_pb2_grpc as amr_grpc,
)
from teleportbridge.teleport.proto import authservice_pb2, authservice_pb2_grpc
from teleportbridge.teleport.proto import userloginstate_pb2_grpc as uls_grpc
from teleportbridge.teleport.proto import users_pb2_grpc as users_grpc

#: Enough workers for a dozen concurrent watch streams (each holds a thread) plus unary calls.
MAX_WORKERS = 48
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True)
class CallRecord:
    """One RPC as the server saw it: method path, request metadata, client certificate CN."""

    method: str
    metadata: dict[str, str]
    peer_user: str


def _version_ok(client_version: str, server_version: str) -> bool:
    """Teleport accepts clients down to (server major - 1).0.0; unparseable is refused."""
    client, server = _SEMVER.match(client_version), _SEMVER.match(server_version)
    if client is None:
        return False
    if server is None:
        return True
    return int(client.group(1)) >= int(server.group(1)) - 1


class _Interceptor(grpc.ServerInterceptor):
    """Adds the ``version`` response header to every call, records calls, and refuses
    clients whose ``version`` metadata is too old (Teleport's client version check)."""

    def __init__(self, sim: TeleportSimulator) -> None:
        self.sim = sim

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        sim = self.sim

        def prologue(context: grpc.ServicerContext) -> None:
            md = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
            names = context.auth_context().get("x509_common_name") or [b""]
            sim.record_call(CallRecord(method, md, bytes(names[0]).decode()))
            context.send_initial_metadata((("version", sim.server_version),))
            version = md.get("version")
            if (
                sim.check_client_version
                and version is not None
                and not _version_ok(version, sim.server_version)
            ):
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, "client version is unsupported")

        if handler.unary_unary:
            inner_uu = handler.unary_unary

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                prologue(context)
                return inner_uu(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            inner_us = handler.unary_stream

            def stream(request: Any, context: grpc.ServicerContext) -> Any:
                prologue(context)
                yield from inner_us(request, context)

            return grpc.unary_stream_rpc_method_handler(
                stream, handler.request_deserializer, handler.response_serializer
            )
        return handler


class TeleportSimulator(SimulatorServer, ClusterState):
    """Teleport Auth Service stand-in; see the module docstring.

    Switches (plain attributes, may be flipped while running):

    * ``server_version`` (also ``set_version``), ``proxy_public_addr``, ``advanced_workflows``:
      what Ping reports; ``server_version`` is also the ``version`` response header.
    * ``list_access_requests_unimplemented``: ListAccessRequests answers UNIMPLEMENTED (old
      servers; clients fall back to GetAccessRequestsV2).
    * ``amr_filter_unimplemented`` / ``amr_service_unimplemented``: the rules service lacks
      ``…WithFilter`` / is missing entirely.
    * ``init_without_status``: INIT carries no WatchStatus (old servers).
    * ``pause_init``: new watch streams wait before INIT until it is set back to False.
    * ``check_client_version``: refuse clients whose ``version`` metadata is older than
      (server major - 1) with FAILED_PRECONDITION "client version is unsupported" (the status
      code is our choice; Teleport's is unverified).
    """

    def __init__(
        self,
        pki: ClusterPKI | None = None,
        *,
        server_version: str = "17.4.2",
        proxy_public_addr: str = "teleport.example.com:443",
        advanced_workflows: bool = True,
        host: str = "127.0.0.1",
        list_access_requests_unimplemented: bool = False,
        amr_filter_unimplemented: bool = False,
        amr_service_unimplemented: bool = False,
        init_without_status: bool = False,
        pause_init: bool = False,
        check_client_version: bool = True,
    ) -> None:
        self.pki = pki or make_cluster()
        ClusterState.__init__(self, self.pki.cluster_name)
        SimulatorServer.__init__(self, host)
        self.server_version = server_version
        self.proxy_public_addr = proxy_public_addr
        self.advanced_workflows = advanced_workflows
        self.list_access_requests_unimplemented = list_access_requests_unimplemented
        self.amr_filter_unimplemented = amr_filter_unimplemented
        self.amr_service_unimplemented = amr_service_unimplemented
        self.init_without_status = init_without_status
        self.check_client_version = check_client_version
        self.pause_init = pause_init
        # Guards _calls/_watches against handler threads recording calls.
        self._server_lock = threading.Lock()
        self._calls: deque[CallRecord] = deque(maxlen=10000)
        self._watches: list[authservice_pb2.Watch] = []

    # -- lifecycle --------------------------------------------------------------------------

    def _open(self, port: int) -> tuple[grpc.Server, int]:
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="sim"),
            interceptors=[_Interceptor(self)],
            options=[
                # Teleport allows client keepalive pings every 60 s even without streams;
                # tests use shorter intervals, so be lenient instead of sending GOAWAY.
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", 1000),
                ("grpc.http2.max_ping_strikes", 0),
            ],
        )
        authservice_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(self), server)
        amr_grpc.add_AccessMonitoringRulesServiceServicer_to_server(
            AccessMonitoringRulesServicer(self), server
        )
        users_grpc.add_UsersServiceServicer_to_server(UsersServicer(self), server)
        uls_grpc.add_UserLoginStateServiceServicer_to_server(UserLoginStateServicer(self), server)
        bound = server.add_secure_port(f"{self.host}:{port}", self.pki.server_credentials())
        if bound == 0:
            raise RuntimeError(f"could not bind {self.host}:{port}")
        server.start()
        return server, bound

    def _close(self, server: grpc.Server) -> None:
        # Stop first so open streams end with an error status (as when Auth goes away), then
        # release any handler still parked on its queue. State is kept for a restart.
        server.stop(0).wait()
        self.hub.close_all()

    def channel(
        self, creds: ClientCreds | None = None, options: Sequence[tuple[str, Any]] = ()
    ) -> grpc.Channel:
        """A plain grpc channel to this simulator (new ``access-plugin`` identity by default),
        with the ``teleport.cluster.local`` name override already set. Close it when done."""
        creds = creds or self.pki.issue_client()
        return grpc.secure_channel(
            self.address,
            creds.channel_credentials(),
            options=[("grpc.ssl_target_name_override", API_DOMAIN), *options],
        )

    # -- switches ---------------------------------------------------------------------------

    def set_version(self, version: str) -> None:
        """Change the version reported by Ping and the ``version`` response header."""
        self.server_version = version

    @property
    def pause_init(self) -> bool:
        return self.hub.init_paused

    @pause_init.setter
    def pause_init(self, value: bool) -> None:
        self.hub.init_paused = value

    # -- watch streams ----------------------------------------------------------------------

    @property
    def stream_count(self) -> int:
        """Open WatchEvents streams (counted from before INIT is sent)."""
        return self.hub.count

    def wait_for_streams(self, n: int = 1, timeout: float = 10.0) -> int:
        """Block until exactly ``n`` watch streams are open; TimeoutError otherwise."""
        if not self.hub.wait_for_count(n, timeout):
            raise TimeoutError(f"expected {n} watch streams, have {self.hub.count}")
        return n

    def drop_streams(self) -> int:
        """End every open watch stream with UNAVAILABLE (to test reconnects); returns count."""
        return self.hub.drop_all()

    # -- introspection ----------------------------------------------------------------------

    def record_call(self, record: CallRecord) -> None:
        with self._server_lock:
            self._calls.append(record)

    def record_watch(self, watch: authservice_pb2.Watch) -> None:
        copy = authservice_pb2.Watch()
        copy.CopyFrom(watch)
        with self._server_lock:
            self._watches.append(copy)

    @property
    def calls(self) -> list[CallRecord]:
        """Every RPC received so far (method path, metadata, client CN), oldest first."""
        with self._server_lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[CallRecord]:
        """Calls whose path ends with ``method`` (e.g. "UpdatePluginData")."""
        return [c for c in self.calls if c.method.endswith("/" + method)]

    @property
    def watch_requests(self) -> list[authservice_pb2.Watch]:
        """The Watch messages of every WatchEvents call, oldest first."""
        with self._server_lock:
            return list(self._watches)

    def emit_audit_event(self, event_type: str, request_id: str, **fields: Any) -> str:
        """Append an arbitrary access-request audit event; returns its event ID.

        ``access_request.delete`` / ``.expire`` build their own structs; other types use
        AccessRequestCreate (see AuditLog.emit_request_event for ``fields``). Use
        ``audit.emit_unknown()`` for an item of a type the trimmed proto does not know.
        """
        if event_type == "access_request.delete":
            return self.audit.emit_delete(request_id, **fields)
        if event_type == "access_request.expire":
            return self.audit.emit_expire(request_id, **fields)
        return self.audit.emit_request_event(event_type, request_id, **fields)

    def emit_unknown_audit_event(self, event_type: str = "access_request.search", **kw: Any) -> str:
        """An audit item whose type our trimmed proto lacks (oneof unset when parsed)."""
        return self.audit.emit_unknown(event_type, **kw)
