"""The operating numbers: what `/metrics` exports and the health page shows, computed once.

Every number is read from the database at the moment it is asked for, never counted in a
process's memory. The django-q2 workers that deliver posts are separate forked processes
(restarted by their sentinel, several `qcluster`s when scaled out), and the history they
write (`Post`, `DeliveryAttempt`, `RejectedEvent`, the cursors) already holds every count
we need: reading it is exact across processes and restarts, needs no shared directory
(prometheus-client's multiprocess mode), and any `runwatcher` (the leader or a standby)
reports the same values. The cost is a handful of aggregate queries per scrape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from notifications.models import (
    DeliveryAttempt,
    Post,
    ReviewAttempt,
    ReviewFeatureState,
    sending_lease,
)
from teleportbridge.models import (
    AccessMonitoringRule,
    AccessRequest,
    AuditCursor,
    RejectedEvent,
    RequestState,
    WatcherState,
)

#: Delivery attempts by the class of their HTTP status; "error" had no response at all
#: (connection refused, timeout, TLS).
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "error")


@dataclass
class Numbers:
    """One snapshot. Ages are seconds; None where there is nothing to measure yet."""

    requests_by_state: dict[str, int]
    posts_by_status: dict[str, int]
    attempts_by_class: dict[str, int]
    retries: int
    rate_limited: int
    queue_depth: int | None  # None: the broker could not say (queue_depth())
    posts_due: int
    oldest_due_post_age: float | None
    watcher_connected: bool
    watcher_reconnects: int
    last_event_age: float | None
    audit_poll_age: float | None
    audit_poll_failures: int
    audit_poll_failing: bool
    audit_permission_missing: bool
    rejected_by_kind: dict[str, int] = field(default_factory=dict)
    # Access monitoring rules the plugin uses: how many, and how many cannot be used
    # (condition does not parse/type-check, or failed to evaluate for some request).
    rules_total: int = 0
    rules_broken: int = 0
    #: Approve/Deny from Mattermost: clicks by outcome, and 1 while the alert hides buttons.
    review_clicks_by_outcome: dict[str, int] = field(default_factory=dict)
    review_blocked: bool = False


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max((now - then).total_seconds(), 0.0)


def _status_class(code: int | None) -> str:
    if code is None or not 200 <= code < 600:
        return "error"
    return f"{code // 100}xx"


def queue_depth() -> int | None:
    """Tasks waiting in django-q2's queue: the task table, or the Redis list with
    Q_BROKER=redis (the table is then empty whatever the backlog). None if the broker
    cannot say (Redis unreachable): the page must render anyway."""
    try:
        if settings.Q_BROKER == "redis":
            from django_q.brokers import get_broker

            return int(get_broker().queue_size() or 0)
        from django_q.models import OrmQ

        return OrmQ.objects.count()
    except Exception:
        return None


def oldest_due_since(now: datetime) -> datetime | None:
    """Since when the longest-waiting due post has been due (PostQuerySet.due's rules).

    A pending post is due from its creation, a retry from its next_attempt_at, a claim
    from the end of its lease, an edit from the change that made it stale."""
    lease = sending_lease()
    due = Post.objects.due(now).aggregate(
        pending=Min("created_at", filter=Q(status=Post.Status.PENDING)),
        retry=Min("next_attempt_at", filter=Q(status=Post.Status.RETRYING)),
        retry_unscheduled=Min(
            "updated_at", filter=Q(status=Post.Status.RETRYING, next_attempt_at__isnull=True)
        ),
        claim=Min("updated_at", filter=Q(status=Post.Status.SENDING)),
        edit=Min("updated_at", filter=Q(status=Post.Status.SENT)),
    )
    if due["claim"] is not None:
        due["claim"] += lease
    moments = [t for t in due.values() if t is not None]
    return min(moments, default=None)


def numbers(*, now: datetime | None = None) -> Numbers:
    """The operating numbers at `now` (read-only: auditors see them on the health page)."""
    now = now or timezone.now()
    by_state = dict(AccessRequest.objects.values_list("state").annotate(n=Count("pk")))
    by_status = dict(Post.objects.values_list("status").annotate(n=Count("pk")))
    by_code = DeliveryAttempt.objects.values_list("status_code").annotate(n=Count("pk"))
    by_class = dict.fromkeys(STATUS_CLASSES, 0)
    for code, n in by_code:
        by_class[_status_class(code)] += n
    retries = Post.objects.aggregate(n=Sum("retries"))["n"] or 0
    watcher = WatcherState.objects.filter(pk=1).first()
    cursor = AuditCursor.objects.filter(pk=1).first()
    rules = [r for r in AccessMonitoringRule.objects.all() if r.applies_to_mattermost]
    clicks = dict(ReviewAttempt.objects.values_list("outcome").annotate(n=Count("pk")))
    rejected = dict(
        RejectedEvent.objects.values_list("kind").annotate(n=Sum("count")).order_by("kind")
    )
    return Numbers(
        requests_by_state={
            s.value: by_state.get(s.value, 0) for s in RequestState if s.value != "NONE"
        },
        posts_by_status={s.value: by_status.get(s.value, 0) for s in Post.Status},
        attempts_by_class=by_class,
        retries=retries,
        rate_limited=DeliveryAttempt.objects.filter(status_code=429).count(),
        queue_depth=queue_depth(),
        posts_due=Post.objects.due(now).count(),
        oldest_due_post_age=_age(now, oldest_due_since(now)),
        watcher_connected=bool(watcher and watcher.connected),
        watcher_reconnects=watcher.reconnects if watcher else 0,
        last_event_age=_age(now, watcher.last_event_at if watcher else None),
        audit_poll_age=_age(now, cursor.last_poll_at if cursor else None),
        audit_poll_failures=cursor.failed_polls if cursor else 0,
        audit_poll_failing=bool(cursor and cursor.last_error),
        audit_permission_missing=bool(cursor and cursor.permission_missing),
        rejected_by_kind={k.value: rejected.get(k.value, 0) or 0 for k in RejectedEvent.Kind},
        rules_total=len(rules),
        rules_broken=sum(1 for r in rules if not r.healthy),
        review_clicks_by_outcome={o.value: clicks.get(o.value, 0) for o in ReviewAttempt.Outcome},
        review_blocked=bool(ReviewFeatureState.blocked()),
    )


__all__ = ["Numbers", "numbers", "oldest_due_since", "queue_depth"]
