"""Cluster state and the control API tests drive: access requests, reviews, rules.

Every mutation does what Teleport's Auth would: store the resource, emit a watch event (PUT or
DELETE) to open streams and append an audit event. Events are published while the state lock
is held, so every stream sees mutations in the order they happened. State outlives the gRPC
server (stop/start keeps it), and mutations made while no stream is open are simply not
delivered as events, exactly the "changed while disconnected" situation a watcher must resync.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import cast

from simulators.teleport.audit import AuditLog, ts
from simulators.teleport.errors import BadParameter, NotFound
from simulators.teleport.plugindata import PluginDataStore, check_kind
from simulators.teleport.rbac import VERBS, Rbac
from simulators.teleport.resources import ResourceStore
from simulators.teleport.roles import RoleStore
from simulators.teleport.rules import KIND_RULE, RuleStore, build_rule
from simulators.teleport.users import UserStore
from simulators.teleport.watch import WatchHub
from teleportbridge.teleport.proto import (
    accessmonitoringrules_pb2 as amr_pb2,
)
from teleportbridge.teleport.proto import (
    authservice_pb2,
    types_pb2,
)

RequestState = types_pb2.RequestState
KIND_REQUEST = "access_request"
#: Kinds a WatchEvents stream may subscribe to.
WATCHABLE_KINDS = (KIND_REQUEST, KIND_RULE)
#: Anything accepted where a resource is named: a ResourceID, "/cluster/kind/name" or "kind/name".
ResourceSpec = types_pb2.ResourceID | str


def _state_name(state: int) -> str:
    return RequestState.Name(state)


def _copy_request(req: types_pb2.AccessRequestV3) -> types_pb2.AccessRequestV3:
    out = types_pb2.AccessRequestV3()
    out.CopyFrom(req)
    return out


class ClusterState:
    """Access requests, monitoring rules, plugin data, audit log and RBAC of one cluster."""

    def __init__(self, cluster_name: str, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.cluster_name = cluster_name
        #: Source of "now" for created/audit times; tests may replace it.
        self.clock: Callable[[], dt.datetime] = clock or (lambda: dt.datetime.now(dt.UTC))
        # Re-entrant: control methods call each other (review -> resolve) under one lock. It
        # guards _requests and _order_keys, and serialises event publication.
        self._lock = threading.RLock()
        self._requests: dict[str, types_pb2.AccessRequestV3] = {}
        # Sort key of every request ever seen (kept after deletion so a NextKey naming a
        # deleted request still resolves to a position).
        self._order_keys: dict[str, tuple[int, str]] = {}
        self.rule_store = RuleStore()
        self.hub = WatchHub()
        self.plugin_store = PluginDataStore()
        self.audit = AuditLog(cluster_name, lambda: self.clock())
        self.rbac = Rbac()
        self.roles = RoleStore()
        self.users = UserStore()
        self.resources = ResourceStore()

    # -- events -----------------------------------------------------------------------------

    def _put(
        self, kind: str, resource: types_pb2.AccessRequestV3 | amr_pb2.AccessMonitoringRule
    ) -> None:
        event = authservice_pb2.Event(Type=authservice_pb2.PUT)
        if isinstance(resource, types_pb2.AccessRequestV3):
            event.AccessRequest.CopyFrom(resource)
        else:
            event.AccessMonitoringRule.CopyFrom(resource)
        self.hub.publish(kind, event)

    def _delete_event(self, kind: str, name: str) -> None:
        version = "v3" if kind == KIND_REQUEST else "v1"
        event = authservice_pb2.Event(Type=authservice_pb2.DELETE)
        event.ResourceHeader.Kind = kind
        event.ResourceHeader.Version = version
        event.ResourceHeader.Metadata.Name = name
        self.hub.publish(kind, event)

    # -- requests: reading ------------------------------------------------------------------

    def _get(self, request_id: str) -> types_pb2.AccessRequestV3:
        """The stored message (not a copy). Caller holds the lock."""
        try:
            return self._requests[request_id]
        except KeyError:
            raise NotFound(f'access request "{request_id}" not found') from None

    def get_request(self, request_id: str) -> types_pb2.AccessRequestV3:
        """A copy of the request; NotFound if it does not exist."""
        with self._lock:
            return _copy_request(self._get(request_id))

    @property
    def requests(self) -> list[types_pb2.AccessRequestV3]:
        """Copies of all requests, oldest first (created, then id)."""
        with self._lock:
            ids = sorted(self._requests, key=self._order_keys.__getitem__)
            return [_copy_request(self._requests[i]) for i in ids]

    def sorted_requests(
        self, sort: int = 0, descending: bool = False
    ) -> list[tuple[tuple, types_pb2.AccessRequestV3]]:
        """(sort key, copy) pairs in list order; used by ListAccessRequests paging."""
        with self._lock:
            pairs = [(self.sort_key(i, sort), _copy_request(r)) for i, r in self._requests.items()]
        pairs.sort(key=lambda p: p[0], reverse=descending)
        return pairs

    def sort_key(self, request_id: str, sort: int = 0) -> tuple:
        """Key used for ordering and for locating a StartKey, by AccessRequestSort value."""
        with self._lock:
            created = self._order_keys.get(request_id)
            req = self._requests.get(request_id)
        if created is None:
            raise BadParameter(f'invalid start key "{request_id}"')
        if sort == authservice_pb2.STATE and req is not None:
            return (int(req.Spec.State), *created)
        if sort == authservice_pb2.USER and req is not None:
            return (req.Spec.User, *created)
        return created

    # -- requests: mutations ----------------------------------------------------------------

    @staticmethod
    def _resource_id(spec: ResourceSpec, cluster: str) -> types_pb2.ResourceID:
        if isinstance(spec, types_pb2.ResourceID):
            return spec
        parts = spec.strip("/").split("/", 2)
        if spec.startswith("/") and len(parts) == 3:
            return types_pb2.ResourceID(ClusterName=parts[0], Kind=parts[1], Name=parts[2])
        if len(parts) == 2:
            return types_pb2.ResourceID(ClusterName=cluster, Kind=parts[0], Name=parts[1])
        raise ValueError(f"resource {spec!r}: use '/cluster/kind/name' or 'kind/name'")

    def create_request(
        self,
        user: str = "alice",
        roles: Sequence[str] = ("editor",),
        reason: str = "",
        suggested_reviewers: Iterable[str] = (),
        resources: Iterable[ResourceSpec] = (),
        request_id: str | None = None,
        created: dt.datetime | None = None,
        expires: dt.datetime | None = None,
        system_annotations: Mapping[str, Sequence[str]] | None = None,
    ) -> str:
        """Create a PENDING request (PUT event + access_request.create audit); returns its id.

        ``expires`` defaults to one hour after ``created`` (which defaults to now).
        """
        request_id = request_id or str(uuid.uuid4())
        created = created or self.clock()
        expires = expires or created + dt.timedelta(hours=1)
        req = types_pb2.AccessRequestV3(Kind=KIND_REQUEST, Version="v3")
        req.Metadata.Name = request_id
        req.Metadata.Namespace = "default"
        req.Metadata.Expires.CopyFrom(ts(expires))
        req.Metadata.Revision = str(uuid.uuid4())
        spec = req.Spec
        spec.User = user
        spec.Roles.extend(roles)
        spec.State = RequestState.PENDING
        spec.Created.CopyFrom(ts(created))
        spec.Expires.CopyFrom(ts(expires))
        spec.RequestReason = reason
        spec.SuggestedReviewers.extend(suggested_reviewers)
        for resource in resources:
            spec.RequestedResourceIDs.append(self._resource_id(resource, self.cluster_name))
        for key, values in (system_annotations or {}).items():
            spec.SystemAnnotations.Values[key].Values.extend(values)
        with self._lock:
            if request_id in self._requests:
                raise BadParameter(f'access request "{request_id}" already exists')
            self._requests[request_id] = req
            self._order_keys[request_id] = (ts(created).ToNanoseconds(), request_id)
            self._put(KIND_REQUEST, req)
            self.audit.emit_request_event(
                "access_request.create",
                request_id,
                user=user,
                roles=list(roles),
                state="PENDING",
                reason=reason,
                expires=expires,
                resources=[(r.ClusterName, r.Kind, r.Name) for r in spec.RequestedResourceIDs],
            )
        return request_id

    def review(
        self,
        request_id: str,
        author: str,
        state: str | int = "APPROVED",
        reason: str = "",
        *,
        auto_resolve: bool = True,
        roles: Sequence[str] = (),
    ) -> types_pb2.AccessRequestV3:
        """Add a review (PUT + access_request.review audit); returns the updated request.

        With Teleport's default thresholds (one approval / one denial) the first review also
        resolves a pending request to its proposed state; ``auto_resolve=False`` keeps the
        request pending, as a higher threshold would.
        """
        proposed = cast(
            "RequestState", RequestState.Value(state) if isinstance(state, str) else state
        )
        if proposed not in (RequestState.APPROVED, RequestState.DENIED):
            raise BadParameter(f"invalid review state {_state_name(proposed)}")
        with self._lock:
            req = self._get(request_id)
            if req.Spec.State != RequestState.PENDING:
                raise BadParameter(
                    f"the access request has been already {_state_name(req.Spec.State).lower()}"
                )
            if any(r.Author == author for r in req.Spec.Reviews):
                raise BadParameter(f'user "{author}" has already reviewed this request')
            review = req.Spec.Reviews.add(Author=author, ProposedState=proposed, Reason=reason)
            review.Roles.extend(roles)
            review.Created.CopyFrom(ts(self.clock()))
            if auto_resolve:
                req.Spec.State = proposed
                req.Spec.ResolveReason = reason
            req.Metadata.Revision = str(uuid.uuid4())
            self._put(KIND_REQUEST, req)
            self.audit.emit_request_event(
                "access_request.review",
                request_id,
                user=author,
                roles=list(req.Spec.Roles),
                state=_state_name(req.Spec.State),
                reason=reason,
                reviewer=author,
                proposed_state=_state_name(proposed),
            )
            return _copy_request(req)

    def set_state(
        self,
        request_id: str,
        state: str | int,
        reason: str = "",
        *,
        delegator: str = "",
        annotations: Mapping[str, Sequence[str]] | None = None,
    ) -> types_pb2.AccessRequestV3:
        """Resolve a pending request (PUT + access_request.update audit); returns it."""
        new_state = cast(
            "RequestState", RequestState.Value(state) if isinstance(state, str) else state
        )
        if new_state not in (RequestState.APPROVED, RequestState.DENIED, RequestState.PROMOTED):
            raise BadParameter(f"cannot set request state to {_state_name(new_state)}")
        with self._lock:
            req = self._get(request_id)
            if req.Spec.State != RequestState.PENDING:
                raise BadParameter(
                    f"cannot set state of request {request_id}: it is already "
                    f"{_state_name(req.Spec.State)}"
                )
            req.Spec.State = new_state
            req.Spec.ResolveReason = reason
            for key, values in (annotations or {}).items():
                req.Spec.ResolveAnnotations.Values[key].Values.extend(values)
            req.Metadata.Revision = str(uuid.uuid4())
            self._put(KIND_REQUEST, req)
            self.audit.emit_request_event(
                "access_request.update",
                request_id,
                user=delegator,
                roles=list(req.Spec.Roles),
                state=_state_name(new_state),
                reason=reason,
                delegator=delegator,
            )
            return _copy_request(req)

    def approve(self, request_id: str, reason: str = "") -> types_pb2.AccessRequestV3:
        return self.set_state(request_id, RequestState.APPROVED, reason)

    def deny_request(self, request_id: str, reason: str = "") -> types_pb2.AccessRequestV3:
        return self.set_state(request_id, RequestState.DENIED, reason)

    def promote(self, request_id: str, reason: str = "") -> types_pb2.AccessRequestV3:
        return self.set_state(request_id, RequestState.PROMOTED, reason)

    def deny(self, first: str, second: str = "") -> types_pb2.AccessRequestV3 | None:
        """Two meanings, told apart by the first argument:

        * ``deny(verb, resource)`` with verb in list/read/create/update/delete: RBAC, the
          same as ``rbac.deny`` (e.g. ``sim.deny("list", "access_request")``); returns None.
        * ``deny(request_id, reason="")``: deny the request, like :meth:`deny_request`.
        """
        if first in VERBS:
            self.rbac.deny(first, second)
            return None
        return self.deny_request(first, second)

    def allow(self, verb: str, resource: str) -> None:
        """Undo an RBAC ``deny(verb, resource)``."""
        self.rbac.allow(verb, resource)

    def delete(self, request_id: str, *, user: str = "") -> None:
        """Delete a request and its plugin data (DELETE event + access_request.delete)."""
        with self._lock:
            self._get(request_id)
            del self._requests[request_id]
            self.plugin_store.delete_resource(request_id)
            self._delete_event(KIND_REQUEST, request_id)
            self.audit.emit_delete(request_id, user=user)

    def expire(self, request_id: str) -> None:
        """Let a request expire: Teleport's backend TTL removes it (DELETE event) and the
        audit log records access_request.expire."""
        with self._lock:
            req = self._get(request_id)
            expires = req.Spec.Expires.ToDatetime(dt.UTC)
            del self._requests[request_id]
            self.plugin_store.delete_resource(request_id)
            self._delete_event(KIND_REQUEST, request_id)
            self.audit.emit_expire(request_id, expires=expires)

    # -- plugin data ------------------------------------------------------------------------

    def get_plugin_data(
        self, kind: str, resource: str, plugin: str = ""
    ) -> authservice_pb2.PluginDataSeq:
        check_kind(kind)
        return self.plugin_store.get(resource, plugin)

    def update_plugin_data(
        self,
        kind: str,
        resource: str,
        plugin: str,
        set_: Mapping[str, str],
        expect: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Compare-and-swap; NotFound when the request does not exist."""
        check_kind(kind)
        with self._lock:
            self._get(resource)
            return self.plugin_store.update(resource, plugin, set_, expect)

    def set_plugin_data(
        self, request_id: str, data: Mapping[str, str], plugin: str = "mattermost"
    ) -> dict[str, str]:
        """Seed plugin data without a compare (e.g. state left by an earlier plugin run)."""
        return self.update_plugin_data(KIND_REQUEST, request_id, plugin, data)

    def plugin_data(self, request_id: str, plugin: str = "mattermost") -> dict[str, str]:
        """Current plugin data as a plain dict ({} when none)."""
        return self.plugin_store.snapshot(request_id, plugin)

    # -- roles ------------------------------------------------------------------------------

    def set_role(self, name: str, logins: Sequence[str] = ()) -> None:
        """Create or replace a role with these allowed logins (what GetRole returns)."""
        self.roles.put(name, logins)

    # -- users ------------------------------------------------------------------------------

    def set_user(
        self,
        name: str,
        traits: Mapping[str, Sequence[str]] | None = None,
        *,
        login_state_traits: Mapping[str, Sequence[str]] | None = None,
        **more_traits: Sequence[str],
    ) -> None:
        """Create or replace a user (GetUser, both the legacy and the users.v1 RPC) and
        optionally its login state (GetUserLoginState, which rules prefer) with these
        traits; `set_user("dave", chat=["bob"])` is `set_user("dave", {"chat": ["bob"]})`."""
        merged = {**(traits or {}), **more_traits}
        self.users.put(name, merged, login_state_traits=login_state_traits)

    def put_resource(
        self,
        kind: str,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        hostname: str = "",
        description: str = "",
    ) -> None:
        """A node or user group that requests can name (ListResources serves it)."""
        self.resources.put(kind, name, labels=labels, hostname=hostname, description=description)

    # -- access monitoring rules ------------------------------------------------------------

    def put_rule(
        self,
        name: str,
        recipients: Sequence[str],
        subjects: Sequence[str] = (KIND_REQUEST,),
        notification_name: str = "mattermost",
        condition: str = "",
        states: Sequence[str] = (),
    ) -> amr_pb2.AccessMonitoringRule:
        """Create or replace a rule (PUT event); returns it."""
        rule = build_rule(name, recipients, subjects, notification_name, condition, states)
        with self._lock:
            self.rule_store.put(rule)
            self._put(KIND_RULE, rule)
        return rule

    def delete_rule(self, name: str) -> None:
        """Delete a rule (DELETE event); NotFound if absent."""
        with self._lock:
            if not self.rule_store.delete(name):
                raise NotFound(f'access_monitoring_rule "{name}" not found')
            self._delete_event(KIND_RULE, name)

    @property
    def rules(self) -> list[amr_pb2.AccessMonitoringRule]:
        """Copies of all rules sorted by name."""
        return self.rule_store.list()
