"""Apply Teleport's view of access requests and rules to the database, idempotently.

Every function here is safe to call twice with the same input: the second call changes
nothing and reports nothing. What happens next (Mattermost) is not this module's business:
the caller hands in an `on_change` hook, called inside the transaction that stored the
change; the hook must defer its side effects to the commit (notifications.tasks.
enqueue_reconcile does), so a rolled-back write never triggers a post.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Protocol

from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.utils import timezone
from google.protobuf.json_format import MessageToDict

from common.request_log import request_context
from teleportbridge import sanitize
from teleportbridge.amr.rules import condition_error, log_once
from teleportbridge.models import (
    AccessMonitoringRule,
    AccessRequest,
    RejectedEvent,
    RequestState,
    Review,
)
from teleportbridge.models.requests import RESOLVED_STATES
from teleportbridge.teleport.proto import accessmonitoringrules_pb2 as amr_pb2
from teleportbridge.teleport.proto import types_pb2

log = logging.getLogger(__name__)

# AccessRequest.user and Review.author: longer names are cut with a marker (sanitize.fit).
USER_MAX = 255
_STATE_NAMES = {
    types_pb2.NONE: RequestState.NONE,
    types_pb2.PENDING: RequestState.PENDING,
    types_pb2.APPROVED: RequestState.APPROVED,
    types_pb2.DENIED: RequestState.DENIED,
    types_pb2.PROMOTED: RequestState.PROMOTED,
}


class ChangeHook(Protocol):
    """Told about every stored change of a request, inside the storing transaction."""

    def __call__(self, request_id: str, *, why: str) -> None: ...


def _ts(value) -> datetime | None:
    """A protobuf Timestamp as an aware datetime; Go's zero time and unset become None, and
    so does a time Python cannot represent (past year 9999) rather than failing the record."""
    if value is None or (value.seconds <= 0 and value.nanos == 0):
        return None
    try:
        return datetime.fromtimestamp(value.seconds + value.nanos / 1e9, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _label_values(lv) -> dict[str, list[str]]:
    return sanitize.json_value({k: list(v.Values) for k, v in sorted(lv.Values.items())})


def _resource_path(rid) -> str:
    path = f"/{rid.ClusterName}/{rid.Kind}/{rid.Name}"
    return f"{path}/{rid.SubResourceName}" if rid.SubResourceName else path


def request_fields(req: types_pb2.AccessRequestV3) -> dict:
    """The model fields for one AccessRequestV3 (everything we store but the reviews)."""
    spec = req.Spec
    resource_ids = list(spec.RequestedResourceIDs) or [
        r.id for r in spec.RequestedResourceAccessIDs
    ]
    # Every string is normalised for storage (see sanitize.py): the same on both databases.
    return {
        "user": sanitize.fit(spec.User, USER_MAX),
        "roles": sanitize.texts(list(spec.Roles)),
        "resources": sanitize.texts([_resource_path(r) for r in resource_ids]),
        "reason": sanitize.text(spec.RequestReason),
        "state": _STATE_NAMES.get(spec.State, RequestState.NONE),
        "created_at": _ts(spec.Created),
        "expires_at": _ts(spec.Expires),
        "max_duration": _ts(spec.MaxDuration) if spec.HasField("MaxDuration") else None,
        "suggested_reviewers": sanitize.texts(list(spec.SuggestedReviewers)),
        "resolve_reason": sanitize.text(spec.ResolveReason),
        "system_annotations": _label_values(spec.SystemAnnotations),
        "resolve_annotations": _label_values(spec.ResolveAnnotations),
        "revision": sanitize.fit(req.Metadata.Revision, 128),
        # LONG_TERM (access-list promotion) never gets Approve/Deny buttons.
        "request_kind": types_pb2.AccessRequestKind.Name(spec.RequestKind)
        if spec.RequestKind in types_pb2.AccessRequestKind.values()
        else "",
    }


def fingerprint(req: types_pb2.AccessRequestV3) -> str:
    """Stable hash of the request: equal for a replayed event, different for any change."""
    return hashlib.sha256(req.SerializeToString(deterministic=True)).hexdigest()


def upsert_request(
    req: types_pb2.AccessRequestV3, *, on_change: ChangeHook, source: str = "event"
) -> bool:
    """Store one request and its reviews; True when anything changed (on_change was told)."""
    request_id = req.Metadata.Name
    if not request_id:
        log.warning("Ignoring an access request event without an ID (%s)", source)
        return False
    if not sanitize.is_request_id(request_id):
        _reject(request_id, "the request id is not an id (letters, digits, -)", req=req)
        return False
    try:
        return _upsert(req, request_id, on_change=on_change, source=source)
    except (DataError, IntegrityError) as exc:
        # The database refused this record's values: this record only.
        _reject(request_id, "the record could not be stored", req=req, error=exc)
        return False
    except DatabaseError:
        # The database itself is down, not migrated, or the transaction is broken
        # (InternalError): not this record's fault, and the caller's transaction (the
        # watcher's batch) must end; the resync after the reconnect stores it again.
        raise
    except Exception as exc:
        # A value our code chokes on: this record only.
        _reject(request_id, "the record could not be stored", req=req, error=exc)
        return False


def _reject(request_id: str, reason: str, *, req=None, error: Exception | None = None) -> None:
    raw = MessageToDict(req, preserving_proto_field_name=True) if req is not None else {}
    RejectedEvent.record(
        RejectedEvent.Kind.ACCESS_REQUEST,
        request_id,
        reason,
        error=f"{type(error).__name__}: {error}" if error is not None else "",
        raw=raw,
    )


def _upsert(
    req: types_pb2.AccessRequestV3, request_id: str, *, on_change: ChangeHook, source: str
) -> bool:
    digest = fingerprint(req)
    with request_context(request_id), transaction.atomic():
        # Row lock: the watcher and a resync (or two watchers during a hand-over) may
        # apply events for the same request at once; the lock orders them.
        current = AccessRequest.objects.select_for_update().filter(pk=request_id).first()
        if current is not None and (current.fingerprint == digest or current.deleted_at):
            # Same event twice, or a stale PUT replayed after the DELETE: nothing to do.
            return False
        fields = request_fields(req)
        now = timezone.now()
        if (
            current is not None
            and current.state in RESOLVED_STATES
            and fields["state"] not in RESOLVED_STATES
        ):
            # Teleport never un-resolves a request: an older event replayed after a
            # resync must not flip the posts back to PENDING.
            fields["state"] = current.state
        if current is None:
            current = AccessRequest(pk=request_id)
            previous_state = None
        else:
            previous_state = current.state
        for name, value in fields.items():
            setattr(current, name, value)
        current.fingerprint = digest
        current.last_event_at = now
        if current.state in RESOLVED_STATES and not current.resolved_at:
            current.resolved_at = now
        # A new row is INSERTed directly (save() would first try an UPDATE that finds
        # nothing). Race: the SELECT FOR UPDATE had no row to lock, so a second writer
        # storing the same new request at this moment gets the unique-key error on its
        # INSERT, exactly as with save()'s UPDATE-then-INSERT; its change is the same
        # event, already stored by the first.
        current.save(force_insert=previous_state is None)
        new_reviews = _store_reviews(current, req.Spec.Reviews)
        log.info(
            "Access request %s from %s: %s%s (%s)",
            "stored" if previous_state is None else "updated",
            current.user,
            current.state,
            f", {new_reviews} new review(s)" if new_reviews else "",
            source,
        )
        on_change(request_id, why="stored" if previous_state is None else "updated")
        return True


def _store_reviews(request: AccessRequest, reviews: Iterable[types_pb2.AccessReview]) -> int:
    created = 0
    for position, rv in enumerate(reviews):
        _, was_created = Review.objects.get_or_create(
            request=request,
            author=sanitize.fit(rv.Author, USER_MAX),
            created_at=_ts(rv.Created),
            defaults={
                "position": position,
                "roles": sanitize.texts(list(rv.Roles)),
                "proposed_state": _STATE_NAMES.get(rv.ProposedState, RequestState.NONE),
                "reason": sanitize.text(rv.Reason),
            },
        )
        created += was_created
    return created


def mark_deleted(request_id: str, *, on_change: ChangeHook, source: str = "event") -> bool:
    """A DELETE (expiry or tctl rm): keep the row, record the deletion, expire if pending."""
    if not sanitize.is_request_id(request_id):
        _reject(request_id, "the request id of a DELETE is not an id (letters, digits, -)")
        return False
    with request_context(request_id), transaction.atomic():
        current = AccessRequest.objects.select_for_update().filter(pk=request_id).first()
        if current is None:
            # Deleted before we ever saw it: keep a tombstone so the audit view can match.
            AccessRequest.objects.create(
                pk=request_id,
                user="",
                state=RequestState.EXPIRED,
                deleted_at=timezone.now(),
                resolved_at=timezone.now(),
            )
            log.info("Access request deleted before it was seen (%s)", source)
            return True
        if current.deleted_at:
            return False
        current.deleted_at = timezone.now()
        if current.state not in RESOLVED_STATES:
            current.state = RequestState.EXPIRED
            current.resolved_at = current.deleted_at
        current.save(update_fields=["deleted_at", "state", "resolved_at"])
        log.info("Access request deleted in Teleport, now %s (%s)", current.state, source)
        on_change(request_id, why="deleted")
        return True


#: Requests stored per transaction by a resync, and how often it logs its progress.
RESYNC_CHUNK = 100
RESYNC_PROGRESS_EVERY = 1000


def resync_requests(
    requests: Iterable[types_pb2.AccessRequestV3],
    *,
    on_change: ChangeHook,
    group: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    progress_every: int = RESYNC_PROGRESS_EVERY,
    chunk_size: int = RESYNC_CHUNK,
) -> tuple[int, int]:
    """Level-triggered catch-up after (re)connecting: returns (changed, deleted).

    Anything created, reviewed or resolved while we were away shows up as a changed
    fingerprint; an unresolved request Teleport no longer has was deleted meanwhile.
    `group` wraps each chunk's changes so the consumer can hand them on together
    (Watcher.group_changes).
    """
    seen: set[str] = set()
    changed = 0
    pending = list(requests)
    total = len(pending)
    for start in range(0, total, chunk_size):
        chunk = pending[start : start + chunk_size]
        # One commit per chunk instead of per request: a catch-up of thousands was mostly
        # commits. Each upsert is a savepoint inside it, so one bad record is still
        # quarantined alone (upsert_request); the queue rows commit with their chunk.
        with transaction.atomic(), group():
            for req in chunk:
                seen.add(req.Metadata.Name)
                changed += upsert_request(req, on_change=on_change, source="resync")
        done = start + len(chunk)
        if total > progress_every and (
            done // progress_every > start // progress_every or done == total
        ):
            log.info("resync: %s/%s stored", f"{done:,}", f"{total:,}")
    # The difference in Python: `exclude(pk__in=seen)` binds one parameter per request
    # Teleport has, past SQLite's limit (32,766) on a large cluster.
    open_ids = (
        AccessRequest.objects.filter(deleted_at__isnull=True)
        .exclude(state__in=RESOLVED_STATES)
        .values_list("pk", flat=True)
    )
    gone = [pk for pk in open_ids if pk not in seen]
    deleted = sum(mark_deleted(pk, on_change=on_change, source="resync") for pk in gone)
    return changed, deleted


def upsert_rule(rule: amr_pb2.AccessMonitoringRule) -> None:
    """Store a rule and validate its condition now (start-up and each PUT event), so a
    broken rule is visible before the first request it would have routed."""
    spec = rule.spec
    name = sanitize.fit(rule.metadata.name, 255)
    condition = sanitize.text(spec.condition)
    error = condition_error(condition)
    fields: dict[str, object] = {
        "subjects": sanitize.texts(list(spec.subjects)),
        "states": sanitize.texts(list(spec.states)),
        "condition": condition,
        "notification_name": sanitize.fit(spec.notification.name, 64),
        "recipients": sanitize.texts(list(spec.notification.recipients)),
        "revision": sanitize.fit(rule.metadata.revision, 128),
        "condition_error": error,
    }
    old = AccessMonitoringRule.objects.filter(name=name).first()
    if old is None or old.condition != condition:
        # A new condition starts with a clean record: old evaluation errors were about
        # the old text.
        fields.update(last_error=error, last_error_at=timezone.now() if error else None)
    AccessMonitoringRule.objects.update_or_create(name=name, defaults=fields)
    if error and "access_request" in spec.subjects and spec.notification.name == "mattermost":
        log_once(name, error, "has a condition that cannot be used")


def replace_rules(rules: Iterable[amr_pb2.AccessMonitoringRule]) -> int:
    """Mirror the server's full rule list (after INIT): add, update and drop."""
    with transaction.atomic():
        names = []
        for rule in rules:
            upsert_rule(rule)
            names.append(sanitize.fit(rule.metadata.name, 255))
        AccessMonitoringRule.objects.exclude(name__in=names).delete()
    return len(names)


def delete_rule(name: str) -> None:
    AccessMonitoringRule.objects.filter(name=sanitize.fit(name, 255)).delete()
