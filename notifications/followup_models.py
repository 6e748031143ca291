"""State of the bridge-only follow-ups (issue 16): who the requester is in Mattermost, when the
next reminder is due, which security alerts were raised.

The messages themselves are ordinary `Post` rows (kinds DM, REMINDER, ALERT) with their own
idempotency keys, so they are claimed, sent, adopted and retried exactly like root posts.
These rows only hold what decides *whether* such a post should exist; every due time is
stored here, never held in a process's memory, so a restart picks up where it stopped.
"""

from __future__ import annotations

from django.db import models

from teleportbridge.models import AccessRequest


class RequesterContact(models.Model):
    """Where the requester's direct messages go, looked up once per request.

    `channel_id` empty with `error` set is "requester not reachable" (shown on the timeline).
    """

    request = models.OneToOneField(
        AccessRequest, on_delete=models.CASCADE, primary_key=True, related_name="requester"
    )
    handle = models.CharField(max_length=255, blank=True, help_text="Email or @username used")
    channel_id = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    looked_up_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.request_id}: {self.handle or self.error}"

    @property
    def reachable(self) -> bool:
        return bool(self.channel_id)


class ReminderSchedule(models.Model):
    """The next reminder (and escalation) of one pending request: stored due times.

    `next_slot` counts reminders already scheduled; the due-scan moves it with a guarded
    UPDATE (`next_slot` must still be what it read), so two scans cannot schedule one slot
    twice, and the reminder posts' keys (request/slot/channel) are unique anyway.
    """

    class State(models.TextChoices):
        ACTIVE = "active"
        DONE = "done"  # resolved, deleted, or every reminder and the escalation are out

    request = models.OneToOneField(
        AccessRequest, on_delete=models.CASCADE, primary_key=True, related_name="reminders"
    )
    state = models.CharField(
        max_length=8, choices=State.choices, default=State.ACTIVE, db_index=True
    )
    next_slot = models.PositiveIntegerField(default=0)
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    escalate_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Set by the due-scan when escalate_at has passed: the request's reconcile (a worker,
    # which may call Mattermost) then posts the escalation and sets escalated_at. Asked
    # again after a while if it could not (Mattermost down).
    escalation_asked_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=255, blank=True, help_text="Why done, or deferred")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["next_due_at"]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.state}, reminder #{self.next_slot + 1}"


class SecurityAlert(models.Model):
    """One anomaly (or daily digest) to announce, raised once: its identity is unique."""

    class Kind(models.TextChoices):
        REVIEW_WITHOUT_NOTIFICATION = "review_without_notification"
        NOTIFICATION_FAILED = "notification_failed"
        RESOLUTION_WITHOUT_REVIEW = "resolution_without_review"
        LATE_REVIEW = "late_review"
        DIGEST = "digest"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    # The audit event's id for review anomalies; the local date for a digest; else "".
    ident = models.CharField(max_length=128, blank=True)
    detail = models.TextField(blank=True)
    text = models.TextField(help_text="The message, as posted")
    occurred_at = models.DateTimeField(null=True, blank=True)
    raised_at = models.DateTimeField(auto_now_add=True, db_index=True)
    posts_planned = models.BooleanField(
        default=False, help_text="Its posts exist (channels resolved)"
    )

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            # Idempotency: an anomaly is alerted once, however often the scan sees it.
            models.UniqueConstraint(
                fields=["kind", "request_id", "ident"],
                name="%(app_label)s_%(class)s_unique_identity",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.request_id or self.ident}"
