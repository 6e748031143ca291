"""gRPC servicers: translate wire requests into ClusterState calls, Teleport-style.

The servicers read the simulator's switches (``init_without_status``, ``*_unimplemented`` …)
at call time, so tests can flip them on a running server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import grpc
from google.protobuf import empty_pb2

from simulators.teleport.errors import AccessDenied, BadParameter, SimulatorError
from simulators.teleport.rules import KIND_RULE, filter_rules
from simulators.teleport.state import KIND_REQUEST, WATCHABLE_KINDS
from simulators.teleport.watch import Signal
from teleportbridge.teleport.proto import (
    accessmonitoringrules_pb2 as amr_pb2,
)
from teleportbridge.teleport.proto import (
    accessmonitoringrules_pb2_grpc as amr_grpc,
)
from teleportbridge.teleport.proto import (
    authservice_pb2,
    authservice_pb2_grpc,
    types_pb2,
    users_pb2,
)
from teleportbridge.teleport.proto import userloginstate_pb2_grpc as uls_grpc
from teleportbridge.teleport.proto import users_pb2_grpc as users_grpc

if TYPE_CHECKING:
    from collections.abc import Iterator

    from simulators.teleport.server import TeleportSimulator

#: Teleport's default and maximum page sizes for ListAccessRequests.
LIST_CHUNK = 200
LIST_MAX = 16000
AMR_DEFAULT_PAGE = 100
#: RBAC needed to watch each kind (Teleport checks list+read).
WATCH_VERBS = ("list", "read")
AMR_SERVICE = "teleport.accessmonitoringrules.v1.AccessMonitoringRulesService"


def abort(context: grpc.ServicerContext, error: SimulatorError) -> NoReturn:
    context.abort(error.code, error.message)
    raise AssertionError("unreachable")  # context.abort always raises


def unimplemented(context: grpc.ServicerContext, service: str, method: str | None) -> NoReturn:
    """Answer as grpc-go does for an unknown method/service (what an older Auth sends)."""
    if method is None:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"unknown service {service}")
    context.abort(grpc.StatusCode.UNIMPLEMENTED, f"unknown method {method} for service {service}")
    raise AssertionError("unreachable")


def _request_matches(req: types_pb2.AccessRequestV3, flt: types_pb2.AccessRequestFilter) -> bool:
    if flt.ID and req.Metadata.Name != flt.ID:
        return False
    if flt.User and req.Spec.User != flt.User:
        return False
    return not (flt.State and req.Spec.State != flt.State)


class AuthServicer(authservice_pb2_grpc.AuthServiceServicer):
    """``proto.AuthService``: only the RPCs an access-request plugin uses."""

    def __init__(self, sim: TeleportSimulator) -> None:
        self.sim = sim

    def Ping(self, request, context):
        resp = authservice_pb2.PingResponse(
            ClusterName=self.sim.cluster_name,
            ServerVersion=self.sim.server_version,
            ProxyPublicAddr=self.sim.proxy_public_addr,
            RemoteAddr=_peer_addr(context.peer()),
        )
        resp.ServerFeatures.AdvancedAccessWorkflows = self.sim.advanced_workflows
        return resp

    # -- watch ------------------------------------------------------------------------------

    def _accepted_kinds(self, request: authservice_pb2.Watch) -> list[types_pb2.WatchKind]:
        """Validate requested kinds as Teleport does: unsupported or forbidden kinds are
        dropped with AllowPartialSuccess, otherwise they fail the whole watch."""
        if not request.Kinds:
            raise BadParameter("at least one watch kind is required")
        accepted = []
        for kind in request.Kinds:
            if kind.Kind not in WATCHABLE_KINDS:
                if request.AllowPartialSuccess:
                    continue
                raise BadParameter(f'watching kind "{kind.Kind}" is not supported')
            try:
                self.sim.rbac.check(kind.Kind, WATCH_VERBS)
            except SimulatorError:
                if request.AllowPartialSuccess:
                    continue
                raise
            accepted.append(kind)
        if not accepted:
            raise BadParameter("none of the requested kinds can be watched")
        return accepted

    def WatchEvents(self, request, context) -> Iterator[authservice_pb2.Event]:
        self.sim.record_watch(request)
        try:
            accepted = self._accepted_kinds(request)
        except SimulatorError as err:
            abort(context, err)
        hub = self.sim.hub
        sub = hub.subscribe(k.Kind for k in accepted)
        # Wake the handler when the client cancels or the server stops.
        context.add_callback(lambda: hub.unsubscribe(sub))
        try:
            if not hub.wait_init_allowed(sub):
                return
            init = authservice_pb2.Event(Type=authservice_pb2.INIT)
            if not self.sim.init_without_status:
                status = init.WatchStatus
                status.Kind = "watch_status"
                status.Version = "v1"
                status.Metadata.Name = "watch_status"
                for kind in accepted:
                    status.Spec.Kinds.add().CopyFrom(kind)
            yield init
            while True:
                item = sub.get()
                if item is Signal.CLOSED:
                    return
                if item is Signal.DROPPED:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "watch stream dropped by simulator")
                    return
                yield item
        finally:
            hub.unsubscribe(sub)

    # -- access requests --------------------------------------------------------------------

    def ListAccessRequests(self, request, context):
        if self.sim.list_access_requests_unimplemented:
            unimplemented(context, "proto.AuthService", "ListAccessRequests")
        try:
            self.sim.rbac.check(KIND_REQUEST, ("list", "read"))
            limit = request.Limit if request.Limit >= 1 else LIST_CHUNK
            limit = min(limit, LIST_MAX)
            pairs = [
                p
                for p in self.sim.sorted_requests(request.Sort, request.Descending)
                if _request_matches(p[1], request.Filter)
            ]
            if request.StartKey:
                start = self.sim.sort_key(request.StartKey, request.Sort)
                if request.Descending:
                    pairs = [p for p in pairs if p[0] <= start]
                else:
                    pairs = [p for p in pairs if p[0] >= start]
        except SimulatorError as err:
            abort(context, err)
        resp = authservice_pb2.ListAccessRequestsResponse()
        resp.AccessRequests.extend(req for _, req in pairs[:limit])
        if len(pairs) > limit:
            resp.NextKey = pairs[limit][1].Metadata.Name
        return resp

    def GetAccessRequestsV2(self, request, context):
        try:
            self.sim.rbac.check(KIND_REQUEST, ("list", "read"))
        except SimulatorError as err:
            abort(context, err)
        for req in self.sim.requests:
            if _request_matches(req, request):
                yield req

    def SubmitAccessReview(self, request, context):
        review = request.Review
        author = review.Author or _peer_user(context)
        state = review.ProposedState or types_pb2.APPROVED
        try:
            return self.sim.review(
                request.RequestID, author, state, review.Reason, roles=list(review.Roles)
            )
        except SimulatorError as err:
            abort(context, err)

    def SetAccessRequestState(self, request, context):
        annotations = {k: list(v.Values) for k, v in request.Annotations.Values.items()}
        try:
            self.sim.rbac.check(KIND_REQUEST, ("update",))
            self.sim.set_state(
                request.ID,
                request.State,
                request.Reason,
                delegator=request.Delegator,
                annotations=annotations,
            )
        except SimulatorError as err:
            abort(context, err)
        return empty_pb2.Empty()

    # -- plugin data ------------------------------------------------------------------------

    def GetPluginData(self, request, context):
        try:
            self.sim.rbac.check("access_plugin_data", ("read",))
            return self.sim.get_plugin_data(request.Kind, request.Resource, request.Plugin)
        except SimulatorError as err:
            abort(context, err)

    def UpdatePluginData(self, request, context):
        try:
            self.sim.rbac.check("access_plugin_data", ("update",))
            self.sim.update_plugin_data(
                request.Kind,
                request.Resource,
                request.Plugin,
                dict(request.Set),
                dict(request.Expect),
            )
        except SimulatorError as err:
            abort(context, err)
        return empty_pb2.Empty()

    # -- roles ------------------------------------------------------------------------------

    def GetRole(self, request, context):
        try:
            self.sim.rbac.check("role", ("read",))
            return self.sim.roles.get(request.Name)
        except SimulatorError as err:
            abort(context, err)

    # -- users ------------------------------------------------------------------------------

    def GetUser(self, request, context):
        try:
            self.sim.rbac.check("user", ("read",))
            return self.sim.users.user(request.Name)
        except SimulatorError as err:
            abort(context, err)

    def ListResources(self, request, context):
        try:
            # Teleport reports every verb it refused, joined (the seed's troubleshooting text).
            denied = [
                f'access denied to perform action "{verb}" on "{request.ResourceType}"'
                for verb in ("list", "read")
                if not self.sim.rbac.is_allowed(verb, request.ResourceType)
            ]
            if denied:
                raise AccessDenied(", ".join(denied))
            items = self.sim.resources.list(request.ResourceType, request.PredicateExpression)
        except SimulatorError as err:
            abort(context, err)
        return authservice_pb2.ListResourcesResponse(Resources=items)

    # -- audit ------------------------------------------------------------------------------

    def GetEvents(self, request, context):
        try:
            self.sim.rbac.check("event", ("list",))
            items, last_key = self.sim.audit.search(
                request.StartDate,
                request.EndDate,
                list(request.EventTypes),
                request.Limit,
                request.StartKey,
                int(request.Order),
            )
        except SimulatorError as err:
            abort(context, err)
        return authservice_pb2.Events(Items=items, LastKey=last_key)


class UsersServicer(users_grpc.UsersServiceServicer):
    """teleport.users.v1.UsersService: GetUser only (the requester's traits)."""

    def __init__(self, sim: TeleportSimulator) -> None:
        self.sim = sim

    def GetUser(self, request, context):
        try:
            self.sim.rbac.check("user", ("read",))
            return users_pb2.GetUserResponse(user=self.sim.users.user(request.name))
        except SimulatorError as err:
            abort(context, err)


class AccessMonitoringRulesServicer(amr_grpc.AccessMonitoringRulesServiceServicer):
    """``teleport.accessmonitoringrules.v1.AccessMonitoringRulesService`` (list RPCs only)."""

    def __init__(self, sim: TeleportSimulator) -> None:
        self.sim = sim

    def _page(self, rules, page_size: int, page_token: str):
        """Page by rule name: the token is the name of the first rule of the next page."""
        size = page_size if page_size > 0 else AMR_DEFAULT_PAGE
        if page_token:
            rules = [r for r in rules if r.metadata.name >= page_token]
        next_token = rules[size].metadata.name if len(rules) > size else ""
        return rules[:size], next_token

    def _check(self, context, method: str) -> None:
        if self.sim.amr_service_unimplemented:
            unimplemented(context, AMR_SERVICE, None)
        if method.endswith("WithFilter") and self.sim.amr_filter_unimplemented:
            unimplemented(context, AMR_SERVICE, method)
        try:
            self.sim.rbac.check(KIND_RULE, ("list", "read"))
        except SimulatorError as err:
            abort(context, err)

    def ListAccessMonitoringRules(self, request, context):
        self._check(context, "ListAccessMonitoringRules")
        page, token = self._page(self.sim.rules, request.page_size, request.page_token)
        return amr_pb2.ListAccessMonitoringRulesResponse(rules=page, next_page_token=token)

    def ListAccessMonitoringRulesWithFilter(self, request, context):
        self._check(context, "ListAccessMonitoringRulesWithFilter")
        rules = filter_rules(
            self.sim.rules,
            request.subjects,
            request.notification_name,
            request.automatic_review_name,
        )
        page, token = self._page(rules, request.page_size, request.page_token)
        return amr_pb2.ListAccessMonitoringRulesWithFilterResponse(
            rules=page, next_page_token=token
        )


def _peer_addr(peer: str) -> str:
    """grpc peer strings look like "ipv4:127.0.0.1:5555"; Teleport reports "host:port"."""
    for prefix in ("ipv4:", "ipv6:"):
        if peer.startswith(prefix):
            return peer[len(prefix) :]
    return peer


def _peer_user(context: grpc.ServicerContext) -> str:
    """The Teleport user of the caller: the client certificate's CN."""
    names = context.auth_context().get("x509_common_name") or [b""]
    return bytes(names[0]).decode()


class UserLoginStateServicer(uls_grpc.UserLoginStateServiceServicer):
    """``teleport.userloginstate.v1.UserLoginStateService`` (GetUserLoginState only)."""

    def __init__(self, sim: TeleportSimulator) -> None:
        self.sim = sim

    def GetUserLoginState(self, request, context):
        try:
            self.sim.rbac.check("user_login_state", ("read",))
            return self.sim.users.login_state(request.name)
        except SimulatorError as err:
            abort(context, err)
