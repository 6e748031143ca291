"""Audit poller: copy Teleport's access-request audit events into AuditEvent rows.

Why a poller rather than the watch stream: the watch stream carries resource state, not
*who did what*; only the audit log proves that a review ("Access Request Reviewed",
T5002I) happened and by whom, which is what the dashboard correlates notifications with.

Resume rule: events are read oldest first (see OLDEST_FIRST in teleport/client.py) from
`AuditCursor.last_time - LATE_EVENT_WINDOW` *inclusive*. Inclusive, so events that share the
newest timestamp are never skipped (the IDs already stored at that timestamp are kept in
`last_ids_at_time` and skipped on the next read). The window, because Teleport's audit
backends (DynamoDB, Athena, Firestore) are eventually consistent: an event can become
visible to a search after a newer one was already returned, and a cursor that only moved
forward would never read it. Re-reading the window is harmless: rows are upserted by event
ID (idempotent). The cursor moves in the same transaction as each page's rows, so a crash
between pages loses nothing and stores nothing twice. Only events with a real time move the
cursor: a backend that omits one must not push it past events not yet read.

Called by the service in a loop (`AuditPoller.step`) with the watcher's connected
TeleportClient. The preset `access-plugin` role has no `event` permission: then the poller
says so once, records it for the dashboard (`AuditCursor.permission_missing`) and asks
again only every `denied_interval` (an hour) instead of failing every 30 s.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    transaction,
)
from django.db.models import F
from django.utils import timezone
from google.protobuf.json_format import MessageToDict

from teleportbridge import sanitize
from teleportbridge.models import AuditCursor, AuditEvent, RejectedEvent
from teleportbridge.teleport.client import TeleportClient
from teleportbridge.teleport.errors import PermissionDenied, TeleportError
from teleportbridge.teleport.proto import events_pb2

log = logging.getLogger(__name__)

DEFAULT_EVENT_TYPES = (
    "access_request.create",
    "access_request.update",
    "access_request.review",
    "access_request.delete",
    "access_request.expire",
)
#: How far back the very first poll reads (no cursor yet).
INITIAL_LOOKBACK = timedelta(days=7)
#: How late an event may become visible after a newer one and still be read (see above).
LATE_EVENT_WINDOW = timedelta(minutes=5)
RPC_TIMEOUT = 30.0


@dataclass(frozen=True)
class _Cursor:
    time: datetime | None
    ids: frozenset[str]


def poll_audit_once(
    client: TeleportClient,
    *,
    now: datetime | None = None,
    page_size: int = 500,
    event_types: Sequence[str] = DEFAULT_EVENT_TYPES,
    timeout: float = RPC_TIMEOUT,
) -> int:
    """Read every new audit event up to `now`, store them, advance the cursor.

    Returns how many new AuditEvent rows were stored. A TeleportError is an expected
    condition (Auth restarting, RBAC): it is recorded in `AuditCursor.last_error` as one
    line, pages already stored stay stored, and the function returns normally so the
    caller's loop simply tries again later. Anything else is a bug and is raised (after
    recording it too, so the health panel shows it).
    """
    now = now or timezone.now()
    cursor_row, _ = AuditCursor.objects.get_or_create(pk=1)
    cursor = _Cursor(cursor_row.last_time, frozenset(cursor_row.last_ids_at_time))
    start = cursor.time - LATE_EVENT_WINDOW if cursor.time else now - INITIAL_LOOKBACK
    stored = 0
    start_key = ""
    try:
        while True:
            items, last_key = client.get_events(
                start=start,
                end=now,
                event_types=event_types,
                limit=page_size,
                start_key=start_key,
                timeout=timeout,
            )
            n, cursor = _store_page(items, cursor, now)
            stored += n
            if not last_key:
                break
            start_key = last_key
    except TeleportError as exc:
        message = _one_line(str(exc))
        denied = isinstance(exc, PermissionDenied)
        # A missing permission is AuditPoller's one warning, not one line per poll.
        (log.debug if denied else log.warning)(
            "audit poll: %s (stored %d event(s) before the error)", message, stored
        )
        AuditCursor.objects.filter(pk=1).update(
            last_poll_at=now,
            last_error=message,
            failed_polls=F("failed_polls") + 1,
            permission_missing=denied,
        )
        return stored
    except Exception as exc:
        AuditCursor.objects.filter(pk=1).update(
            last_poll_at=now,
            last_error=_one_line(f"bug: {type(exc).__name__}: {exc}"),
            failed_polls=F("failed_polls") + 1,
        )
        raise
    AuditCursor.objects.filter(pk=1).update(
        last_poll_at=now, last_error="", permission_missing=False
    )
    if stored:
        log.info("audit poll: stored %d new event(s)", stored)
    return stored


#: What to add to the plugin's role when the audit log cannot be read.
EVENT_RULE = "event: [list, read]"
DENIED_INTERVAL = 3600.0


class AuditPoller:
    """The audit loop's memory, one per runwatcher: poll every round while the role may
    read the audit log; while it may not, say so once and poll only every
    `denied_interval` seconds until it is granted (then say that, once)."""

    def __init__(self, *, denied_interval: float = DENIED_INTERVAL, clock=time.monotonic) -> None:
        self.denied_interval = denied_interval
        self.clock = clock
        self.denied = False
        self._next_at = float("-inf")  # clock() before which a denied poller stays quiet

    def permission(self, *, granted: bool) -> None:
        """What the start-up probe or the last poll found out about `event` [list, read]."""
        if not granted:
            self._next_at = self.clock() + self.denied_interval
            if not self.denied:
                log.warning(
                    "The plugin's Teleport role cannot read the audit log (GetEvents: "
                    "permission denied): add the rule `%s` to it (the preset access-plugin "
                    "role lacks it). Until then the dashboard's audit pages stay empty; "
                    "trying again every %ss",
                    EVENT_RULE,
                    f"{self.denied_interval:g}",
                )
        elif self.denied:
            log.info("The audit log is readable now; polling it again")
        self.denied = not granted
        AuditCursor.objects.update_or_create(pk=1, defaults={"permission_missing": not granted})

    def step(self, client: TeleportClient) -> int | None:
        """One round of the loop: events stored, or None if it is not time to ask yet."""
        if self.denied and self.clock() < self._next_at:
            return None
        stored = poll_audit_once(client)
        missing = (
            AuditCursor.objects.filter(pk=1).values_list("permission_missing", flat=True).first()
        )
        if bool(missing) or self.denied:
            self.permission(granted=not missing)
        return stored


def _store_page(
    items: Sequence[events_pb2.OneOf], cursor: _Cursor, now: datetime
) -> tuple[int, _Cursor]:
    """Upsert one page and move the cursor in one transaction; returns (created, cursor)."""
    rows: dict[str, AuditEvent] = {}
    new_time, new_ids = cursor.time, set(cursor.ids)
    for item in items:
        try:
            row = event_row(item)
        except Exception as exc:  # one item our code cannot read must not stop the poller
            # Named by its bytes (it has no readable id): the window's re-read of the same
            # event is the same rejection, another unreadable event a new one.
            digest = hashlib.sha256(item.SerializeToString(deterministic=True)).hexdigest()
            RejectedEvent.record(
                RejectedEvent.Kind.AUDIT_EVENT,
                f"(unreadable) sha256:{digest[:16]}",
                "the event could not be read",
                error=f"{type(exc).__name__}: {exc}",
                once=True,
            )
            continue
        if row is None:
            continue  # a type our trimmed proto does not declare: not ours to store
        if cursor.time is not None and row.time == cursor.time and row.event_id in cursor.ids:
            continue  # read again because the window starts at last_time inclusive
        if row.request_id and not sanitize.is_request_id(row.request_id):
            # Quarantined, yet the cursor still moves past it (below), so it is read once.
            RejectedEvent.record(
                RejectedEvent.Kind.AUDIT_EVENT,
                row.event_id,
                "the event's request id is not an id (letters, digits, -)",
                raw=row.raw,
                once=True,  # the late-event window reads it again: one event, one count
            )
        else:
            rows[row.event_id] = row
        if not item_has_time(item):
            continue  # stored with the poll's time, but it says nothing about the cursor
        if new_time is None or row.time > new_time:
            new_time, new_ids = row.time, {row.event_id}
        elif row.time == new_time:
            new_ids.add(row.event_id)
    with transaction.atomic():
        # Audit events are immutable, so "upsert" = insert the ones we do not have yet.
        existing = set(AuditEvent.objects.filter(pk__in=list(rows)).values_list("pk", flat=True))
        fresh = [r for eid, r in rows.items() if eid not in existing]
        fresh = _insert(fresh)
        locked = AuditCursor.objects.select_for_update().get(pk=1)
        locked.last_time = new_time
        locked.last_ids_at_time = sorted(new_ids)
        locked.events_stored += len(fresh)
        locked.save(update_fields=["last_time", "last_ids_at_time", "events_stored"])
    return len(fresh), _Cursor(new_time, frozenset(new_ids))


def _insert(rows: list[AuditEvent]) -> list[AuditEvent]:
    """Insert the page's new rows; returns those stored.

    One INSERT for the page; if the database refuses it, one savepoint per row, so that a
    row it cannot take is quarantined and the rest of the page (and the cursor) go on.
    """
    try:
        with transaction.atomic():
            AuditEvent.objects.bulk_create(rows, ignore_conflicts=True)
        return rows
    except (OperationalError, InterfaceError, ProgrammingError):
        raise  # the database is down or not migrated: not one row's fault
    except DatabaseError:
        pass
    stored = []
    for row in rows:
        try:
            with transaction.atomic():
                AuditEvent.objects.bulk_create([row], ignore_conflicts=True)
            stored.append(row)
        except (OperationalError, InterfaceError, ProgrammingError):
            raise
        except DatabaseError as exc:
            RejectedEvent.record(
                RejectedEvent.Kind.AUDIT_EVENT,
                row.event_id,
                "the event could not be stored",
                error=f"{type(exc).__name__}: {exc}",
                raw=row.raw,
                once=True,  # re-read by the late-event window: one event, one count
            )
    return stored


def event_row(item: events_pb2.OneOf) -> AuditEvent | None:
    """One OneOf item as an (unsaved) AuditEvent, or None for an undeclared event type."""
    which = item.WhichOneof("Event")
    if which is None:
        return None
    ev = getattr(item, which)
    md = ev.Metadata
    when = _event_time(md)
    request_id = sanitize.text(ev.RequestID)
    fields: dict[str, Any] = {}
    # Every value is normalised for storage (sanitize.py): the same on both databases.
    if which == "AccessRequestCreate":
        fields = {
            "user": sanitize.fit(ev.User.User, 255),
            "reviewer": sanitize.fit(ev.Reviewer, 255),
            "proposed_state": sanitize.fit(ev.ProposedState, 16),
            "state": sanitize.fit(ev.RequestState, 16),
            "reason": sanitize.text(ev.Reason),
            "roles": sanitize.texts(list(ev.Roles)),
        }
    elif which == "AccessRequestDelete":
        fields = {"user": sanitize.fit(ev.User.User, 255)}
    elif which == "AccessRequestExpire":
        request_id = request_id or sanitize.text(ev.Resource.Name)
        fields = {"state": "EXPIRED"}
    return AuditEvent(
        event_id=_event_id(md, request_id),
        event_type=sanitize.fit(md.Type, 64),
        code=sanitize.fit(md.Code, 16),
        time=when,
        index=md.Index,
        request_id=request_id if len(request_id) <= 64 else sanitize.fit(request_id, 64),
        raw=sanitize.json_value(MessageToDict(ev, preserving_proto_field_name=True)),
        **fields,
    )


def item_has_time(item: events_pb2.OneOf) -> bool:
    """Whether the event carries a time Python can represent (only those move the cursor)."""
    which = item.WhichOneof("Event")
    return which is not None and _real_time(getattr(item, which).Metadata) is not None


def _real_time(md: events_pb2.Metadata) -> datetime | None:
    if not md.HasField("Time"):
        return None
    try:
        return md.Time.ToDatetime(tzinfo=UTC)
    except (OverflowError, OSError, ValueError):
        return None  # past year 9999


def _event_time(md: events_pb2.Metadata) -> datetime:
    """The event's time for display; a missing or unrepresentable one reads as now."""
    return _real_time(md) or timezone.now()


def _event_id(md: events_pb2.Metadata, request_id: str) -> str:
    """The idempotency key: Teleport's event ID, or a stable digest when it is missing or
    too long for the column (cutting it could make two events one)."""
    event_id = sanitize.text(md.ID) or _fallback_id(md, request_id)
    if len(event_id) <= 128:
        return event_id
    return "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()


def _fallback_id(md: events_pb2.Metadata, request_id: str) -> str:
    """Deterministic stand-in when a backend omits the event ID: re-reads still dedupe.

    Built from the event's own fields only (never the poll's clock: an event without a time
    would get a new id on every re-read of the late-event window and be stored again)."""
    real = _real_time(md)
    when = real.isoformat() if real else "no-time"
    return sanitize.text(f"{md.Type}:{request_id}:{when}:{md.Index}")


def _one_line(text: str, limit: int = 500) -> str:
    return " ".join(text.split())[:limit]
