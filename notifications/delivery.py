"""Deliver one Post: create it, or edit it to the wanted text, exactly once.

Idempotency: each Post carries a key (unique per request, channel, kind and review),
sent as Mattermost's `pending_post_id` and stored in the post's props. A post is
claimed with a guarded UPDATE (optimistic lock on updated_at) and committed as SENDING
*before* the HTTP call, so a crash leaves evidence. Any later attempt at a post whose
earlier attempt may have reached Mattermost first searches the channel for the key
and adopts what it finds instead of posting again.
"""

from __future__ import annotations

import enum
import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from common.backoff import backoff_delay
from notifications import runtime
from notifications.mattermost.client import MattermostClient
from notifications.mattermost.errors import PermanentError, TransientError
from notifications.models import Post

log = logging.getLogger(__name__)

PROPS_KEY = "teleport_bridge_key"
RETRY_BASE = 2.0
RETRY_CAP = 600.0


def max_attempts() -> int:
    return getattr(settings, "NOTIFY_MAX_ATTEMPTS", 15)


def sending_lease() -> timedelta:
    """How long a SENDING claim is honoured before we assume its worker died."""
    return timedelta(seconds=getattr(settings, "NOTIFY_SENDING_LEASE_SECONDS", 60))


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    WAITING = "waiting"  # a reply whose root does not exist yet
    BUSY = "busy"  # another worker holds the claim


def needs_work(post: Post, now=None) -> bool:
    now = now or timezone.now()
    if post.status == Post.Status.FAILED:
        return False
    if post.status == Post.Status.SENDING:
        return post.updated_at <= now - sending_lease()
    if post.status == Post.Status.RETRYING:
        return post.next_attempt_at is None or post.next_attempt_at <= now
    if post.status == Post.Status.SENT:
        return post.text_sent != post.text_wanted
    return True


def _claim(post: Post) -> bool:
    """Take the post for this worker; False if anyone touched it since we read it."""
    now = timezone.now()
    claimed = Post.objects.filter(pk=post.pk, updated_at=post.updated_at).update(
        status=Post.Status.SENDING, attempts=F("attempts") + 1, updated_at=now
    )
    if claimed == 1:
        post.attempts += 1
        post.updated_at = now
        post.status = Post.Status.SENDING
    return claimed == 1


def _finish(post: Post, **fields) -> None:
    fields["updated_at"] = timezone.now()
    Post.objects.filter(pk=post.pk, status=Post.Status.SENDING).update(**fields)
    for k, v in fields.items():
        setattr(post, k, v)


def _find_existing(client: MattermostClient, post: Post) -> dict | None:
    """The post an earlier, interrupted attempt may have created (matched by key)."""
    since = int((post.created_at - timedelta(minutes=1)).timestamp() * 1000)
    page = client.get_channel_posts(post.channel_id, since_ms=since, per_page=200)
    for item in page.get("posts", {}).values():
        if (item.get("props") or {}).get(PROPS_KEY) == post.key and not item.get("delete_at"):
            return item
    return None


def deliver(post: Post, client: MattermostClient) -> Outcome:
    """One step for one post. Expected failures are recorded, never raised."""
    root_mm_id = ""
    if post.kind == Post.Kind.REPLY:
        root = post.root
        if root is None or not root.mattermost_id:
            return Outcome.WAITING  # ordering: a reply waits for its root post
        root_mm_id = root.mattermost_id
    uncertain = post.attempts > 0 and not post.mattermost_id  # an earlier try may have landed
    if not _claim(post):
        return Outcome.BUSY
    props = {PROPS_KEY: post.key}
    text = post.text_wanted
    with runtime.for_post(post.pk):
        try:
            if not post.mattermost_id and uncertain:
                found = _find_existing(client, post)
                if found is not None:
                    log.info("Adopted post %s created by an interrupted attempt", found["id"])
                    post.mattermost_id = found["id"]
                    Post.objects.filter(pk=post.pk).update(mattermost_id=found["id"])
                    if found.get("message") == text:
                        _finish(post, status=Post.Status.SENT, text_sent=text, last_error="")
                        return Outcome.SENT
            if post.mattermost_id:
                client.update_post(
                    post.mattermost_id, post.channel_id, text, root_id=root_mm_id, props=props
                )
                _finish(post, status=Post.Status.SENT, text_sent=text, last_error="")
                log.info("Edited %s post %s in %s", post.kind, post.mattermost_id, post.channel_id)
                return Outcome.SENT
            created = client.create_post(
                post.channel_id, text, root_id=root_mm_id, props=props, pending_post_id=post.key
            )
            _finish(
                post,
                status=Post.Status.SENT,
                mattermost_id=str(created["id"]),
                text_sent=text,
                sent_at=timezone.now(),
                last_error="",
                next_attempt_at=None,
            )
            log.info("Posted %s %s in channel %s", post.kind, post.mattermost_id, post.channel_id)
            return Outcome.SENT
        except TransientError as exc:
            if post.attempts >= max_attempts():
                _finish(
                    post,
                    status=Post.Status.FAILED,
                    last_error=f"gave up after {post.attempts} attempts: {exc}",
                )
                log.error("Giving up on %s post in %s: %s", post.kind, post.channel_id, exc)
                return Outcome.FAILED
            delay = max(
                exc.retry_after or 0.0,
                backoff_delay(post.attempts - 1, base=RETRY_BASE, cap=RETRY_CAP),
            )
            _finish(
                post,
                status=Post.Status.RETRYING,
                last_error=str(exc),
                next_attempt_at=timezone.now() + timedelta(seconds=delay),
            )
            log.warning("Will retry %s post in %.1fs: %s", post.kind, delay, exc)
            return Outcome.RETRY
        except PermanentError as exc:
            _finish(post, status=Post.Status.FAILED, last_error=str(exc))
            log.error("Cannot deliver %s post to %s: %s", post.kind, post.channel_id, exc)
            return Outcome.FAILED
