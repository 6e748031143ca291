"""Deliver a request's posts: create each one, or edit it to the wanted text, exactly once.

Idempotency: each Post carries a key (unique per request, channel, kind and review),
sent as Mattermost's `pending_post_id` and stored in the post's props. A post is
claimed with a guarded UPDATE (`Post.claim`) and committed as SENDING *before* the HTTP
call, so a crash leaves evidence. Any later attempt at a post whose earlier attempt may
have reached Mattermost first searches the channel for the key and adopts what it finds
instead of posting again.

This module owns a post's whole step (ordering, the root a reply needs, what a 429 means
for the rest of the request); reconcile.py only decides which posts should exist.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.backoff import backoff_delay
from notifications import attempts, claims
from notifications.chatreview import buttons as review_buttons
from notifications.mattermost.client import MattermostClient
from notifications.mattermost.errors import PermanentError, TransientError
from notifications.models import Post
from teleportbridge.models import AccessRequest

log = logging.getLogger(__name__)

PROPS_KEY = "teleport_bridge_key"
RETRY_BASE = 2.0
RETRY_CAP = 600.0


def max_attempts() -> int:
    return getattr(settings, "NOTIFY_MAX_ATTEMPTS", 15)


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    WAITING = "waiting"  # a reply whose root does not exist yet
    BUSY = "busy"  # another worker holds the claim
    DEFERRED = "deferred"  # not tried: Mattermost is rate limiting us


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    # Set when Mattermost answered 429: nothing more should be sent before this time.
    throttled_until: datetime | None = None


@dataclass
class Summary:
    """What one delivery pass did, per outcome; `throttled_until` when it stopped at a 429."""

    counts: dict[str, int] = field(default_factory=dict)
    throttled_until: datetime | None = None

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome.value] = self.counts.get(outcome.value, 0) + 1


@contextlib.contextmanager
def batched_results() -> Iterator[Callable[[], None]]:
    """Write the delivery results settled inside the block (claims.deferred_finishes), then
    their history (attempts.deferred), when it ends; yields a function that writes what is
    waiting now.

    One transaction for the results of a pass, or of a group of requests
    (reconcile.reconcile_group): in autocommit each row of the executemany was a commit of
    its own. The history follows in its own INSERT, not in that transaction: an attempt
    can name a post a follow-up deleted meanwhile, and the foreign key, checked at the
    commit, would then take the results down with it. Written even when the block
    raises: a post sent before the failure keeps its result. A crash or a task timeout
    inside the block leaves the posts SENDING, as one during their HTTP call would (see
    claims.deferred_finishes), and loses what was decided for them (a retry's backoff, a
    FAILED verdict): the restart or the lease hands them back as RETRYING, searched for
    by key first. A long block therefore writes as it goes (reconcile_group: every
    second). Nested blocks join the outer one (their function writes nothing).
    """
    with claims.deferred_finishes() as finishes, attempts.deferred() as rows:

        def write() -> None:
            if finishes:
                with transaction.atomic():
                    claims.write_finishes(finishes)
                finishes.clear()
            if rows:
                attempts.store(rows)
                rows.clear()

        try:
            yield write
        finally:
            write()


def deliver_request(
    request: AccessRequest, client: MattermostClient, *, posts: list[Post] | None = None
) -> Summary:
    """Bring every due post of the request to Mattermost: roots first, then replies.

    In waves: what can go now (roots, replies under a root already posted) is claimed with
    one UPDATE, sent in order, and the replies its new roots made possible form the next
    wave. The results are written together when the pass ends (batched_results).

    After a 429 the rest of the request is not tried (it would only be refused too): its
    pending posts are moved to the same retry time, for the sweeper to pick up.

    `posts`: the request's posts as just read by the caller, if it has them (saves a
    read). A row changed since is harmless: its claim, guarded by updated_at, fails.
    """
    summary = Summary()
    now = timezone.now()
    if posts is None:
        posts = list(Post.objects.filter(request=request))
    by_pk = {p.pk: p for p in posts}
    ordered = sorted(posts, key=lambda p: (p.kind != Post.Kind.ROOT, p.created_at, p.pk))
    considered: set[int] = set()
    with batched_results():
        while summary.throttled_until is None:
            wave = []
            for post in ordered:
                if post.pk in considered:
                    continue
                if post.kind in Post.THREADED and post.root_id is not None:
                    _attach_root(post, by_pk)
                if post.is_due(now):
                    wave.append(post)
            if not wave:
                break
            considered.update(p.pk for p in wave)
            mine = claims.claim_all(wave)
            for _ in range(len(wave) - len(mine)):
                summary.add(Outcome.BUSY)
            for post in mine:
                if summary.throttled_until is not None:
                    # Claimed but not tried: back to waiting, the attempt not counted.
                    post.release_untried(summary.throttled_until)
                    summary.add(Outcome.DEFERRED)
                    continue
                result = _deliver_claimed(post, client)
                summary.add(result.outcome)
                summary.throttled_until = result.throttled_until
        if summary.throttled_until is not None:
            for post in ordered:
                if post.pk not in considered and post.is_due(now):
                    summary.add(Outcome.DEFERRED)
    if summary.throttled_until is not None:
        Post.objects.filter(request=request, status=Post.Status.PENDING).update(
            status=Post.Status.RETRYING, next_attempt_at=summary.throttled_until
        )
    return summary


def _attach_root(reply: Post, by_pk: dict[int, Post]) -> None:
    """Give a reply the root object of this same pass (no query per reply).

    The root is in `by_pk` (same request) and roots go first, so a root sent earlier in
    this pass already carries its new mattermost_id. Only a root still without one is
    read afresh: another worker may have sent it meanwhile.
    """
    root = by_pk.get(reply.root_id) if reply.root_id is not None else None
    if root is None:
        return  # not of this request (never expected): Django loads it on access
    if not root.mattermost_id:
        root.refresh_from_db(fields=["mattermost_id", "status", "updated_at"])
    reply.root = root


def _find_existing(client: MattermostClient, post: Post) -> dict | None:
    """The post an earlier, interrupted attempt may have created (matched by key)."""
    since = int((post.created_at - timedelta(minutes=1)).timestamp() * 1000)
    page = client.get_channel_posts(post.channel_id, since_ms=since, per_page=200)
    for item in page.get("posts", {}).values():
        if (item.get("props") or {}).get(PROPS_KEY) == post.key and not item.get("delete_at"):
            return item
    return None


def deliver(post: Post, client: MattermostClient) -> Result:
    """One step for one post. Expected failures are recorded on the post, never raised."""
    if post.kind in Post.THREADED and (post.root is None or not post.root.mattermost_id):
        return Result(Outcome.WAITING)  # ordering: a reply waits for its root post
    if not post.claim():
        return Result(Outcome.BUSY)
    return _deliver_claimed(post, client)


def _deliver_claimed(post: Post, client: MattermostClient) -> Result:
    """Send or edit a post this process has claimed (its root, if any, is posted)."""
    root_mm_id = post.root.mattermost_id if post.kind in Post.THREADED and post.root else ""
    # The claim counted this attempt: an earlier one may have landed.
    uncertain = post.attempts > 1 and not post.mattermost_id
    # Buttons (opt-in, chatreview): part of the wanted state like the text; "" draws none.
    buttons = post.buttons_wanted
    props = {PROPS_KEY: post.key, **review_buttons.props_for(post)}
    text = post.text_wanted
    with attempts.recording(post_id=post.pk, request_id=post.request_id or ""):
        try:
            if not post.mattermost_id and uncertain:
                found = _find_existing(client, post)
                if found is not None:
                    log.info("Adopted post %s created by an interrupted attempt", found["id"])
                    post.adopt(str(found["id"]))
                    if found.get("message") == text:
                        shown = (found.get("props") or {}).get(review_buttons.PROPS_BUTTONS, "")
                        post.mark_sent(text, buttons=str(shown))
                        return Result(Outcome.SENT)
            if post.mattermost_id:
                client.update_post(
                    post.mattermost_id, post.channel_id, text, root_id=root_mm_id, props=props
                )
                post.mark_sent(text, buttons=buttons)
                log.info("Edited %s post %s in %s", post.kind, post.mattermost_id, post.channel_id)
                return Result(Outcome.SENT)
            created = client.create_post(
                post.channel_id, text, root_id=root_mm_id, props=props, pending_post_id=post.key
            )
            post.mark_sent(text, mattermost_id=str(created["id"]), buttons=buttons)
            log.info("Posted %s %s in channel %s", post.kind, post.mattermost_id, post.channel_id)
            return Result(Outcome.SENT)
        except TransientError as exc:
            return _transient(post, exc)
        except PermanentError as exc:
            post.mark_failed(str(exc))
            log.error("Cannot deliver %s post to %s: %s", post.kind, post.channel_id, exc)
            return Result(Outcome.FAILED)


def _transient(post: Post, exc: TransientError) -> Result:
    """Retry later (never sooner than the server asked), or give up after max_attempts()."""
    if post.attempts >= max_attempts():
        post.mark_failed(f"gave up after {post.attempts} attempts: {exc}")
        log.error("Giving up on %s post in %s: %s", post.kind, post.channel_id, exc)
        return Result(Outcome.FAILED)
    delay = max(
        exc.retry_after or 0.0,
        backoff_delay(post.attempts - 1, base=RETRY_BASE, cap=RETRY_CAP),
    )
    when = timezone.now() + timedelta(seconds=delay)
    post.retry_at(when, str(exc))
    log.warning("Will retry %s post in %.1fs: %s", post.kind, delay, exc)
    # A 429 is about us, not this post: the caller holds back the rest until `when`.
    return Result(Outcome.RETRY, throttled_until=when if exc.status == 429 else None)
