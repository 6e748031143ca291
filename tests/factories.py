"""Small row builders for dashboard tests: real rows in the test DB, no mocks."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User

from notifications.models import DeliveryAttempt, NotificationPlan, Post, Recipient
from teleportbridge.models import AccessRequest, AuditEvent, Review

# The tests' clock: every time in a dashboard test is T0 plus or minus something, and the
# code under test gets `now=` explicitly. Nothing may fall back to the wall clock, or a
# test flips when the calendar moves past T0 (auto_now_add fields are overwritten below).
T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
_seq = itertools.count(1)


def make_request(
    *, id: str | None = None, first_seen_at: datetime = T0, **fields: Any
) -> AccessRequest:
    defaults: dict[str, Any] = {
        "user": "alice",
        "roles": ["prod-db"],
        "reason": "incident 42",
        "state": "PENDING",
        "created_at": first_seen_at,
    }
    defaults.update(fields)
    req = AccessRequest.objects.create(id=id or str(uuid.uuid4()), **defaults)
    # first_seen_at is auto_now_add: set it after the insert.
    AccessRequest.objects.filter(pk=req.pk).update(first_seen_at=first_seen_at)
    req.refresh_from_db()
    return req


def make_post(
    request: AccessRequest | None,
    *,
    status: str = Post.Status.SENT,
    kind: str = Post.Kind.ROOT,
    sent_at: datetime | None = None,
    channel_id: str | None = None,
    **fields: Any,
) -> Post:
    n = next(_seq)
    if status == Post.Status.SENT and sent_at is None:
        sent_at = (request.first_seen_at if request else T0) + timedelta(seconds=5)
    return Post.objects.create(
        request=request,
        kind=kind,
        status=status,
        sent_at=sent_at,
        recipient=fields.pop("recipient", "eng/access-requests"),
        channel_id=channel_id or f"chan{n}",
        key=f"key-{n}",
        mattermost_id=fields.pop("mattermost_id", f"mm{n}" if status == Post.Status.SENT else ""),
        **fields,
    )


def make_attempt(post: Post, *, ok: bool = True, at: datetime | None = None, **fields: Any):
    attempt = DeliveryAttempt.objects.create(
        post=post,
        request_id=post.request_id or "",
        method=fields.pop("method", "POST"),
        endpoint=fields.pop("endpoint", "/api/v4/posts"),
        status_code=fields.pop("status_code", 201 if ok else 500),
        ok=ok,
        **fields,
    )
    if at is not None:  # `at` is auto_now_add
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(at=at)
        attempt.refresh_from_db()
    return attempt


def make_review(
    request: AccessRequest, *, author: str = "bob", at: datetime | None = None, **fields: Any
) -> Review:
    position = request.reviews.count()
    return Review.objects.create(
        request=request,
        position=position,
        author=author,
        proposed_state=fields.pop("proposed_state", "APPROVED"),
        created_at=at or request.first_seen_at + timedelta(minutes=10),
        **fields,
    )


def make_audit_event(
    request_id: str,
    *,
    event_type: str = "access_request.review",
    time: datetime | None = None,
    reviewer: str = "bob",
    **fields: Any,
) -> AuditEvent:
    codes = {
        "access_request.create": "T5000I",
        "access_request.update": "T5001I",
        "access_request.review": "T5002I",
        "access_request.delete": "T5003I",
    }
    return AuditEvent.objects.create(
        event_id=fields.pop("event_id", str(uuid.uuid4())),
        event_type=event_type,
        code=codes.get(event_type, ""),
        time=time or T0 + timedelta(minutes=10),
        request_id=request_id,
        reviewer=reviewer if event_type == "access_request.review" else "",
        proposed_state=fields.pop(
            "proposed_state", "APPROVED" if event_type == "access_request.review" else ""
        ),
        **fields,
    )


def make_recipient(
    handle: str = "eng/access-requests", *, created_at: datetime | None = None, **fields: Any
) -> Recipient:
    """A recipient that existed since a day before T0 unless `created_at` says otherwise."""
    recipient = Recipient.objects.create(handle=handle, **fields)
    # created_at is auto_now_add (the wall clock): pin it to the tests' clock.
    Recipient.objects.filter(pk=recipient.pk).update(
        created_at=created_at or T0 - timedelta(days=1)
    )
    recipient.refresh_from_db()
    return recipient


def make_user(username: str = "auditor", *, auditor: bool = True, **fields: Any) -> User:
    """A user with password "pw-<username>"; auditors get the dashboard permission."""
    user = User.objects.create_user(username, password=f"pw-{username}", **fields)
    if auditor:
        from dashboard.management.commands.createauditor import auditor_group

        user.groups.add(auditor_group())
    return user


def make_plan(
    request: AccessRequest, *, status: str = "planned", recipients: list | None = None, **fields
) -> NotificationPlan:
    """The delivery pipeline's frozen decision of who hears about a request."""
    if recipients is None and status == "planned":
        recipients = [{"handle": "eng/access-requests", "source": "toml"}]
    return NotificationPlan.objects.create(
        request=request, status=status, recipients=recipients or [], **fields
    )
