"""Reviews from Mattermost on the dashboard: clicks on the timeline, their match with
Teleport's own record, and the feature's status for the health page and /metrics.

Teleport's `access_request.review` event is authoritative. An event with `submitted_by` set
(a plugin reviewed on behalf of `reviewer`) should have a click row of ours: the same
request, the same Teleport user, an outcome of "submitted", close in time. One without is an
anomaly: a review in a human's name that nobody clicked for (stolen plugin credentials, or
another plugin using the same identity).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet

from notifications.chatreview import buttons
from notifications.models import ReviewAttempt, ReviewFeatureState
from teleportbridge.models import AuditEvent

#: How far apart the click and Teleport's event may be (clock skew, slow audit writes).
MATCH_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class ChatStatus:
    usable: bool
    reason: str  # why no buttons are shown ("off", "blocked: ...", a version problem)
    blocked: str
    by_outcome: dict[str, int]


def status() -> ChatStatus:
    reason = buttons.feature_usable()
    counts = dict(ReviewAttempt.objects.values_list("outcome").annotate(n=Count("pk")))
    return ChatStatus(
        usable=not reason,
        reason=reason,
        blocked=ReviewFeatureState.blocked(),
        by_outcome={o.value: counts.get(o.value, 0) for o in ReviewAttempt.Outcome},
    )


def submitted_clicks(request_ids: object) -> dict[tuple[str, str], list[datetime]]:
    """(request id, Teleport user) -> times of clicks Teleport accepted."""
    out: dict[tuple[str, str], list[datetime]] = {}
    rows = ReviewAttempt.objects.filter(
        request_id__in=request_ids, outcome=ReviewAttempt.Outcome.SUBMITTED
    ).values_list("request_id", "teleport_user", "at")
    for request_id, user, at in rows:
        out.setdefault((request_id, user), []).append(at)
    return out


def has_click(
    clicks: dict[tuple[str, str], list[datetime]], request_id: str, reviewer: str, at: datetime
) -> bool:
    return any(abs(t - at) <= MATCH_WINDOW for t in clicks.get((request_id, reviewer), []))


@dataclass(frozen=True)
class Unmatched:
    event_id: str
    request_id: str
    reviewer: str
    submitted_by: str
    proposed_state: str
    at: datetime


def unmatched(events: QuerySet[AuditEvent] | Iterable[AuditEvent]) -> list[Unmatched]:
    """Reviews submitted on someone's behalf with no click of ours to account for them."""
    if isinstance(events, QuerySet):
        rows = list(
            events.exclude(submitted_by="").values_list(
                "event_id", "request_id", "reviewer", "submitted_by", "proposed_state", "time"
            )
        )
    else:
        rows = [
            (e.event_id, e.request_id, e.reviewer, e.submitted_by, e.proposed_state, e.time)
            for e in events
            if e.submitted_by
        ]
    clicks = submitted_clicks({r[1] for r in rows})
    return [Unmatched(*r) for r in rows if not has_click(clicks, r[1], r[2], r[5])]
