"""Every read the dashboard makes, in one place, so views stay thin and tests can call these.

Nothing here writes: auditors have read-only access, and even `WatcherState`/`AuditCursor`
are read with `.filter(pk=1).first()` rather than the get-or-create helpers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import CharField, Count, Q, QuerySet, Sum
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone

from dashboard.correlation import (
    Anomaly,
    ReviewCorrelation,
    ReviewStatus,
    correlate_review_events,
    find_anomalies,
    request_anomalies,
    review_anomalies,
    review_events,
)
from dashboard.facts import (
    REVIEW_EVENT,
    annotate_in_bulk,
    annotated_requests,
    facts_for,
    window_requests,
)
from dashboard.numbers import Numbers, numbers
from notifications.models import DeliveryAttempt, NotificationPlan, Post
from teleportbridge.models import (
    AccessMonitoringRule,
    AccessRequest,
    AuditCursor,
    AuditEvent,
    RejectedEvent,
    RequestState,
)
from teleportbridge.models import WatcherState as _WatcherState

# Time-to-first-review histogram buckets: (label, upper bound).
TTR_BUCKETS: list[tuple[str, timedelta | None]] = [
    ("< 5 min", timedelta(minutes=5)),
    ("5–15 min", timedelta(minutes=15)),
    ("15–60 min", timedelta(hours=1)),
    ("1–4 h", timedelta(hours=4)),
    ("4–24 h", timedelta(hours=24)),
    ("> 24 h", None),
]


@dataclass
class Bar:
    label: str
    count: int
    pct: float = 0.0  # of the largest bar, for CSS widths / SVG heights


def _scale(bars: list[Bar]) -> list[Bar]:
    top = max((b.count for b in bars), default=0) or 1
    for b in bars:
        b.pct = round(100.0 * b.count / top, 1)
    return bars


@dataclass
class Overview:
    since: datetime
    state_counts: list[tuple[str, int]]
    total_requests: int
    attempts_total: int
    attempts_ok: int
    failing_posts: list[Post]
    anomalies: list[Anomaly]  # the newest 50
    anomaly_total: int
    anomaly_counts: list[tuple[str, int]]
    per_day: list[Bar]
    ttr_buckets: list[Bar]
    ttr_median: timedelta | None
    ttr_count: int

    @property
    def success_rate(self) -> float | None:
        if not self.attempts_total:
            return None
        return round(100.0 * self.attempts_ok / self.attempts_total, 1)


def overview(*, now: datetime | None = None, days: int = 30, chart_days: int = 14) -> Overview:
    """Counts, delivery health, anomalies and both charts for the landing page."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    by_state = dict(AccessRequest.objects.values_list("state").annotate(n=Count("pk")))
    state_counts = [(s.label, by_state.get(s.value, 0)) for s in RequestState if s.value != "NONE"]
    attempts = DeliveryAttempt.objects.filter(at__gte=since).aggregate(
        total=Count("pk"), ok=Count("pk", filter=Q(ok=True))
    )
    failing = list(
        Post.objects.filter(status__in=[Post.Status.FAILED, Post.Status.RETRYING])
        .select_related("request")
        .order_by("-updated_at")[:20]
    )
    # One pass over the window feeds both the anomalies and the time-to-review chart.
    window = annotate_in_bulk(window_requests(since))
    anomalies = find_anomalies(since=since, now=now, annotated=window)
    ttrs = [
        f.time_to_first_review
        for f in (facts_for(r) for r in window if r.first_seen_at and r.first_seen_at >= since)
        if f.time_to_first_review is not None
    ]
    return Overview(
        since=since,
        state_counts=state_counts,
        total_requests=sum(by_state.values()),
        attempts_total=attempts["total"],
        attempts_ok=attempts["ok"],
        failing_posts=failing,
        anomalies=anomalies[:50],
        anomaly_total=len(anomalies),
        anomaly_counts=sorted(Counter(a.kind.label for a in anomalies).items()),
        per_day=requests_per_day(now=now, days=chart_days),
        ttr_buckets=ttr_histogram(ttrs),
        ttr_median=_median(ttrs),
        ttr_count=len(ttrs),
    )


def requests_per_day(*, now: datetime, days: int = 14) -> list[Bar]:
    """One bar per UTC day (oldest first), including empty days, by Teleport creation time."""
    today = now.date()
    first = today - timedelta(days=days - 1)
    rows = (
        AccessRequest.objects.annotate(day=TruncDate(Coalesce("created_at", "first_seen_at")))
        .filter(day__gte=first, day__lte=today)
        .values_list("day")
        .annotate(n=Count("pk"))
    )
    counts: dict[date, int] = dict(rows)
    return _scale(
        [
            Bar(f"{d:%m-%d}", counts.get(d, 0))
            for d in (first + timedelta(days=i) for i in range(days))
        ]
    )


def ttr_histogram(ttrs: list[timedelta]) -> list[Bar]:
    bars = [Bar(label, 0) for label, _ in TTR_BUCKETS]
    for ttr in ttrs:
        for bar, (_, upper) in zip(bars, TTR_BUCKETS, strict=True):
            if upper is None or ttr < upper:
                bar.count += 1
                break
    return _scale(bars)


# --- requests list and detail -------------------------------------------------------------

NOTIFICATION_FILTERS = {
    "sent": Q(notified_at__isnull=False),
    "not_sent": Q(notified_at__isnull=True),
    "failed": Q(failed_posts__gt=0),
}


def search_requests(
    *,
    q: str = "",
    state: str = "",
    notification: str = "",
    created_from: date | None = None,
    created_to: date | None = None,
) -> QuerySet[AccessRequest]:
    """The requests list: search by id/user/role, filter by state, date and delivery."""
    qs = annotated_requests().order_by("-created_at", "-first_seen_at")
    if q:
        qs = qs.annotate(roles_text=Cast("roles", CharField())).filter(
            Q(id__icontains=q) | Q(user__icontains=q) | Q(roles_text__icontains=q)
        )
    if state:
        qs = qs.filter(state=state)
    if notification in NOTIFICATION_FILTERS:
        qs = qs.filter(NOTIFICATION_FILTERS[notification])
    if created_from:
        qs = qs.filter(created_at__date__gte=created_from)
    if created_to:
        qs = qs.filter(created_at__date__lte=created_to)
    return qs


@dataclass
class TimelineEntry:
    at: datetime | None
    kind: str  # created | seen | post | review | audit | resolved | deleted
    title: str
    detail: str = ""
    post: Post | None = None
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    audit: AuditEvent | None = None


@dataclass
class RequestDetail:
    request: AccessRequest
    timeline: list[TimelineEntry]
    anomalies: list[Anomaly]
    time_to_first_review: timedelta | None
    notified_at: datetime | None
    # (role, [logins]) by role name: what approving grants, for whoever reads the history.
    logins_by_role: list[tuple[str, list[str]]] = field(default_factory=list)


def request_detail(request_id: str, *, now: datetime | None = None) -> RequestDetail | None:
    """Everything about one request as a single time-ordered story."""
    req = annotated_requests(AccessRequest.objects.filter(pk=request_id)).first()
    if req is None:
        return None
    facts = facts_for(req)
    entries = [
        TimelineEntry(req.created_at, "created", f"Created by {req.user}", req.reason),
        TimelineEntry(req.first_seen_at, "seen", "First seen by the bridge"),
    ]
    plan = NotificationPlan.objects.filter(request=req).first()
    if plan is not None:
        handles = ", ".join(r.get("handle", "?") for r in plan.recipients) or "nobody"
        title = (
            f"Notification planned for {handles}"
            if plan.status == "planned"
            else ("Notification skipped")
        )
        matched = [r["name"] for r in plan.rules if r.get("matched")]
        if matched:
            title += " (routed by rule " + ", ".join(f"`{name}`" for name in matched) + ")"
        failed = [f"{r['name']}: {r['error']}" for r in plan.rules if r.get("error")]
        detail = plan.reason + "".join(f"\nrule skipped, {f}" for f in failed)
        entries.append(TimelineEntry(plan.planned_at, "plan", title, detail))
    from dashboard.followup_timeline import followup_entries  # it imports TimelineEntry

    entries += followup_entries(req)
    posts = Post.objects.filter(request=req).prefetch_related("attempts_log")
    for post in posts:
        attempts = sorted(post.attempts_log.all(), key=lambda a: a.at)
        title = f"{post.get_kind_display()} post to {post.recipient} — {post.status}"
        entries.append(
            TimelineEntry(
                post.sent_at or post.created_at,
                "post",
                title,
                post.last_error,
                post=post,
                attempts=attempts,
            )
        )
    for review in req.reviews.all():
        entries.append(
            TimelineEntry(
                review.created_at or review.recorded_at,
                "review",
                f"Review by {review.author}: {review.proposed_state}",
                review.reason,
            )
        )
    for ev in AuditEvent.objects.filter(request_id=req.pk):
        who = ev.reviewer or ev.user
        entries.append(
            TimelineEntry(
                ev.time,
                "audit",
                f"Audit {ev.event_type} ({ev.code})" + (f" by {who}" if who else ""),
                ev.reason,
                audit=ev,
            )
        )
    if req.resolved_at:
        entries.append(TimelineEntry(req.resolved_at, "resolved", f"Resolved: {req.state}"))
    if req.deleted_at:
        entries.append(TimelineEntry(req.deleted_at, "deleted", "Deleted in Teleport"))
    far_future = timezone.now() + timedelta(days=365 * 100)
    entries.sort(key=lambda e: e.at or far_future)
    anomalies = request_anomalies([req], now=now)
    anomalies += review_anomalies(review_events().filter(request_id=req.pk))
    return RequestDetail(
        req,
        entries,
        anomalies,
        facts.time_to_first_review,
        facts.notified_at,
        logins_by_role=sorted(plan.logins_by_role.items()) if plan is not None else [],
    )


# --- audit page ---------------------------------------------------------------------------


def audit_reviews(*, status: str = "", q: str = "") -> list[ReviewCorrelation]:
    """'Access Request Reviewed' events, newest first, with their correlation status."""
    events = review_events().order_by("-time")
    if q:
        events = events.filter(Q(request_id__icontains=q) | Q(reviewer__icontains=q))
    rows = correlate_review_events(events)
    if status in {s.value for s in ReviewStatus}:
        rows = [r for r in rows if r.status == status]
    return rows


AUDIT_CSV_HEADER = [
    "event_id",
    "time_utc",
    "code",
    "request_id",
    "reviewer",
    "proposed_state",
    "reason",
    "status",
    "request_user",
    "request_roles",
    "notified_at_utc",
    "time_to_review_seconds",
]


# A spreadsheet evaluates a cell starting with one of these as a formula (tab and CR
# too: some applications skip them first); full-width forms are folded to them by some.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def spreadsheet_safe(value: str) -> str:
    """The cell as text that no spreadsheet runs: a leading apostrophe before a formula
    character, as OWASP recommends for CSV exports."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def audit_csv_rows(rows: list[ReviewCorrelation]) -> list[list[str]]:
    """One list of cells per review event, every cell neutralised: ids, names, roles and
    states come from Teleport or from the people who typed them, not only the reasons."""

    def iso(dt: datetime | None) -> str:
        return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else ""

    out = []
    for r in rows:
        ttr = r.time_to_review
        cells = [
            r.event.event_id,
            iso(r.event.time),
            r.event.code,
            r.event.request_id,
            r.event.reviewer,
            r.event.proposed_state,
            r.event.reason,
            r.status.value,
            r.request.user if r.request else "",
            " ".join(r.request.roles) if r.request else "",
            iso(r.notified_at),
            str(int(ttr.total_seconds())) if ttr is not None else "",
        ]
        out.append([spreadsheet_safe(c) for c in cells])
    return out


# --- health -------------------------------------------------------------------------------


@dataclass
class Health:
    watcher: _WatcherState | None
    cursor: AuditCursor | None
    queue_depth: int | None
    last_audit_event_at: datetime | None
    audit_events: int
    review_events: int
    #: The numbers /metrics exports, from the same function (dashboard/numbers.py).
    numbers: Numbers
    #: The plugin's access monitoring rules, with their health.
    rules: list[AccessMonitoringRule] = field(default_factory=list)


def health() -> Health:
    n = numbers()
    last = AuditEvent.objects.order_by("-time").values_list("time", flat=True).first()
    return Health(
        watcher=_WatcherState.objects.filter(pk=1).first(),
        cursor=AuditCursor.objects.filter(pk=1).first(),
        queue_depth=n.queue_depth,
        last_audit_event_at=last,
        audit_events=AuditEvent.objects.count(),
        review_events=AuditEvent.objects.filter(event_type=REVIEW_EVENT).count(),
        numbers=n,
        rules=[r for r in AccessMonitoringRule.objects.all() if r.applies_to_mattermost],
    )


def recent_rejections(limit: int = 10) -> tuple[int, list[RejectedEvent]]:
    """Records from Teleport that were quarantined (teleportbridge.sanitize): how many in
    all (repeats counted), and the most recently seen."""
    total = RejectedEvent.objects.aggregate(n=Sum("count"))["n"] or 0
    return total, list(RejectedEvent.objects.order_by("-last_seen_at")[:limit])


def audit_permission_missing() -> bool:
    """The plugin's role cannot read the audit log: the audit pages stay empty (the poller
    found out; teleportbridge.audit_poller.AuditPoller)."""
    return AuditCursor.objects.filter(pk=1, permission_missing=True).exists()


def _median(values: list[timedelta]) -> timedelta | None:
    """statistics.median for durations (its type hints only admit numbers)."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
