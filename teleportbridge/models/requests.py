"""Access requests and their reviews, as last seen from Teleport."""

from __future__ import annotations

from django.db import models


class RequestState(models.TextChoices):
    """Teleport's RequestState plus EXPIRED, which is what a DELETE event means."""

    NONE = "NONE"
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DENIED = "DENIED"
    PROMOTED = "PROMOTED"
    EXPIRED = "EXPIRED"


RESOLVED_STATES = frozenset(
    {RequestState.APPROVED, RequestState.DENIED, RequestState.PROMOTED, RequestState.EXPIRED}
)


class AccessRequestQuerySet(models.QuerySet["AccessRequest"]):
    def pending(self) -> AccessRequestQuerySet:
        return self.filter(state=RequestState.PENDING)


class AccessRequest(models.Model):
    """One Teleport Access Request. The primary key is Teleport's request ID (a UUID).

    Rows are never deleted: a DELETE event sets `deleted_at` and state EXPIRED, so the
    history (and the posts that referenced it) survives.
    """

    id = models.CharField(primary_key=True, max_length=64, help_text="Teleport request ID")
    user = models.CharField(max_length=255, db_index=True)
    roles = models.JSONField(default=list)
    resources = models.JSONField(default=list, help_text="Requested resource IDs as paths")
    reason = models.TextField(blank=True)
    state = models.CharField(
        max_length=16, choices=RequestState.choices, default=RequestState.PENDING, db_index=True
    )
    created_at = models.DateTimeField(null=True, blank=True, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_duration = models.DateTimeField(null=True, blank=True)
    suggested_reviewers = models.JSONField(default=list)
    resolve_reason = models.TextField(blank=True)
    system_annotations = models.JSONField(default=dict)
    resolve_annotations = models.JSONField(default=dict)
    revision = models.CharField(max_length=128, blank=True)
    # SHORT_TERM / LONG_TERM / REQUEST_KIND_UNDEFINED as Teleport says ("" if unknown).
    request_kind = models.CharField(max_length=32, blank=True, default="")
    # Hash of the last applied spec: the same event twice is a no-op (idempotent upsert).
    fingerprint = models.CharField(max_length=64, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = AccessRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} ({self.user}: {', '.join(self.roles)})"

    @property
    def is_resolved(self) -> bool:
        return self.state in RESOLVED_STATES


class Review(models.Model):
    """One review of an access request. (request, author, created_at) identifies it."""

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="reviews")
    position = models.PositiveIntegerField(help_text="Index in the request's review list")
    author = models.CharField(max_length=255)
    roles = models.JSONField(default=list)
    proposed_state = models.CharField(max_length=16, choices=RequestState.choices)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request", "position"]
        constraints = [
            # Idempotency key for the watcher's upsert: replays of one review are one row.
            models.UniqueConstraint(
                fields=["request", "author", "created_at"],
                name="%(app_label)s_%(class)s_unique_request_author_created",
            )
        ]

    def __str__(self) -> str:
        return f"{self.author} → {self.proposed_state} on {self.request_id}"
