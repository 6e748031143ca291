"""Per-request facts the dashboard reasons about: was it notified, when, was it reviewed.

Two ways to the same facts, checked against each other in the tests:
`annotated_requests()` adds them as correlated subqueries (right for a page of rows and
for querysets that are filtered and paginated later), `annotate_in_bulk()` computes them
with one grouped query each (right for a whole window, like the overview's month).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from django.db.models import (
    Count,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from notifications.models import NotificationPlan, Post
from teleportbridge.models import AccessRequest, AuditEvent, Review

REVIEW_EVENT = "access_request.review"


class FactRow(Protocol):
    """An AccessRequest row carrying the facts as attributes: added by annotated_requests()
    (SQL annotations) or annotate_in_bulk() (set in Python); the model declares neither."""

    pk: str
    state: str
    first_seen_at: datetime | None
    plan_status: str | None
    notified_at: datetime | None
    root_posts: int
    failed_posts: int
    review_rows: int
    review_events: int
    first_review_row_at: datetime | None
    first_review_event_at: datetime | None


@dataclass(frozen=True)
class RequestFacts:
    """What we know about one request's notification and review, from all sources."""

    request_id: str
    state: str
    first_seen_at: datetime | None
    notified_at: datetime | None  # first SENT root post
    root_posts: int
    failed_posts: int
    review_rows: int
    review_events: int
    first_review_row_at: datetime | None
    first_review_event_at: datetime | None

    @property
    def first_review_at(self) -> datetime | None:
        times = [t for t in (self.first_review_row_at, self.first_review_event_at) if t]
        return min(times) if times else None

    @property
    def time_to_first_review(self) -> timedelta | None:
        """Notification → first review; None until both happened (or if review came first)."""
        if self.notified_at is None or self.first_review_at is None:
            return None
        delta = self.first_review_at - self.notified_at
        return delta if delta >= timedelta(0) else None


def sent_roots() -> QuerySet[Post]:
    return Post.objects.filter(kind=Post.Kind.ROOT, status=Post.Status.SENT)


def _count(qs: QuerySet, field: str = "pk") -> Coalesce:
    """A correlated COUNT as a subquery: no JOIN fan-out between posts, reviews and events."""
    counted = qs.order_by().values(field).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def annotated_requests(qs: QuerySet[AccessRequest] | None = None) -> QuerySet[AccessRequest]:
    """Requests with the notification/review facts the dashboard needs, in one query."""
    qs = AccessRequest.objects.all() if qs is None else qs
    posts = Post.objects.filter(request=OuterRef("pk"))
    reviews = Review.objects.filter(request=OuterRef("pk"))
    events = AuditEvent.objects.filter(request_id=OuterRef("pk"), event_type=REVIEW_EVENT)
    return qs.annotate(
        plan_status=F("plan__status"),  # one-to-one: a LEFT JOIN, no fan-out
        notified_at=Subquery(
            sent_roots()
            .filter(request=OuterRef("pk"), sent_at__isnull=False)
            .order_by("sent_at")
            .values("sent_at")[:1]
        ),
        root_posts=_count(posts.filter(kind=Post.Kind.ROOT), "request"),
        failed_posts=_count(posts.filter(status=Post.Status.FAILED), "request"),
        review_rows=_count(reviews, "request"),
        review_events=_count(events, "request_id"),
        first_review_row_at=Subquery(
            reviews.filter(created_at__isnull=False).order_by("created_at").values("created_at")[:1]
        ),
        first_review_event_at=Subquery(events.order_by("time").values("time")[:1]),
    )


def annotate_in_bulk(qs: QuerySet[AccessRequest]) -> list[AccessRequest]:
    """The rows of `qs` with the attributes `annotated_requests()` sets, for whole-window
    views (overview, anomalies). Correlated subqueries cost 7 index probes per row; here
    each fact is one grouped query over the window, so a month of history stays fast."""
    # Only what the anomaly rules read: decoding every JSON column of a month of requests
    # was a third of the overview's time.
    rows: list[Any] = list(  # AccessRequest rows that become FactRows below
        qs.only(
            "id", "state", "roles", "created_at", "first_seen_at", "resolved_at", "last_event_at"
        )
    )
    by_id = {r.pk: r for r in rows}
    for r in rows:
        r.plan_status, r.notified_at = None, None
        r.root_posts = r.failed_posts = r.review_rows = r.review_events = 0
        r.first_review_row_at = r.first_review_event_at = None
    ids = qs.values("pk")  # a subquery, not a parameter per row

    # Each grouped query re-runs that subquery, so it can name a request stored after
    # `rows` was read (the watcher keeps writing while the page renders): they are skipped
    # instead of failing the page; they show up on the next load.
    def grouped(query) -> list[tuple[Any, dict]]:  # (a FactRow-to-be, its values row)
        return [(r, row) for row in query if (r := by_id.get(row["request_id"])) is not None]

    plans = NotificationPlan.objects.filter(request__in=ids).values("request_id", "status")
    for r, row in grouped(plans):
        r.plan_status = row["status"]
    posts = Post.objects.filter(request__in=ids).order_by().values("request_id")
    for r, row in grouped(posts.filter(kind=Post.Kind.ROOT).annotate(n=Count("*"))):
        r.root_posts = row["n"]
    for r, row in grouped(posts.filter(status=Post.Status.FAILED).annotate(n=Count("*"))):
        r.failed_posts = row["n"]
    sent = posts.filter(kind=Post.Kind.ROOT, status=Post.Status.SENT, sent_at__isnull=False)
    for r, row in grouped(sent.annotate(first=Min("sent_at"))):
        r.notified_at = row["first"]
    reviews = Review.objects.filter(request__in=ids).order_by().values("request_id")
    for r, row in grouped(reviews.annotate(n=Count("*"), first=Min("created_at"))):
        r.review_rows, r.first_review_row_at = row["n"], row["first"]
    events = AuditEvent.objects.filter(request_id__in=ids, event_type=REVIEW_EVENT)
    per_request = events.order_by().values("request_id")
    for r, row in grouped(per_request.annotate(n=Count("*"), first=Min("time"))):
        r.review_events, r.first_review_event_at = row["n"], row["first"]
    return rows


def facts_for(request: AccessRequest) -> RequestFacts:
    """Facts from a row of `annotated_requests()` or `annotate_in_bulk()`."""
    row = cast(FactRow, request)
    return RequestFacts(
        request_id=row.pk,
        state=row.state,
        first_seen_at=row.first_seen_at,
        notified_at=row.notified_at,
        root_posts=row.root_posts,
        failed_posts=row.failed_posts,
        review_rows=row.review_rows,
        review_events=row.review_events,
        first_review_row_at=row.first_review_row_at,
        first_review_event_at=row.first_review_event_at,
    )


def window_requests(since: datetime | None) -> QuerySet[AccessRequest]:
    """Requests first seen, or created in Teleport, since `since` (all when None)."""
    requests = AccessRequest.objects.all()
    if since:
        requests = requests.filter(Q(first_seen_at__gte=since) | Q(created_at__gte=since))
    return requests
