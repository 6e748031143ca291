"""TeleportClient: the Auth API calls the bridge makes, with typed errors.

No database access here and no retries: callers (watcher, reconcile, audit poller)
decide what a failure means for them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

import grpc

from teleportbridge.teleport.connection import Connection
from teleportbridge.teleport.errors import (
    NotFound,
    PermissionDenied,
    TeleportError,
    Unimplemented,
    VersionError,
    classify_rpc_error,
    describe_missing,
)
from teleportbridge.teleport.proto import (
    accessmonitoringrules_pb2 as amr_pb2,
)
from teleportbridge.teleport.proto import (
    accessmonitoringrules_pb2_grpc as amr_grpc,
)
from teleportbridge.teleport.proto import (
    authservice_pb2 as pb,
)
from teleportbridge.teleport.proto import (
    authservice_pb2_grpc as pb_grpc,
)
from teleportbridge.teleport.proto import events_pb2, types_pb2, users_pb2
from teleportbridge.teleport.proto import userloginstate_pb2 as uls_pb2
from teleportbridge.teleport.proto import userloginstate_pb2_grpc as uls_grpc
from teleportbridge.teleport.proto import users_pb2_grpc as users_grpc
from teleportbridge.teleport.version import MIN_SERVER_VERSION, at_least

log = logging.getLogger(__name__)

#: Label Teleport sets on resources imported from Okta, and the labels holding their
#: human-readable names, tried in this order before the description (types.FriendlyName).
ORIGIN_LABEL = "teleport.dev/origin"
OKTA_NAME_LABELS = (
    "teleport.internal/okta-app-name",
    "teleport.internal/okta-group-name",
    "teleport.internal/okta-role-name",
)


@dataclasses.dataclass(frozen=True)
class ResourceInfo:
    kind: str
    name: str
    friendly_name: str  # "" when Teleport has none for this resource
    labels: dict[str, str]


def _resource_info(kind: str, metadata: types_pb2.Metadata, hostname: str) -> ResourceInfo:
    """Upstream's FriendlyName: an Okta resource's name label (else its description), else
    a node's hostname, else none."""
    labels = dict(metadata.Labels)
    friendly = hostname
    if labels.get(ORIGIN_LABEL) == "okta":
        named = [labels[k] for k in OKTA_NAME_LABELS if k in labels]
        friendly = named[0] if named else metadata.Description
    return ResourceInfo(kind, metadata.Name, friendly, labels)


PLUGIN_DATA_KIND = "access_request"
WATCH_KINDS = ("access_request", "access_monitoring_rule")
DEFAULT_TIMEOUT = 10.0
#: GetEvents' wire value for "oldest first". Teleport casts its Go enum straight onto the
#: proto enum, whose names say the opposite (Order 0 is named DESCENDING in the proto but
#: means ascending on the wire), so authservice_pb2.ASCENDING must not be used.
OLDEST_FIRST = 0


class WatchStream(Iterator[pb.Event], Protocol):
    """A server-streaming call: iterate for events, cancel() to end it from any thread."""

    def cancel(self) -> bool: ...


class TeleportClient:
    """Thin typed wrapper around the generated stubs for one Connection."""

    def __init__(self, connection: Connection, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.connection = connection
        self.timeout = timeout
        self._auth = pb_grpc.AuthServiceStub(connection.channel)
        self._amr = amr_grpc.AccessMonitoringRulesServiceStub(connection.channel)
        self._users = users_grpc.UsersServiceStub(connection.channel)
        self._uls = uls_grpc.UserLoginStateServiceStub(connection.channel)

    def close(self) -> None:
        self.connection.close()

    def _call(self, what: str, fn, request, timeout: float | None = None):
        try:
            return fn(request, timeout=timeout or self.timeout)
        except grpc.RpcError as exc:
            raise classify_rpc_error(exc, what) from None

    # -- start-up ---------------------------------------------------------------------------
    def ping(self, timeout: float | None = None) -> pb.PingResponse:
        try:
            return self._call("Ping", self._auth.Ping, pb.PingRequest(), timeout)
        except Unimplemented:
            raise VersionError(f"server version must be at least {MIN_SERVER_VERSION}") from None

    @staticmethod
    def check_version(ping: pb.PingResponse) -> None:
        """The plugin's rule: refuse servers older than 6.1.0-beta.1."""
        try:
            ok = at_least(ping.ServerVersion, MIN_SERVER_VERSION)
        except ValueError:
            raise VersionError(
                f"Unable to get Teleport server version (got {ping.ServerVersion!r})"
            ) from None
        if not ok:
            raise VersionError(
                f"incompatible versions: {ping.ServerVersion} < {MIN_SERVER_VERSION}"
            )

    @staticmethod
    def web_proxy_addr(ping: pb.PingResponse) -> str:
        """Links only when the cluster has Advanced Access Workflows (as the plugin does)."""
        return ping.ProxyPublicAddr if ping.ServerFeatures.AdvancedAccessWorkflows else ""

    def check_permissions(self) -> None:
        """Probe the RPCs the plugin needs; one PermissionDenied listing every missing verb.

        Without this a role that lacks a verb only shows up as a watcher that reconnects
        forever; at start-up it is one actionable line instead.
        """
        missing: list[tuple[str, str]] = []
        probes = [
            (
                "ListAccessRequests",
                self._auth.ListAccessRequests,
                pb.ListAccessRequestsRequest(Filter=types_pb2.AccessRequestFilter(), Limit=1),
            ),
            (
                "GetPluginData",
                self._auth.GetPluginData,
                types_pb2.PluginDataFilter(
                    Kind=PLUGIN_DATA_KIND, Resource="permission-probe", Plugin="mattermost"
                ),
            ),
        ]
        for what, fn, request in probes:
            try:
                self._call(what, fn, request)
            except PermissionDenied as exc:
                missing.extend(exc.missing or [("?", what)])
            except TeleportError:
                pass  # NotFound, Unimplemented...: the permission itself is fine
        if missing:
            raise PermissionDenied(
                f"the plugin's Teleport role is missing permissions: {describe_missing(missing)}"
                " (the preset access-plugin role has them)",
                missing,
            )

    def can_read_events(self) -> bool:
        """May the role read the audit log (`event` [list, read])? The preset access-plugin
        role may not; the audit poller then waits for it instead of failing every round.
        Any other failure answers True: the poller finds out and records it."""
        end = datetime.now(UTC)
        try:
            self.get_events(
                start=end - timedelta(minutes=1),
                end=end,
                event_types=["access_request.review"],
                limit=1,
            )
        except PermissionDenied:
            return False
        except TeleportError:
            pass
        return True

    # -- watching and listing ---------------------------------------------------------------
    def watch(self, kinds: tuple[str, ...] = WATCH_KINDS) -> WatchStream:
        """Open a WatchEvents stream; the returned iterator can be `.cancel()`-ed."""
        request = pb.Watch(
            Kinds=[types_pb2.WatchKind(Kind=k) for k in kinds], AllowPartialSuccess=True
        )
        return self._auth.WatchEvents(request)

    def list_access_requests(self, page_size: int = 500) -> list[types_pb2.AccessRequestV3]:
        """Every access request the server has; falls back for servers before v14."""
        out: list[types_pb2.AccessRequestV3] = []
        start = ""
        try:
            while True:
                resp = self._call(
                    "ListAccessRequests",
                    self._auth.ListAccessRequests,
                    pb.ListAccessRequestsRequest(
                        Filter=types_pb2.AccessRequestFilter(), Limit=page_size, StartKey=start
                    ),
                )
                out.extend(resp.AccessRequests)
                if not resp.NextKey:
                    return out
                start = resp.NextKey
        except Unimplemented:
            try:
                stream = self._auth.GetAccessRequestsV2(
                    types_pb2.AccessRequestFilter(), timeout=self.timeout * 6
                )
                return list(stream)
            except grpc.RpcError as exc:
                raise classify_rpc_error(exc, "GetAccessRequestsV2") from None

    def list_monitoring_rules(self) -> list[amr_pb2.AccessMonitoringRule]:
        """Rules that notify Mattermost about access requests; [] on servers without them."""
        rules: list[amr_pb2.AccessMonitoringRule] = []
        token = ""
        try:
            while True:
                resp = self._call(
                    "ListAccessMonitoringRulesWithFilter",
                    self._amr.ListAccessMonitoringRulesWithFilter,
                    amr_pb2.ListAccessMonitoringRulesWithFilterRequest(
                        page_size=1000,
                        page_token=token,
                        subjects=["access_request"],
                        notification_name="mattermost",
                    ),
                )
                rules.extend(resp.rules)
                if not resp.next_page_token:
                    return rules
                token = resp.next_page_token
        except Unimplemented:
            pass
        rules, token = [], ""
        try:
            while True:
                resp = self._call(
                    "ListAccessMonitoringRules",
                    self._amr.ListAccessMonitoringRules,
                    amr_pb2.ListAccessMonitoringRulesRequest(page_size=1000, page_token=token),
                )
                rules.extend(
                    r
                    for r in resp.rules
                    if r.spec.notification.name == "mattermost"
                    and "access_request" in r.spec.subjects
                )
                if not resp.next_page_token:
                    return rules
                token = resp.next_page_token
        except Unimplemented:
            return []

    # -- roles ------------------------------------------------------------------------------
    def get_role_logins(self, role: str) -> list[str]:
        """The role's allowed logins (what approving it would grant); needs role [read]."""
        found = self._call("GetRole", self._auth.GetRole, pb.GetRoleRequest(Name=role))
        return list(found.Spec.Allow.Logins)

    # -- users ------------------------------------------------------------------------------
    def get_user_traits(self, name: str) -> dict[str, list[str]]:
        """A Teleport user's own traits (teleport.users.v1 GetUser); needs user [read].

        What the requester look-up reads (a chat handle set on the user). Rules read
        `login_traits` instead, which may add traits computed at login."""
        found = self._call(
            "GetUser", self._users.GetUser, users_pb2.GetUserRequest(name=name, with_secrets=False)
        )
        return {k: list(v.Values) for k, v in found.user.Spec.Traits.Values.items()}

    def login_traits(self, user: str) -> dict[str, list[str]]:
        """The user's traits as access monitoring rules see them (`user.traits`).

        Upstream (services.GetUserOrLoginState) reads the user's login state, which carries
        the traits computed at login, and falls back to the user resource when there is
        none (NotFound) or the server predates login states (Unimplemented). Needs
        `user_login_state: [read]` and `user: [read]`; PermissionDenied says which.
        """
        try:
            state = self._call(
                "GetUserLoginState",
                self._uls.GetUserLoginState,
                uls_pb2.GetUserLoginStateRequest(name=user),
            )
            return {t.key: list(t.values) for t in state.spec.traits}
        except (NotFound, Unimplemented):
            pass
        found = self._call("GetUser", self._auth.GetUser, pb.GetUserRequest(Name=user))
        return {k: list(v.Values) for k, v in found.Spec.Traits.Values.items()}

    # -- resources --------------------------------------------------------------------------
    def list_resources_by_name(self, kind: str, names: Sequence[str]) -> list[ResourceInfo]:
        """The named resources of one kind (`node` or `user_group`), as the Go plugins look
        them up for friendly names: ListResources with a name predicate and the caller's
        search-as and preview-as roles. Needs `<kind>: [list, read]`."""
        request = pb.ListResourcesRequest(
            ResourceType=kind,
            PredicateExpression=" || ".join(
                f"resource.metadata.name == {json.dumps(n)}" for n in names
            ),
            Limit=len(names),
            UseSearchAsRoles=True,
            UsePreviewAsRoles=True,
        )
        found: list[ResourceInfo] = []
        while True:
            resp = self._call("ListResources", self._auth.ListResources, request)
            for item in resp.Resources:
                which = item.WhichOneof("resource")
                if which == "Node":
                    node = item.Node
                    found.append(
                        _resource_info(node.Kind or "node", node.Metadata, node.Spec.Hostname)
                    )
                elif which == "UserGroup":
                    group = item.UserGroup
                    found.append(_resource_info(group.Kind or "user_group", group.Metadata, ""))
            if not resp.NextKey or len(found) >= len(names):
                return found
            request.StartKey = resp.NextKey

    # -- plugin data ------------------------------------------------------------------------
    def get_plugin_data(self, request_id: str, plugin: str) -> dict[str, str] | None:
        """The plugin's entry for one request, or None when it has none."""
        seq = self._call(
            "GetPluginData",
            self._auth.GetPluginData,
            types_pb2.PluginDataFilter(Kind=PLUGIN_DATA_KIND, Resource=request_id, Plugin=plugin),
        )
        for item in seq.PluginData:
            entry = item.Spec.Entries.get(plugin)
            if entry is not None and entry.Data:
                return dict(entry.Data)
        return None

    def update_plugin_data(
        self, request_id: str, plugin: str, set_: dict[str, str], expect: dict[str, str]
    ) -> None:
        """Compare-and-set: raises CompareFailed when `expect` no longer matches."""
        self._call(
            "UpdatePluginData",
            self._auth.UpdatePluginData,
            types_pb2.PluginDataUpdateParams(
                Kind=PLUGIN_DATA_KIND, Resource=request_id, Plugin=plugin, Set=set_, Expect=expect
            ),
        )

    # -- audit ------------------------------------------------------------------------------
    def get_events(
        self,
        *,
        start: datetime,
        end: datetime,
        event_types: Sequence[str],
        limit: int,
        start_key: str = "",
        order: int = OLDEST_FIRST,
        timeout: float | None = None,
    ) -> tuple[list[events_pb2.OneOf], str]:
        """One page of audit events in [start, end): (items, the key of the next page or "")."""
        page = self._call(
            "GetEvents",
            self._auth.GetEvents,
            pb.GetEventsRequest(
                Namespace="default",
                StartDate=start,
                EndDate=end,
                EventTypes=list(event_types),
                Limit=limit,
                StartKey=start_key,
                Order=order,
            ),
            timeout,
        )
        return list(page.Items), page.LastKey


__all__ = ["TeleportClient", "TeleportError"]
