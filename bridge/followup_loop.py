"""The service's due-scans for the bridge-only follow-ups (issue 16).

Lives in `bridge` because it joins two layers: the dashboard detects anomalies, and
notifications stores and sends them (notifications never imports dashboard). Both scans
only read and write the database and queue work; every Mattermost call happens in the
workers. `now` is a parameter so tests drive the clock.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from dashboard.correlation import find_anomalies
from notifications import alerts, reminders
from notifications.tasks import enqueue_alerts, enqueue_reconcile
from teleportbridge.config import Config


def alert_scan_seconds() -> float:
    """How often anomalies are looked for (settings.ALERT_SCAN_SECONDS, env)."""
    return float(getattr(settings, "ALERT_SCAN_SECONDS", 30))


def scan_reminders(cfg: Config, now: datetime | None = None) -> int:
    """Queue the reminders and escalations due at `now`; returns requests queued."""
    if not cfg.features.reminders.enabled:
        return 0
    return reminders.scan_due(now or timezone.now(), cfg, enqueue_reconcile)


def scan_alerts(cfg: Config, now: datetime | None = None) -> int:
    """Raise an alert for each new anomaly of the last 24 hours (and the digest when due),
    then queue their delivery; returns the number of new alerts."""
    if not cfg.features.alerts.enabled:
        return 0
    now = now or timezone.now()
    found = find_anomalies(since=now - alerts.WINDOW, now=now)
    new = alerts.raise_alerts(
        (
            alerts.Notice(
                kind=a.kind.value,
                request_id=a.request_id,
                ident=a.event_id,
                detail=a.detail,
                at=a.at,
            )
            for a in found
        ),
        cfg,
    )
    day = alerts.digest_due(cfg, now)
    if day is not None and alerts.raise_digest(cfg, now, day, len(found)):
        new += 1
    if alerts.has_work(now):
        enqueue_alerts(why=f"{new} new")
    return new
