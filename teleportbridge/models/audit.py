"""Teleport audit events about access requests, and the poller's cursor."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One audit event (access_request.create/update/review/delete/expire).

    The event ID from Teleport is the idempotency key: re-reading a page stores nothing twice.
    """

    event_id = models.CharField(primary_key=True, max_length=128)
    event_type = models.CharField(max_length=64, db_index=True)
    code = models.CharField(max_length=16, blank=True)
    time = models.DateTimeField(db_index=True)
    index = models.BigIntegerField(default=0)
    request_id = models.CharField(max_length=64, db_index=True, blank=True)
    user = models.CharField(max_length=255, blank=True)
    reviewer = models.CharField(max_length=255, blank=True)
    # Who submitted a review for `reviewer` (a plugin such as this bridge); "" for a human's own.
    submitted_by = models.CharField(max_length=255, blank=True)
    proposed_state = models.CharField(max_length=16, blank=True)
    state = models.CharField(max_length=16, blank=True)
    reason = models.TextField(blank=True)
    roles = models.JSONField(default=list)
    raw = models.JSONField(default=dict)
    stored_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-time"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.request_id} @ {self.time:%Y-%m-%d %H:%M:%S}"


class AuditCursor(models.Model):
    """Singleton (pk=1): where the audit poller resumes after a restart.

    `last_time` + the set of event IDs seen at that exact time let a poll restart from
    `last_time` inclusive without re-storing or skipping events that share a timestamp.
    """

    last_time = models.DateTimeField(null=True, blank=True)
    last_ids_at_time = models.JSONField(default=list)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    events_stored = models.PositiveBigIntegerField(default=0)
    failed_polls = models.PositiveBigIntegerField(
        default=0, help_text="Polls that ended with an error (a counter for /metrics)"
    )
    permission_missing = models.BooleanField(
        default=False,
        help_text="The plugin's role lacks event [list, read]: polled rarely until granted",
    )

    def __str__(self) -> str:
        return f"audit cursor @ {self.last_time}"
