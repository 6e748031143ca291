"""Correlate Teleport's audit log with what we notified, and flag what does not add up.

Everything here is a read over existing tables (AccessRequest, Review, Post, AuditEvent):
anomalies are computed on demand rather than stored, so they can never go stale when a
late audit event or a retried post changes the picture.

Anomaly kinds (see `AnomalyKind`):

* review_without_notification: Teleport logged a review for a request we never posted a
  root message about (including requests we have never seen at all).
* notification_failed: a post for the request is FAILED, or no root post was sent within
  AUDIT_NOTIFY_DEADLINE_SECONDS (default 600) of first seeing a request that had recipients.
* resolution_without_review: APPROVED/DENIED with neither a review audit event nor a
  Review row (e.g. resolved with `tctl requests approve` by an admin).
* late_review: the first review came more than AUDIT_LATE_REVIEW_SECONDS (default 24 h)
  after the first root post was sent.
* chat_review_without_click: Teleport logged a review submitted on a user's behalf
  (`submitted_by` set) that no Approve/Deny click of ours accounts for (chat_reviews.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from fnmatch import fnmatchcase

from django.conf import settings
from django.db.models import Min, QuerySet
from django.utils import timezone

from dashboard import chat_reviews
from dashboard.facts import (
    REVIEW_EVENT,
    annotate_in_bulk,
    facts_for,
    sent_roots,
    window_requests,
)
from notifications.models import NotificationPlan, Recipient
from teleportbridge.models import AccessRequest, AuditEvent, RequestState, Review

REVIEW_CODE = "T5002I"


class AnomalyKind(StrEnum):
    REVIEW_WITHOUT_NOTIFICATION = "review_without_notification"
    NOTIFICATION_FAILED = "notification_failed"
    RESOLUTION_WITHOUT_REVIEW = "resolution_without_review"
    LATE_REVIEW = "late_review"
    CHAT_REVIEW_WITHOUT_CLICK = "chat_review_without_click"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class ReviewStatus(StrEnum):
    """Correlation status of one "Access Request Reviewed" audit event."""

    MATCHED = "matched"  # known request, root post sent, a Review row by that reviewer
    NO_REVIEW_ROW = "no_review_row"  # notified, but the watcher never recorded this review
    NOT_NOTIFIED = "not_notified"  # we know the request but never sent a root post
    UNKNOWN_REQUEST = "unknown_request"  # the request never reached us

    @property
    def is_anomaly(self) -> bool:
        return self in (ReviewStatus.NOT_NOTIFIED, ReviewStatus.UNKNOWN_REQUEST)


@dataclass(frozen=True)
class Anomaly:
    kind: AnomalyKind
    request_id: str
    at: datetime | None
    detail: str
    event_id: str = ""


@dataclass(frozen=True)
class ReviewCorrelation:
    event: AuditEvent
    status: ReviewStatus
    request: AccessRequest | None
    notified_at: datetime | None
    review: Review | None
    #: For a review submitted on the reviewer's behalf: did a click of ours account for it?
    chat_click: bool | None = None

    @property
    def time_to_review(self) -> timedelta | None:
        if self.notified_at is None:
            return None
        delta = self.event.time - self.notified_at
        return delta if delta >= timedelta(0) else None


def late_review_threshold() -> timedelta:
    return timedelta(seconds=getattr(settings, "AUDIT_LATE_REVIEW_SECONDS", 24 * 3600))


def notify_deadline() -> timedelta:
    return timedelta(seconds=getattr(settings, "AUDIT_NOTIFY_DEADLINE_SECONDS", 600))


def _had_recipients(request: AccessRequest, recipients: list[Recipient], root_posts: int) -> bool:
    """Did anyone need telling? The delivery pipeline's frozen NotificationPlan says so
    when there is one; else a root post row means routing found a channel; else an admin
    Recipient that existed in time and whose pattern matches one of the roles."""
    plan_status = getattr(request, "plan_status", None)
    if plan_status == NotificationPlan.Status.PLANNED or root_posts:
        return True
    if plan_status == NotificationPlan.Status.SKIPPED:
        return False
    seen = request.first_seen_at or timezone.now()
    for r in recipients:
        if r.created_at and r.created_at > seen + notify_deadline():
            continue
        if not r.role_pattern or any(fnmatchcase(role, r.role_pattern) for role in request.roles):
            return True
    return False


def request_anomalies(
    requests: Iterable[AccessRequest], *, now: datetime | None = None
) -> list[Anomaly]:
    """Anomalies of requests from `annotated_requests()` or `annotate_in_bulk()` (all kinds
    except reviews of
    requests we do not know, which only `review_anomalies` can see)."""
    now = now or timezone.now()
    late, deadline = late_review_threshold(), notify_deadline()
    recipients = list(Recipient.objects.filter(enabled=True))
    found: list[Anomaly] = []
    for req in requests:
        f = facts_for(req)
        if f.failed_posts:
            found.append(
                Anomaly(
                    AnomalyKind.NOTIFICATION_FAILED,
                    f.request_id,
                    f.first_seen_at,
                    f"{f.failed_posts} post(s) failed permanently",
                )
            )
        elif f.first_seen_at and f.first_seen_at + deadline < now:
            sent_in_time = f.notified_at is not None and f.notified_at <= f.first_seen_at + deadline
            if not sent_in_time and _had_recipients(req, recipients, f.root_posts):
                detail = (
                    f"first root post sent {f.notified_at - f.first_seen_at} after first seen"
                    if f.notified_at
                    else "no root post sent"
                )
                found.append(
                    Anomaly(AnomalyKind.NOTIFICATION_FAILED, f.request_id, f.first_seen_at, detail)
                )
        if f.state in (RequestState.APPROVED, RequestState.DENIED) and not (
            f.review_rows or f.review_events
        ):
            found.append(
                Anomaly(
                    AnomalyKind.RESOLUTION_WITHOUT_REVIEW,
                    f.request_id,
                    req.resolved_at or req.last_event_at,
                    f"{f.state} without any review (resolved directly, e.g. by tctl?)",
                )
            )
        ttr = f.time_to_first_review
        if ttr is not None and ttr > late:
            found.append(
                Anomaly(
                    AnomalyKind.LATE_REVIEW,
                    f.request_id,
                    f.first_review_at,
                    f"first review {_fmt(ttr)} after notification (threshold {_fmt(late)})",
                )
            )
    return found


def correlate_review_events(events: Iterable[AuditEvent]) -> list[ReviewCorrelation]:
    """Status of each review audit event: is the request known, notified, and recorded?"""
    if isinstance(events, QuerySet):
        # A subquery instead of one parameter per ID: a month of events can exceed
        # SQLite's bound-variable limit. The raw event JSON is not shown here.
        ids: object = events.order_by().values("request_id")
        events = list(events.defer("raw"))
    else:
        events = list(events)
        ids = {e.request_id for e in events}
    requests = {
        r.pk: r
        for r in AccessRequest.objects.filter(pk__in=ids).only("id", "user", "roles", "state")
    }
    notified = dict(
        sent_roots()
        .filter(request_id__in=ids, sent_at__isnull=False)
        .order_by()
        .values("request_id")
        .annotate(first=Min("sent_at"))
        .values_list("request_id", "first")
    )
    reviews: dict[tuple[str, str], Review] = {}
    matching = Review.objects.filter(request_id__in=ids).order_by("position")
    for row in matching.only("id", "request_id", "author", "position", "created_at"):
        reviews.setdefault((row.request_id, row.author), row)
    clicks = chat_reviews.submitted_clicks(ids)
    out = []
    for e in events:
        req = requests.get(e.request_id)
        review = reviews.get((e.request_id, e.reviewer))
        if req is None:
            status = ReviewStatus.UNKNOWN_REQUEST
        elif e.request_id not in notified:
            status = ReviewStatus.NOT_NOTIFIED
        elif review is None:
            status = ReviewStatus.NO_REVIEW_ROW
        else:
            status = ReviewStatus.MATCHED
        click = (
            chat_reviews.has_click(clicks, e.request_id, e.reviewer, e.time)
            if e.submitted_by
            else None
        )
        out.append(ReviewCorrelation(e, status, req, notified.get(e.request_id), review, click))
    return out


def review_events(since: datetime | None = None) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.filter(event_type=REVIEW_EVENT)
    return qs.filter(time__gte=since) if since else qs


def review_anomalies(events: QuerySet[AuditEvent]) -> list[Anomaly]:
    """Reviews of requests we never saw or never notified (ReviewStatus.is_anomaly).

    Plain value rows, not the model objects correlate_review_events builds for the audit
    page: the overview runs this over a month of events on every load."""
    # Events first: the sets below are read after them, so an event stored meanwhile (the
    # poller runs concurrently) is simply not in this list, rather than listed against
    # sets that predate it and mistaken for a review of a request we never saw.
    rows = list(events.values_list("event_id", "request_id", "reviewer", "proposed_state", "time"))
    ids = events.order_by().values("request_id")
    known = set(AccessRequest.objects.filter(pk__in=ids).values_list("pk", flat=True))
    notified = set(
        sent_roots()
        .filter(request_id__in=ids, sent_at__isnull=False)
        .values_list("request_id", flat=True)
    )
    return [
        Anomaly(
            AnomalyKind.REVIEW_WITHOUT_NOTIFICATION,
            request_id,
            at,
            f"{reviewer or 'someone'} reviewed ({proposed or '?'}) a "
            + ("request we never saw" if request_id not in known else "request we never notified"),
            event_id,
        )
        for event_id, request_id, reviewer, proposed, at in rows
        if request_id not in notified
    ]


def chat_review_anomalies(events: QuerySet[AuditEvent]) -> list[Anomaly]:
    """Reviews Teleport says a plugin submitted for someone, with no click of ours."""
    return [
        Anomaly(
            AnomalyKind.CHAT_REVIEW_WITHOUT_CLICK,
            u.request_id,
            u.at,
            f"{u.submitted_by} submitted a review ({u.proposed_state or '?'}) as "
            f"{u.reviewer or '?'} with no matching click in Mattermost",
            u.event_id,
        )
        for u in chat_reviews.unmatched(events)
    ]


def find_anomalies(
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    annotated: list[AccessRequest] | None = None,
) -> list[Anomaly]:
    """Every anomaly for requests first seen (and review events logged) since `since`,
    newest first. `annotated`: `annotate_in_bulk(window_requests(since))`, when the caller
    has it already."""
    if annotated is None:
        annotated = annotate_in_bulk(window_requests(since))
    found = request_anomalies(annotated, now=now)
    found += review_anomalies(review_events(since))
    found += chat_review_anomalies(review_events(since))
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda a: a.at or epoch, reverse=True)


def _fmt(delta: timedelta) -> str:
    """Short duration for anomaly details ("1d 2h", "3h 4m", "5m 6s")."""
    secs = int(delta.total_seconds())
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    mins, secs = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m {secs}s"


format_duration = _fmt
