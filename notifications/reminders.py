"""Remind and escalate (`[reminders]`): thread replies while a request stays pending, and an
escalation root post elsewhere after `escalate_after`.

Two halves, both driven by stored times (`ReminderSchedule`), never by a timer in memory:

* `scan_due(now)` runs in the service's loop (no network): for each schedule whose
  `next_due_at` has passed it creates the REMINDER posts of that slot (one per root post,
  key `<request>:<channel>:reminder:<slot>`) and moves the schedule on, in one transaction
  with the reconcile it queues; for an escalation whose time has come it asks the request's
  reconcile to post it.
* `sync_request(...)`, called by the request's reconcile (a worker): creates the schedule,
  posts the escalation (recipient look-ups call Mattermost), and stops everything the moment
  the request is no longer pending: the schedule is closed and unsent reminders are dropped.

`now` is a parameter everywhere so tests drive the clock.
"""

from __future__ import annotations

import logging
import zoneinfo
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from notifications import followup_render
from notifications.mattermost.errors import PermanentError, TransientError
from notifications.models import NotificationPlan, Post, ReminderSchedule
from notifications.recipients import resolve
from teleportbridge.config import Config
from teleportbridge.config_features import RemindersConfig
from teleportbridge.models import AccessRequest, RequestState

log = logging.getLogger(__name__)

# How long an asked-for escalation may stay undone before the scan asks again: a safety
# net only (the ask is queued in the scan's transaction). Short, it flooded a backlogged
# queue with copies (bench/followup_burst); a reconcile that could not post it (Mattermost
# down) re-arms the ask for ESCALATION_RETRY_AFTER_FAILURE instead.
ESCALATION_RETRY = timedelta(minutes=10)
ESCALATION_RETRY_AFTER_FAILURE = timedelta(minutes=1)


def reminder_key(request_id: str, channel_id: str, slot: int) -> str:
    # Idempotency key: one reminder per (request, slot, channel); also pending_post_id.
    return f"{request_id}:{channel_id}:reminder:{slot}"


def _base(request: AccessRequest) -> datetime:
    return request.created_at or request.first_seen_at


def _nominal(request: AccessRequest, rm: RemindersConfig, slot: int) -> datetime | None:
    """When reminder `slot` (from 0) is due, or None when there is no such slot."""
    if rm.after is None or slot >= rm.max or (slot > 0 and rm.every is None):
        return None
    return _base(request) + rm.after + slot * (rm.every or timedelta(0))


def _quiet_until(rm: RemindersConfig, now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in, or None outside them."""
    if rm.quiet_hours is None:
        return None
    local = now.astimezone(zoneinfo.ZoneInfo(rm.timezone))
    if not rm.quiet_hours.contains(local.time().replace(tzinfo=None)):
        return None
    end = local.replace(
        hour=rm.quiet_hours.end.hour, minute=rm.quiet_hours.end.minute, second=0, microsecond=0
    )
    if end <= local:
        end += timedelta(days=1)
    return end


# -- the reconcile's half (a worker) ---------------------------------------------------------


def sync_request(request: AccessRequest, plan: NotificationPlan, cfg: Config) -> bool:
    """Keep the request's schedule in step with its state; True when it posted an escalation
    (the caller then derives reply rows for the new root posts)."""
    rm = cfg.features.reminders
    if request.state != RequestState.PENDING:
        _stop(request)
        return False
    if not rm.enabled or plan.status != NotificationPlan.Status.PLANNED:
        return False
    sched = _ensure_schedule(request, rm)
    if sched.escalation_asked_at is not None and sched.escalated_at is None:
        return _escalate(request, sched, rm)
    return False


def _ensure_schedule(request: AccessRequest, rm: RemindersConfig) -> ReminderSchedule:
    # get_or_create on the one-to-one key: the scan and a worker may both create it.
    sched, _ = ReminderSchedule.objects.get_or_create(
        request=request,
        defaults={
            "next_due_at": _nominal(request, rm, 0),
            "escalate_at": (_base(request) + rm.escalate_after) if rm.escalate_after else None,
        },
    )
    return sched


def _stop(request: AccessRequest) -> None:
    """Resolved or deleted: no reminder from now on (unsent ones are dropped)."""
    ReminderSchedule.objects.filter(request=request, state=ReminderSchedule.State.ACTIVE).update(
        state=ReminderSchedule.State.DONE,
        next_due_at=None,
        note=f"stopped: request {request.state}",
    )
    # Only posts Mattermost cannot have: never claimed. One that was tried may be there
    # already (an answer lost on the way); it stays, and is simply not tried again.
    dropped, _ = Post.objects.filter(
        request=request, kind=Post.Kind.REMINDER, attempts=0, mattermost_id=""
    ).delete()
    if dropped:
        log.info("Dropped %d unsent reminder(s): the request is %s", dropped, request.state)


def _escalate(request: AccessRequest, sched: ReminderSchedule, rm: RemindersConfig) -> bool:
    """Root posts in the escalation channels (normal roots: replies, edits, plugin data)."""
    from notifications.reconcile import create_root_rows, root_text  # reconcile imports this

    channels: dict[str, str] = {}
    for handle in rm.escalate_to:
        try:
            channels.setdefault(resolve(handle), handle)
        except PermanentError as exc:
            log.warning("Cannot escalate to %s: %s", handle, exc)
        except TransientError as exc:
            log.warning("Cannot escalate yet (will retry): %s", exc)
            # The scan asks again ESCALATION_RETRY_AFTER_FAILURE from now.
            ReminderSchedule.objects.filter(pk=sched.pk, escalated_at__isnull=True).update(
                escalation_asked_at=timezone.now()
                - ESCALATION_RETRY
                + ESCALATION_RETRY_AFTER_FAILURE
            )
            return False
    text = root_text(request)
    with transaction.atomic():
        # A channel that already has this request's root keeps it (unique root key).
        create_root_rows(request, channels, text)
        ReminderSchedule.objects.filter(pk=sched.pk, escalated_at__isnull=True).update(
            escalated_at=sched.escalation_asked_at,
            note=f"escalated to {len(channels)} channel(s)",
        )
    log.info("Escalated to %d channel(s)", len(channels))
    return True


# -- the due-scan's half (the service loop) --------------------------------------------------


def scan_due(now: datetime, cfg: Config, enqueue) -> int:
    """Fire what is due at `now`; returns the number of requests queued. `enqueue` is
    `tasks.enqueue_reconcile` (called inside the transaction that records the slot)."""
    rm = cfg.features.reminders
    queued = 0
    # Requests announced before [reminders] was turned on (or SIGHUP changed it) have no
    # schedule yet, and may see no other change that would reconcile them: start theirs.
    unscheduled = AccessRequest.objects.filter(
        state=RequestState.PENDING,
        plan__status=NotificationPlan.Status.PLANNED,
        reminders__isnull=True,
    )
    for request in unscheduled:
        _ensure_schedule(request, rm)
    due = ReminderSchedule.objects.filter(
        state=ReminderSchedule.State.ACTIVE, next_due_at__lte=now
    ).select_related("request")
    for sched in due:
        queued += _fire(sched, rm, now, enqueue)
    asked = ReminderSchedule.objects.filter(
        state=ReminderSchedule.State.ACTIVE, escalated_at__isnull=True, escalate_at__lte=now
    ).exclude(escalation_asked_at__gt=now - ESCALATION_RETRY)
    for sched in asked:
        with transaction.atomic():
            # Guarded on the value read: two scans ask once.
            moved = ReminderSchedule.objects.filter(
                pk=sched.pk, escalation_asked_at=sched.escalation_asked_at
            ).update(escalation_asked_at=now)
            if moved:
                enqueue(sched.request_id, why="escalate")
                queued += 1
    return queued


def _fire(sched: ReminderSchedule, rm: RemindersConfig, now: datetime, enqueue) -> int:
    request = sched.request
    if request.state != RequestState.PENDING:
        # Its reconcile closes the schedule and drops unsent reminders; closing it here
        # too (no network needed) keeps the scan from selecting it again meanwhile.
        ReminderSchedule.objects.filter(pk=sched.pk, state=ReminderSchedule.State.ACTIVE).update(
            state=ReminderSchedule.State.DONE,
            next_due_at=None,
            note=f"stopped: request {request.state}",
        )
        return 0
    slot = sched.next_slot
    if _nominal(request, rm, slot) is None:  # every reminder is out (or config changed)
        ReminderSchedule.objects.filter(pk=sched.pk, next_slot=slot).update(next_due_at=None)
        return 0
    quiet_end = _quiet_until(rm, now)
    if quiet_end is not None:
        ReminderSchedule.objects.filter(pk=sched.pk, next_slot=slot).update(
            next_due_at=quiet_end, note="deferred: quiet hours"
        )
        return 0
    # After a long stop only the latest slot whose time has come is sent: one reminder
    # saying how old the request is now, not a burst of stale ones.
    latest = slot
    while (nxt := _nominal(request, rm, latest + 1)) is not None and nxt <= now:
        latest += 1
    nominal = _nominal(request, rm, latest)
    assert nominal is not None
    age = nominal - _base(request)
    with transaction.atomic():
        # Optimistic lock on next_slot: a second scan that read the same slot moves nothing.
        moved = ReminderSchedule.objects.filter(pk=sched.pk, next_slot=slot).update(
            next_slot=latest + 1, next_due_at=_nominal(request, rm, latest + 1), note=""
        )
        if not moved:
            return 0
        # Under every root but those that failed for good: one still on its way (a burst)
        # gets its reminder right after it; unsent reminders are dropped on resolution.
        roots = list(
            Post.objects.filter(request=request, kind=Post.Kind.ROOT).exclude(
                status=Post.Status.FAILED
            )
        )
        text = followup_render.reminder(age, latest + 1, rm.max)
        Post.objects.bulk_create(
            [
                Post(
                    request=request,
                    kind=Post.Kind.REMINDER,
                    root=root,
                    channel_id=root.channel_id,
                    recipient=root.recipient,
                    key=reminder_key(request.pk, root.channel_id, latest),
                    text_wanted=text,
                )
                for root in roots
            ],
            ignore_conflicts=True,  # the key is unique: a slot is never created twice
        )
        enqueue(request.pk, why="reminder")
    log.info("Reminder %d of %d due for %s", latest + 1, rm.max, request.pk)
    return 1
