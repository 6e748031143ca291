"""The outbox: admin-managed recipients, one Post row per Mattermost post, every HTTP call.

A Post row is committed *before* its HTTP call (status SENDING) so that a crash between
"Mattermost accepted" and "we saved the id" is visible and recoverable (see reconcile.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from teleportbridge.models import AccessRequest, Review


def sending_lease() -> timedelta:
    """How long a SENDING claim is honoured before we assume its worker died."""
    return timedelta(seconds=getattr(settings, "NOTIFY_SENDING_LEASE_SECONDS", 60))


class Recipient(models.Model):
    """A recipient added in the Django admin, in addition to those in the TOML."""

    handle = models.CharField(
        max_length=255,
        help_text='An email address (direct message) or "team/channel" using the team and '
        'channel *names* from the URL (e.g. "eng/access-requests"), not display names.',
    )
    role_pattern = models.CharField(
        max_length=255,
        blank=True,
        help_text="Shell-style pattern of requested roles this recipient cares about, e.g. "
        '"prod-*". Empty means every request.',
    )
    enabled = models.BooleanField(default=True)
    note = models.TextField(blank=True)
    last_lookup_error = models.TextField(blank=True, editable=False)
    last_lookup_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["handle"]
        constraints = [
            models.UniqueConstraint(
                fields=["handle", "role_pattern"],
                name="%(app_label)s_%(class)s_unique_handle_pattern",
            )
        ]

    def __str__(self) -> str:
        return self.handle + (f" [{self.role_pattern}]" if self.role_pattern else "")


class PostQuerySet(models.QuerySet["Post"]):
    def due(self, now: datetime, *, grace: timedelta = timedelta(0)) -> PostQuerySet:
        """Posts with work to do at `now`: the SQL twin of `Post.is_due` (keep them together).

        `grace` leaves alone work younger than that which a queued reconcile will do anyway
        (the sweeper passes one, so a backlog is not enqueued twice).
        """
        # A reply can only be sent under a root that exists in Mattermost: until then it is
        # not due (a root that failed for good would otherwise re-queue its request's
        # reconcile at every sweep, forever); the root's own delivery brings it along.
        has_root = ~Q(kind__in=Post.THREADED) | (Q(root__isnull=False) & ~Q(root__mattermost_id=""))
        return self.filter(has_root).filter(
            Q(status=Post.Status.PENDING, created_at__lte=now - grace)
            | Q(status=Post.Status.RETRYING, next_attempt_at__isnull=True)
            | Q(status=Post.Status.RETRYING, next_attempt_at__lte=now)
            | Q(status=Post.Status.SENDING, updated_at__lte=now - sending_lease())
            | (
                Q(status=Post.Status.SENT, updated_at__lte=now - grace)
                & (~Q(text_sent=F("text_wanted")) | ~Q(buttons_sent=F("buttons_wanted")))
            )
        )


class Post(models.Model):
    """One Mattermost post we intend to exist: a root post per channel, a reply per review.

    State changes are the methods below, each a guarded UPDATE so that two workers (or a
    worker and the sweeper) can never both move the same post.
    """

    class Kind(models.TextChoices):
        ROOT = "root"
        REPLY = "reply"
        TEST = "test"
        # Bridge-only follow-ups (issue 16), same outbox discipline as the two above:
        DM = "dm"  # a direct message to the requester (followup_models.RequesterContact)
        REMINDER = "reminder"  # a thread reply under a root: "still waiting for review"
        ALERT = "alert"  # a security alert or digest (followup_models.SecurityAlert)

    class Status(models.TextChoices):
        PENDING = "pending"  # wanted, not yet tried
        SENDING = "sending"  # committed before the HTTP call; id unknown until it returns
        SENT = "sent"  # Mattermost has it; text_sent is what it shows
        RETRYING = "retrying"  # a transient error; next_attempt_at says when
        FAILED = "failed"  # a permanent error; needs a human ("retry now" in the admin)

    request = models.ForeignKey(
        AccessRequest, on_delete=models.CASCADE, related_name="posts", null=True, blank=True
    )
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="posts", null=True, blank=True
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    recipient = models.CharField(max_length=255, help_text="Raw recipient that led here")
    channel_id = models.CharField(max_length=64)
    # Idempotency key, sent as pending_post_id and in props: unique per (request, channel,
    # kind, review), so a retry after a crash can find or de-duplicate the first attempt.
    key = models.CharField(max_length=128, unique=True)
    root = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    mattermost_id = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    text_wanted = models.TextField(blank=True)
    text_sent = models.TextField(blank=True)
    # Approve/Deny buttons (notifications/chatreview): the nonce of the signed button set the
    # root should show, "" for none; an edit is due when it differs from what was sent.
    buttons_wanted = models.CharField(max_length=32, blank=True, default="")
    buttons_sent = models.CharField(max_length=32, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(
        default=0, help_text="Times a failed attempt was rescheduled (for /metrics)"
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The process holding a SENDING claim, "host:pid:start" (notifications.claims): a
    # restart releases the claims of its dead predecessors instead of waiting the lease.
    claimed_by = models.CharField(max_length=160, blank=True, editable=False)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The alert this post carries (kind ALERT), else null.
    alert = models.ForeignKey(
        "notifications.SecurityAlert",
        on_delete=models.CASCADE,
        related_name="posts",
        null=True,
        blank=True,
    )

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        constraints = [
            # Exactly one root post per (request, channel): the core promise.
            models.UniqueConstraint(
                fields=["request", "channel_id"],
                condition=Q(kind="root"),
                name="%(app_label)s_%(class)s_unique_root_per_channel",
            ),
            models.UniqueConstraint(
                fields=["review", "channel_id"],
                condition=Q(kind="reply"),
                name="%(app_label)s_%(class)s_unique_reply_per_channel",
            ),
        ]
        indexes = [
            # For the sweeper in notifications.tasks: posts that still need work.
            models.Index(
                fields=["next_attempt_at"],
                condition=~Q(status="sent"),
                name="notif_post_unfinished",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.mattermost_id or self.key} in {self.channel_id}"

    # Kinds posted as a thread reply under `root` (they wait for it to exist).
    THREADED = (Kind.REPLY, Kind.REMINDER)

    @property
    def is_synced(self) -> bool:
        return (
            self.status == self.Status.SENT
            and self.text_sent == self.text_wanted
            and self.buttons_sent == self.buttons_wanted
        )

    def is_due(self, now: datetime, *, grace: timedelta = timedelta(0)) -> bool:
        """Has this post work to do at `now`? The Python twin of `PostQuerySet.due`."""
        if self.kind in self.THREADED and (self.root is None or not self.root.mattermost_id):
            return False  # it waits for its root (see PostQuerySet.due)
        if self.status == self.Status.PENDING:
            return self.created_at <= now - grace
        if self.status == self.Status.RETRYING:
            return self.next_attempt_at is None or self.next_attempt_at <= now
        if self.status == self.Status.SENDING:
            return self.updated_at <= now - sending_lease()
        if self.status == self.Status.SENT:
            changed = self.text_sent != self.text_wanted or self.buttons_sent != self.buttons_wanted
            return changed and self.updated_at <= now - grace
        return False  # FAILED waits for a human ("retry now")

    # -- transitions ------------------------------------------------------------------------
    def claim(self) -> bool:
        """Take the post for this worker before the HTTP call (notifications.claims)."""
        from notifications.claims import claim_all

        return bool(claim_all([self]))

    def _finish(self, **fields: Any) -> bool:
        from notifications.claims import finish

        return finish(self, fields)

    def adopt(self, mattermost_id: str) -> None:
        """Record the id of a post an interrupted attempt created (found by its key)."""
        Post.objects.filter(
            pk=self.pk, status=self.Status.SENDING, updated_at=self.updated_at
        ).update(mattermost_id=mattermost_id)
        self.mattermost_id = mattermost_id

    def mark_sent(
        self, text: str, *, mattermost_id: str | None = None, buttons: str | None = None
    ) -> bool:
        """Mattermost shows `text` (created now when `mattermost_id` is given, else edited),
        with the button set `buttons` (a nonce, "" for none; None leaves the record alone)."""
        fields: dict[str, Any] = {"status": self.Status.SENT, "text_sent": text, "last_error": ""}
        if buttons is not None:
            fields["buttons_sent"] = buttons
        if mattermost_id is not None:
            fields.update(mattermost_id=mattermost_id, sent_at=timezone.now())
        fields["next_attempt_at"] = None
        return self._finish(**fields)

    def retry_at(self, when: datetime, error: str) -> bool:
        """A transient failure: try again at `when`."""
        # retries is a counter kept in the row, not in the worker's memory: the workers are
        # separate processes and /metrics reads it from the database (dashboard/numbers.py).
        # Only the claim's owner gets here (_finish is guarded by status=SENDING), so the
        # value read with the row cannot have moved meanwhile.
        return self._finish(
            status=self.Status.RETRYING,
            last_error=error,
            next_attempt_at=when,
            retries=self.retries + 1,
        )

    def release_untried(self, when: datetime) -> bool:
        """Give back a claim whose post was not tried (a 429 stopped the pass): it waits
        until `when`, and the attempt the claim counted is taken back."""
        return self._finish(
            status=self.Status.RETRYING, next_attempt_at=when, attempts=self.attempts - 1
        )

    def mark_failed(self, error: str) -> bool:
        """A permanent failure (or too many transient ones): a human decides what next."""
        return self._finish(status=self.Status.FAILED, last_error=error)


class DeliveryAttempt(models.Model):
    """One HTTP call to Mattermost, successful or not: the complete delivery history."""

    post = models.ForeignKey(
        Post, on_delete=models.CASCADE, related_name="attempts_log", null=True, blank=True
    )
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    method = models.CharField(max_length=8)
    endpoint = models.CharField(max_length=255, help_text="Path only, no host or token")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error_class = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    retry_after = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.status_code or self.error_class}"


class ChannelLookup(models.Model):
    """Cache of recipient handle → Mattermost channel id (and the last lookup error)."""

    handle = models.CharField(primary_key=True, max_length=255)
    channel_id = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    checked_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.handle} → {self.channel_id or self.error}"


class NotificationPlan(models.Model):
    """Who a request is announced to, decided once when we first see it pending.

    Freezing the decision keeps later admin edits from spraying old requests into new
    channels, and records "skipped" (no recipients) as a fact rather than an absence.
    """

    class Status(models.TextChoices):
        PLANNED = "planned"
        SKIPPED = "skipped"

    request = models.OneToOneField(
        AccessRequest, on_delete=models.CASCADE, primary_key=True, related_name="plan"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.TextField(blank=True, help_text="Why skipped, or where recipients came from")
    # [{"handle": ..., "source": ..., "channel_id": ..., "error": ...}] for the timeline.
    recipients = models.JSONField(default=list)
    adopted_from_plugin_data = models.BooleanField(default=False)
    # {role: [logins]} from GetRole when planned: what approving would grant. Kept for the
    # plugin data's logins_by_role and the timeline; {} when role read is not granted.
    logins_by_role = models.JSONField(default=dict, blank=True)
    # [{"name": ..., "matched": bool, "error": ...}]: every access monitoring rule evaluated
    # for this request, so the timeline can say "routed by rule `editors`" (issue 13).
    rules = models.JSONField(default=list, blank=True)
    # Requested resources by friendly name (`kind/hostname`, else `/cluster/kind/name`), as the
    # Go plugin writes them to plugin data `resources`; [] when the request names none.
    resources = models.JSONField(default=list, blank=True)
    plugin_data_written = models.TextField(blank=True, help_text="Last plugin data we wrote")
    planned_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.request_id}: {self.status}"


class RateLimitState(models.Model):
    """Mattermost's rate limit for one bot token, shared by every process that posts.

    Mattermost limits per token with GCRA (mattermost-api.md §5): every worker, process and
    machine posting with the bot's token spends one budget, so pacing is decided here, in
    the database they share (notifications.pacing). Times are epoch seconds (floats) so
    one atomic UPDATE can reserve a slot on both databases.
    """

    # sha256 of the Mattermost URL and token: the token itself is never stored.
    key = models.CharField(primary_key=True, max_length=64)
    burst_limit = models.PositiveIntegerField(default=0, help_text="X-RateLimit-Limit")
    # Bounds on the server's emission interval (1 / PerSec) learnt from the headers;
    # pacing uses the upper one (never faster than the server allows). 0: not known yet.
    interval_lo = models.FloatField(default=0.0)
    interval_hi = models.FloatField(default=0.0)
    # Our copy of the server's "theoretical arrival time": the next free slot.
    tat = models.FloatField(default=0.0)
    # A 429's Retry-After, for everyone: nothing is sent before this.
    blocked_until = models.FloatField(default=0.0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        rate = f"{1 / self.interval_hi:.1f}/s" if self.interval_hi else "unknown rate"
        return f"rate limit {self.burst_limit} burst, {rate}"


# The approve-from-Mattermost rows live in their own module; importing them here registers
# them with the notifications app.
from notifications.chatreview.models import (  # noqa: E402
    ButtonNonce,
    ReviewAttempt,
    ReviewFeatureState,
)

# The follow-up models (requester contact, reminder schedule, security alerts) live in their
# own module; imported here so Django registers them with this app.
from notifications.followup_models import (  # noqa: E402
    ReminderSchedule,
    RequesterContact,
    SecurityAlert,
)

__all__ = [
    "ButtonNonce",
    "ChannelLookup",
    "DeliveryAttempt",
    "NotificationPlan",
    "Post",
    "RateLimitState",
    "Recipient",
    "ReminderSchedule",
    "RequesterContact",
    "ReviewAttempt",
    "ReviewFeatureState",
    "SecurityAlert",
]
