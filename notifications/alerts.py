"""Security alerts (`[audit] alert_channel`, `alert_recipients`, `digest_at`).

The anomalies are detected by the dashboard's correlation (which reads audit events, posts
and reviews); the service loop hands each one here as a plain `Notice` (notifications never
imports dashboard). `raise_alerts` stores each notice once (`SecurityAlert`, unique on
kind/request/ident: seen again at every scan, alerted once). `deliver_alerts` (a worker task)
resolves the alert handles, creates one ALERT `Post` per alert and channel (key
`alert:<alert id>:<channel>`) and delivers due alert posts through `delivery.deliver`, the
same claim/adopt/retry step as every other post.
"""

from __future__ import annotations

import logging
import statistics
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Min
from django.utils import timezone

from notifications import delivery, followup_render, runtime
from notifications.mattermost.errors import PermanentError, TransientError
from notifications.models import Post, SecurityAlert
from notifications.recipients import resolve
from teleportbridge.config import Config
from teleportbridge.models import AccessRequest
from teleportbridge.sanitize import is_request_id

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Notice:
    """One anomaly as the dashboard's correlation found it."""

    kind: str
    request_id: str
    ident: str  # the audit event id for review anomalies, else ""
    detail: str
    at: datetime | None


def timeline_link(cfg: Config, request_id: str) -> str | None:
    base = cfg.features.public_url
    # Only ids the watcher accepts are linked (the dashboard's rule): an id from the audit
    # log could otherwise put anything into the URL.
    return f"{base}/requests/{request_id}/" if base and is_request_id(request_id) else None


def raise_alerts(notices: Iterable[Notice], cfg: Config) -> int:
    """Store each new notice as an alert; returns how many were new."""
    new = 0
    for n in notices:
        text = followup_render.alert(
            n.kind, n.request_id, n.detail, timeline_link(cfg, n.request_id)
        )
        try:
            with transaction.atomic():
                _, made = SecurityAlert.objects.get_or_create(
                    kind=n.kind,
                    request_id=n.request_id,
                    ident=n.ident[:128],
                    defaults={"detail": n.detail, "text": text, "occurred_at": n.at},
                )
        except IntegrityError:  # a concurrent scan stored it first
            made = False
        if made:
            new += 1
            log.warning("Security alert: %s %s", n.kind, n.request_id)
    return new


def digest_due(cfg: Config, now: datetime) -> str | None:
    """The local date whose digest is due at `now` and not yet raised, else None."""
    at = cfg.features.alerts.digest_at
    if at is None:
        return None
    local = now.astimezone(zoneinfo.ZoneInfo(cfg.features.alerts.timezone))
    if local.time().replace(tzinfo=None) < at:
        return None
    day = local.date().isoformat()
    if SecurityAlert.objects.filter(kind=SecurityAlert.Kind.DIGEST, ident=day).exists():
        return None
    return day


def raise_digest(cfg: Config, now: datetime, day: str, anomalies: int) -> bool:
    """The summary of the 24 hours before `now`, once per local day."""
    since = now - WINDOW
    recent = AccessRequest.objects.filter(first_seen_at__gt=since, first_seen_at__lte=now)
    by_state = dict(recent.values_list("state").annotate(n=Count("pk")).order_by())
    waits = [
        first - created
        for created, first in recent.annotate(first=Min("reviews__created_at"))
        .exclude(first=None)
        .exclude(created_at=None)
        .values_list("created_at", "first")
        if first >= created
    ]
    failed = Post.objects.filter(status=Post.Status.FAILED, updated_at__gt=since).count()
    base = cfg.features.public_url
    text = followup_render.digest(
        day,
        by_state,
        statistics.median(waits) if waits else None,
        failed,
        anomalies,
        f"{base}/" if base else None,
    )
    try:
        with transaction.atomic():
            SecurityAlert.objects.create(
                kind=SecurityAlert.Kind.DIGEST, ident=day, text=text, occurred_at=now
            )
    except IntegrityError:
        return False
    return True


def has_work(now: datetime) -> bool:
    """Alerts without posts yet, or alert posts due: worth queueing `deliver_alerts`."""
    return (
        SecurityAlert.objects.filter(posts_planned=False).exists()
        or Post.objects.due(now).filter(kind=Post.Kind.ALERT).exists()
    )


def _plan(alert: SecurityAlert, cfg: Config) -> bool:
    """One ALERT post per resolved handle; False to retry later (Mattermost down)."""
    channels: dict[str, str] = {}
    for handle in cfg.features.alerts.handles:
        try:
            channels.setdefault(resolve(handle), handle)
        except PermanentError as exc:
            log.error("Cannot send security alerts to %s: %s", handle, exc)
        except TransientError as exc:
            log.warning("Cannot resolve the alert channel yet (will retry): %s", exc)
            return False
    with transaction.atomic():
        Post.objects.bulk_create(
            [
                Post(
                    kind=Post.Kind.ALERT,
                    alert=alert,
                    recipient=handle,
                    channel_id=channel_id,
                    # Idempotency key: one post per (alert, channel); also pending_post_id.
                    key=f"alert:{alert.pk}:{channel_id}",
                    text_wanted=alert.text,
                )
                for channel_id, handle in channels.items()
            ],
            ignore_conflicts=True,
        )
        SecurityAlert.objects.filter(pk=alert.pk).update(posts_planned=True)
    return True


def deliver_alerts() -> str:
    """Worker task: plan new alerts' posts, then deliver every due alert post once."""
    cfg = runtime.get_config()
    if not cfg.features.alerts.enabled:
        return "alerts off"
    for alert in SecurityAlert.objects.filter(posts_planned=False).order_by("raised_at"):
        if not _plan(alert, cfg):
            break
    client = runtime.mattermost()
    counts: dict[str, int] = {}
    for post in Post.objects.due(timezone.now()).filter(kind=Post.Kind.ALERT).order_by("pk"):
        result = delivery.deliver(post, client)
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
        if result.throttled_until is not None:
            break  # Mattermost is rate limiting us: the rest waits for the next round
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "up to date"
