"""Records from Teleport that could not be stored: quarantined, counted, shown."""

from __future__ import annotations

import hashlib
import logging

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from teleportbridge.sanitize import fit, json_value, shown

log = logging.getLogger(__name__)


class RejectedEvent(models.Model):
    """One record the watcher or the audit poller refused or the database would not take.

    The pipeline carries on past it (the design rule: a bad record never blocks the ones
    after it). A resync meets the same bad request again after every reconnect, so a
    rejection is keyed by (kind, id, reason) and counted, not stored again.
    """

    class Kind(models.TextChoices):
        ACCESS_REQUEST = "access_request"
        AUDIT_EVENT = "audit_event"

    # Idempotency key: sha256 of kind, object id and reason (see record()).
    key = models.CharField(max_length=64, unique=True, editable=False)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    object_id = models.CharField(
        max_length=255, help_text="The id as received, escaped and shortened for display"
    )
    reason = models.CharField(max_length=255)
    error = models.TextField(blank=True, help_text="What the database or validation said")
    raw = models.JSONField(default=dict, help_text="The record as received, NUL removed")
    count = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}: {self.reason}"

    @classmethod
    def record(
        cls,
        kind: str,
        object_id: str,
        reason: str,
        *,
        error: str = "",
        raw: object = None,
        once: bool = False,
    ) -> None:
        """Quarantine one record (count it again if already known); never raises.

        Called after the failed record's savepoint was rolled back, possibly inside an
        outer transaction (the watcher stores a batch of events in one): each write here
        has a savepoint of its own, so a failure of this bookkeeping never leaves that
        transaction aborted for the events after it (PostgreSQL). If even this fails, one
        log line is all that is left. `once`: the caller may read the very same record
        again (the audit poller re-reads a window of immutable events), so a known one is
        neither counted nor logged again.
        """
        key = hashlib.sha256(f"{kind}\0{object_id}\0{reason}".encode()).hexdigest()
        if once:
            try:
                with transaction.atomic():
                    known = cls.objects.filter(key=key).exists()
            except Exception:
                log.exception("Could not look up the rejection of %s %s", kind, shown(object_id))
                known = False
            if known:
                return
        shown_id = shown(object_id)
        log.warning(
            "Rejected %s %s: %s%s",
            kind,
            shown_id,
            reason,
            f" ({shown(error, 300)})" if error else "",
        )
        try:
            with transaction.atomic():
                cls._count(key, kind, shown_id, reason, error, raw)
        except Exception:
            log.exception("Could not record the rejection of %s %s", kind, shown_id)

    @classmethod
    def _count(
        cls, key: str, kind: str, shown_id: str, reason: str, error: str, raw: object
    ) -> None:
        """One more sighting of a known rejection, or the first one's row."""
        updated = cls.objects.filter(key=key).update(
            count=F("count") + 1, last_seen_at=timezone.now(), error=fit(error, 2000)
        )
        if not updated:
            cls.objects.get_or_create(
                key=key,
                defaults={
                    "kind": kind,
                    "object_id": fit(shown_id, 255),
                    "reason": fit(reason, 255),
                    "error": fit(error, 2000),
                    "raw": json_value(raw if raw is not None else {}),
                },
            )
