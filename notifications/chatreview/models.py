"""Rows of the approve-from-Mattermost feature: button nonces, one row per click, an alert.

Imported by notifications/models.py so Django registers them under the `notifications` app.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from teleportbridge.models import AccessRequest


class ButtonNonce(models.Model):
    """One signed set of Approve/Deny buttons on one root post.

    The context Mattermost stores with a button carries this nonce; the row binds it to the
    request, the channel and our Post row (whose Mattermost id is unknown until created), so
    a context copied to another post or channel fails verification even with a valid MAC.
    """

    nonce = models.CharField(primary_key=True, max_length=32)
    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(
        "notifications.Post", on_delete=models.CASCADE, related_name="button_nonces"
    )
    channel_id = models.CharField(max_length=64)
    kid = models.CharField(max_length=16)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"buttons for {self.request_id} in {self.channel_id} until {self.expires_at}"


class ReviewAttempt(models.Model):
    """One click on Approve/Deny (or one forged POST): what was checked and what came of it.

    Teleport's `access_request.review` event stays the authoritative record; this row is the
    bridge's side of it, correlated by request, reviewer and time (dashboard/correlation.py).
    """

    class Outcome(models.TextChoices):
        SUBMITTED = "submitted"  # Teleport accepted the review
        REFUSED = "refused"  # a check of ours failed (failed_check says which)
        REJECTED = "rejected"  # Teleport refused the review (grpc_code/grpc_message)
        ERROR = "error"  # Teleport busy, unreachable or timed out
        REPLAY = "replay"  # the same nonce+user+action (or trigger id) again
        RATE_LIMITED = "rate_limited"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    action = models.CharField(max_length=16, blank=True)
    mm_user_id = models.CharField(max_length=64, blank=True)
    mm_username = models.CharField(max_length=255, blank=True)
    channel_id = models.CharField(max_length=64, blank=True)
    post_id = models.CharField(max_length=64, blank=True)
    source_ip = models.CharField(max_length=64, blank=True)
    failed_check = models.CharField(max_length=64, blank=True)
    teleport_user = models.CharField(max_length=255, blank=True)
    mapping_method = models.CharField(max_length=16, blank=True)
    grpc_code = models.CharField(max_length=32, blank=True)
    grpc_message = models.TextField(blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    latency_ms = models.PositiveIntegerField(default=0)
    # Idempotency keys, set only on the row of a click that went on to Teleport:
    # nonce|user|action (a double click answers "already submitted" without a second RPC)
    # and the trigger_id's client id (a replayed trigger_id is refused). Unique, NULL
    # elsewhere, so the insert itself is the race-free "first one wins".
    claim_key = models.CharField(max_length=128, unique=True, null=True, blank=True)
    trigger_client_id = models.CharField(max_length=64, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["mm_user_id", "at"], name="notif_reviewattempt_user")]

    def __str__(self) -> str:
        return (
            f"{self.action or '?'} {self.request_id or '?'} by {self.mm_username}: {self.outcome}"
        )


class ReviewFeatureState(models.Model):
    """Singleton (pk=1): the alert raised when Teleport refuses to take reviews from us.

    "cannot submit reviews on behalf of" means the bridge's role lacks submit_for_users or
    Auth is too old: every button is hidden until an admin clears the alert.
    """

    blocked_reason = models.TextField(blank=True)
    blocked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"blocked: {self.blocked_reason}" if self.blocked_reason else "not blocked"

    @classmethod
    def get(cls) -> ReviewFeatureState:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    @classmethod
    def blocked(cls) -> str:
        row = cls.objects.filter(pk=1).values_list("blocked_reason", flat=True).first()
        return row or ""

    @classmethod
    def block(cls, reason: str) -> bool:
        """Raise the alert; True when this call raised it (it was not raised before)."""
        cls.get()
        return (
            cls.objects.filter(pk=1, blocked_reason="").update(
                blocked_reason=reason, blocked_at=timezone.now()
            )
            == 1
        )
