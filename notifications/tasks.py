"""django-q2 entry points. Each takes IDs, is idempotent, and returns a summary string."""

from __future__ import annotations

import logging

from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from notifications import delivery, reconcile, runtime
from notifications.mattermost.errors import MattermostError
from notifications.models import Post, Recipient
from notifications.recipients import resolve
from teleportbridge.models import AccessRequest, RequestState
from teleportbridge.sync import RECONCILE_TASK

log = logging.getLogger(__name__)


def reconcile_request(request_id: str) -> str:
    return reconcile.reconcile_request(request_id)


def sweep_due_posts() -> int:
    """Enqueue a reconcile for every request with work due: the outbox's safety net.

    Covers retries whose time has come, SENDING claims left by a dead worker, and
    pending requests whose recipients could not be decided yet (Mattermost was down).
    """
    now = timezone.now()
    due = Post.objects.filter(
        Q(status=Post.Status.RETRYING, next_attempt_at__lte=now)
        | Q(status=Post.Status.PENDING, created_at__lte=now - delivery.sending_lease() / 6)
        | Q(status=Post.Status.SENDING, updated_at__lte=now - delivery.sending_lease())
    ).exclude(request=None)
    ids = set(due.values_list("request_id", flat=True).distinct())
    # Only requests planless for a while: a fresh one is still in the queue, and
    # re-enqueueing it would copy a whole backlog every sweep (found by bench/notify_burst).
    ids |= set(
        AccessRequest.objects.filter(
            state=RequestState.PENDING,
            plan__isnull=True,
            first_seen_at__lte=now - delivery.sending_lease(),
        ).values_list("pk", flat=True)
    )
    for request_id in ids:
        async_task(RECONCILE_TASK, request_id, task_name=f"retry {request_id}"[:100])
    return len(ids)


def retry_posts(post_ids: list[int]) -> int:
    """Admin "retry now": failed or waiting posts go back to the queue at once."""
    posts = Post.objects.filter(pk__in=post_ids).exclude(status=Post.Status.SENT)
    request_ids = set(posts.values_list("request_id", flat=True))
    count = posts.update(status=Post.Status.PENDING, next_attempt_at=None, attempts=0)
    for request_id in request_ids - {None}:
        async_task(RECONCILE_TASK, request_id)
    return count


def send_test_message(recipient_id: int) -> str:
    """Admin "test" action: resolve the recipient and post a short message; says what happened."""
    recipient = Recipient.objects.get(pk=recipient_id)
    text = (
        "This is a test message from teleport-mattermost-bridge: access request "
        "notifications will arrive here."
    )
    try:
        channel_id = resolve(recipient.handle)
        with runtime.for_post(None):
            post = runtime.mattermost().create_post(channel_id, text)
    except (MattermostError, ValueError) as exc:
        return f"failed: {exc}"
    return f"sent (post {post['id']} in channel {channel_id})"
