"""Level-triggered reconciliation: make Mattermost show what the database says now.

One idempotent function per request, run by a django-q2 worker whenever anything about
the request changes (and by the sweeper when a retry is due):
1. decide the recipients once (the plan), adopting the Go plugin's posts if it made any;
2. derive the wanted posts: a root post per channel with the text for the current state,
   a thread reply per (review, channel);
3. deliver whatever differs from what was sent (delivery.deliver), roots before replies;
4. mirror the result into the plugin data entry in Teleport.
Running it twice, late, or on two workers at once is harmless (see delivery.py).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from common.request_log import request_context
from notifications import (
    delivery,
    followups,
    plugindata_codec,
    plugindata_sync,
    requested_resources,
    runtime,
)
from notifications.chatreview import buttons as review_buttons
from notifications.mattermost.errors import MattermostError
from notifications.models import NotificationPlan, Post
from notifications.recipients import resolve_all, route_request
from notifications.render import RootPostData, render_review_reply, render_root_post, request_link
from teleportbridge.amr import rules as amr_rules
from teleportbridge.models import AccessRequest, RequestState, Review, WatcherState

log = logging.getLogger(__name__)


def root_key(request_id: str, channel_id: str) -> str:
    # Idempotency key: one root per (request, channel); also Mattermost's pending_post_id.
    return f"{request_id}:{channel_id}:root"


def reply_key(request_id: str, channel_id: str, review: Review) -> str:
    # Idempotency key: one reply per (review, channel); also Mattermost's pending_post_id.
    stamp = review.created_at.strftime("%Y%m%dT%H%M%S%f") if review.created_at else "-"
    key = f"{request_id}:{channel_id}:review:{review.author}:{stamp}"
    if len(key) <= 128:
        return key
    # Cutting it made two long author names one key (and every reconcile of the request
    # failed on the unique constraint): digest the part that does not fit instead.
    digest = hashlib.sha256(f"{review.author}:{stamp}".encode()).hexdigest()
    return f"{request_id}:{channel_id}:review:{digest}"[:128]


def root_text(
    request: AccessRequest, status: str | None = None, resources: list[str] | None = None
) -> str:
    state = status or request.state
    addr = WatcherState.proxy_addr()
    shown: list[str] = []
    if runtime.get_config().mattermost.show_resources:
        if resources is None:
            stored = NotificationPlan.objects.filter(pk=request.pk).values_list(
                "resources", flat=True
            )
            resources = list(stored.first() or [])
        shown = resources
    text = render_root_post(
        RootPostData(
            request_id=request.pk,
            user=request.user,
            roles=list(request.roles),
            reason=request.reason,
            status="PENDING" if state in (RequestState.PENDING, RequestState.NONE) else state,
            resolve_reason=request.resolve_reason,
            link=request_link(addr, request.pk) if addr else None,
            resources=shown,
        )
    )
    return followups.with_reviews(text, request)


def reply_text(review: Review) -> str:
    return render_review_reply(
        review.author, review.created_at, review.proposed_state, review.reason
    )


def _ensure_reply(review: Review, root: Post, **extra) -> None:
    """The reply row for (review, channel); the unique constraint makes this idempotent."""
    Post.objects.get_or_create(
        review=review,
        kind=Post.Kind.REPLY,
        channel_id=root.channel_id,
        defaults={
            "request_id": review.request_id,
            "root": root,
            "key": reply_key(review.request_id, root.channel_id, review),
            "recipient": root.recipient,
            "text_wanted": reply_text(review),
            **extra,
        },
    )


def _skip(
    request: AccessRequest,
    reason: str,
    recipients: list | None = None,
    rules: list | None = None,
    resources: list | None = None,
) -> NotificationPlan:
    log.warning("No channel to post: %s", reason)
    return _create_plan(
        request,
        NotificationPlan.Status.SKIPPED,
        reason,
        recipients or [],
        rules=rules,
        resources=resources,
    )


def _create_plan(
    request,
    status,
    reason,
    recipients,
    *,
    adopted=False,
    logins=None,
    then=None,
    rules=None,
    resources=None,
) -> NotificationPlan:
    """Record the decision and, in the same transaction, the rows it implies (`then()`).

    One transaction because ensure_plan trusts an existing plan: a plan committed without
    its root posts (a crash or a DB error in between) would never be sent.
    """
    try:
        with transaction.atomic():
            plan = NotificationPlan.objects.create(
                request=request,
                status=status,
                reason=reason,
                recipients=recipients,
                adopted_from_plugin_data=adopted,
                logins_by_role=logins or {},
                rules=rules or [],
                resources=resources or [],
            )
            if then is not None:
                then()
            return plan
    except IntegrityError:
        # Two workers planned the same request at once; the first one's plan (and its
        # posts, committed with it) stands.
        return NotificationPlan.objects.get(pk=request.pk)


def _adopt(request: AccessRequest, pd: plugindata_codec.PluginData) -> NotificationPlan:
    """Take over posts the Go plugin made: record them as sent, post nothing again."""
    posted_status = pd.resolution or "PENDING"
    text = root_text(request, posted_status)

    def record_posts() -> None:
        for channel_id, post_id in pd.messages:
            Post.objects.get_or_create(
                request=request,
                kind=Post.Kind.ROOT,
                channel_id=channel_id,
                defaults={
                    "key": root_key(request.pk, channel_id),
                    "recipient": "(plugin data)",
                    "mattermost_id": post_id,
                    "status": Post.Status.SENT,
                    "text_wanted": text,
                    "text_sent": text,
                },
            )
        roots = list(Post.objects.filter(request=request, kind=Post.Kind.ROOT))
        for review in request.reviews.order_by("position")[: pd.reviews_count]:
            for root in roots:
                # The Go plugin already replied for these reviews (reviews_count).
                _ensure_reply(review, root, status=Post.Status.SENT, text_sent=reply_text(review))

    plan = _create_plan(
        request,
        NotificationPlan.Status.PLANNED,
        "adopted the official plugin's posts from Teleport plugin data",
        [
            {"handle": "", "source": "plugin data", "channel_id": c, "error": ""}
            for c, _ in pd.messages
        ],
        adopted=True,
        logins=pd.logins_by_role,
        then=record_posts,
        # The Go plugin's friendly names stand (our later plugin-data writes keep them).
        resources=list(pd.resources),
    )
    log.info("Adopted %d post(s) from plugin data", len(pd.messages))
    return plan


def ensure_plan(request: AccessRequest, *, known: dict | None = None) -> NotificationPlan:
    """Decide recipients once. TransientError propagates (the sweeper retries).

    `known`: plans read beforehand for a group of requests (request id -> plan). One
    missing there may have been made since by another worker: planning it again ends in
    _create_plan's conflict, which takes that worker's plan.
    """
    plan = (
        known.get(request.pk)
        if known is not None
        else NotificationPlan.objects.filter(pk=request.pk).first()
    )
    if plan is not None:
        return plan
    pd = plugindata_sync.read(request.pk)
    if pd is not None and pd.messages:
        return _adopt(request, pd)
    if request.state != RequestState.PENDING:
        return _skip(request, f"first seen already {request.state}; nothing to announce")
    cfg = runtime.get_config()
    found = requested_resources.resolve(request)  # network: before the transaction
    wanted, results = route_request(request, cfg, resource_labels=found.labels)
    rules = [{"name": r.name, "matched": r.matched, "error": r.error} for r in results]
    if not wanted:
        return _skip(
            request,
            "no recipients configured and no suggested reviewers",
            rules=rules,
            resources=found.names,
        )
    resolved = resolve_all(wanted)
    from_rules = [r for r in resolved if r.source.startswith("rule:")]
    if from_rules and not any(r.channel_id for r in from_rules):
        # As upstream: rule recipients replace the TOML routing only when at least one of
        # them resolves to a channel; otherwise the configured recipients apply.
        log.warning(
            "No recipient of the matching access monitoring rules resolved to a channel; "
            "the configured recipients apply"
        )
        fallback, _ = route_request(request, cfg, use_rules=False, record=False)
        tried = {r.handle for r in resolved}
        resolved += resolve_all([w for w in fallback if w.handle not in tried])
    records = [r.as_json() for r in resolved]
    channels: dict[str, str] = {}
    for r in resolved:
        if r.channel_id and r.channel_id not in channels:
            channels[r.channel_id] = r.handle
    if not channels:
        return _skip(
            request, "none of the recipients could be resolved", records, rules, found.names
        )
    logins = plugindata_sync.logins_by_role(request)  # network: before the transaction
    text = root_text(request, resources=found.names)

    def create_roots() -> None:
        create_root_rows(request, channels, text)

    return _create_plan(
        request,
        NotificationPlan.Status.PLANNED,
        f"{len(channels)} channel(s) from {', '.join(sorted({r.source for r in resolved}))}",
        records,
        logins=logins,
        then=create_roots,
        rules=rules,
        resources=found.names,
    )


def create_root_rows(request: AccessRequest, channels: dict[str, str], text: str) -> None:
    """The root post rows of `channels` (channel id -> recipient handle), one INSERT.

    The idempotency key is root_key (request + channel, unique): ignore_conflicts lets a
    row already there (an earlier plan, an escalation, a concurrent worker) stand, so a
    channel never gets a second root post."""
    Post.objects.bulk_create(
        [
            Post(
                request=request,
                kind=Post.Kind.ROOT,
                channel_id=channel_id,
                key=root_key(request.pk, channel_id),
                recipient=handle,
                text_wanted=text,
            )
            for channel_id, handle in channels.items()
        ],
        ignore_conflicts=True,
    )


def sync_wanted_posts(request: AccessRequest) -> list[Post] | None:
    """Update wanted texts and create reply rows; no network.

    One read of the request's posts: the text UPDATE runs only when a root's text differs
    and a reply is created only where (review, channel) has none yet (a burst's requests
    have no reviews and unchanged texts: two SELECTs, no writes). Returns the posts as read
    when nothing was written (delivery can use them as they are), else None.
    """
    posts = list(Post.objects.filter(request=request))
    roots = [p for p in posts if p.kind == Post.Kind.ROOT]
    text = root_text(request)
    wrote = False
    if any(root.text_wanted != text for root in roots):
        Post.objects.filter(request=request, kind=Post.Kind.ROOT).exclude(text_wanted=text).update(
            text_wanted=text
        )
        wrote = True
    replied = {(p.review_id, p.channel_id) for p in posts if p.kind == Post.Kind.REPLY}
    for root in roots:
        # Approve/Deny buttons (opt-in): level-triggered like the text; "" removes them.
        buttons = review_buttons.wanted_buttons(request, root)
        if buttons != root.buttons_wanted:
            Post.objects.filter(pk=root.pk).update(buttons_wanted=buttons)
            wrote = True
    for review in request.reviews.order_by("position"):
        for root in roots:
            if (review.pk, root.channel_id) not in replied:
                # get_or_create: another worker may be creating it right now (the unique
                # constraint per review and channel keeps it one row).
                _ensure_reply(review, root)
                wrote = True
    return None if wrote else posts


@dataclass
class _Delivered:
    """A request whose posts went out in this pass: its plugin data is written next."""

    request: AccessRequest
    plan: NotificationPlan
    summary: str


def _deliver(request_id: str, plans: dict | None = None) -> _Delivered | str:
    """Plan, sync and deliver one request; a summary string when there is nothing to send."""
    request = AccessRequest.objects.filter(pk=request_id).first()
    if request is None:
        return "unknown request"
    try:
        plan = ensure_plan(request, known=plans)
    except MattermostError as exc:
        log.warning("Cannot decide recipients yet (will retry): %s", exc)
        return f"recipients pending: {exc}"
    if plan.status == NotificationPlan.Status.SKIPPED:
        return f"skipped: {plan.reason}"
    posts = sync_wanted_posts(request)
    # Follow-ups (reminders, requester DMs) may add or drop rows here; then delivery
    # reads the posts afresh rather than reusing sync_wanted_posts' copy.
    if followups.before_delivery(request, plan, sync_wanted_posts):
        posts = None
    result = delivery.deliver_request(request, runtime.mattermost(), posts=posts)
    counts = result.counts
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "up to date"
    return _Delivered(request, plan, summary)


def _record(
    delivered: _Delivered,
    written: list[NotificationPlan] | None = None,
    rows: list[plugindata_sync.PostRow] | None = None,
) -> str:
    """Mirror the delivered posts into the plugin data (after their results are written)."""
    plugindata_sync.write(delivered.request, delivered.plan, written=written, rows=rows)
    log.debug("Reconciled: %s", delivered.summary)
    return delivered.summary


def reconcile_request(request_id: str) -> str:
    """Converge one request; returns a short summary (stored by django-q2 as the result)."""
    with request_context(request_id):
        with delivery.batched_results():
            outcome = _deliver(request_id)
        return outcome if isinstance(outcome, str) else _record(outcome)


#: A group takes no new request after this many seconds and hands the rest back to the
#: queue. Against a Mattermost that answers slowly or not at all (10 s client timeout per
#: call) four requests in one task could outlast Q_TIMEOUT (120 s) where one does not,
#: and be killed mid-way.
GROUP_TIME_BUDGET = 20.0
#: A group writes its delivery results together (one transaction) when it is quick, and
#: after each request once this many seconds have passed since the last write.
RESULTS_EVERY = 1.0


@dataclass
class GroupOutcome:
    failed: list[str]  # requests whose reconcile raised (logged with their traceback)
    left: list[str]  # requests not reached within the time budget: to be queued again


def reconcile_group(
    request_ids: list[str],
    *,
    budget: float = GROUP_TIME_BUDGET,
    results_every: float = RESULTS_EVERY,
) -> GroupOutcome:
    """Converge several requests (a grouped task), one after the other.

    Each is converged as by reconcile_request, with what a group can share done once: the
    plans made so far, the rules (amr_rules.one_read), the delivery results (one
    transaction when the group is quick, else written as it goes: results_every) and,
    once every delivery is done, the posts the plugin data is built from and the
    plugin-data marks (one UPDATE). One request's failure is logged and the others still
    run, as they would have as separate tasks.
    """
    started = time.monotonic()
    outcome = GroupOutcome(failed=[], left=[])
    delivered: list[_Delivered] = []
    plans = NotificationPlan.objects.in_bulk(request_ids)
    with delivery.batched_results() as write_results, amr_rules.one_read():
        written_at = started
        for i, request_id in enumerate(request_ids):
            now = time.monotonic()
            if i and now - started > budget:
                outcome.left = request_ids[i:]
                break
            if now - written_at >= results_every:
                # A slow pass (Mattermost slow to answer): what it decided is written
                # now rather than risked with the whole group (delivery.batched_results).
                write_results()
                written_at = now
            with request_context(request_id):
                try:
                    result = _deliver(request_id, plans)
                except Exception:
                    outcome.failed.append(request_id)
                    log.exception("Reconcile failed")
                    continue
            if not isinstance(result, str):
                delivered.append(result)
    written: list[NotificationPlan] = []
    rows = plugindata_sync.post_rows([item.request.pk for item in delivered])
    for item in delivered:
        with request_context(item.request.pk):
            try:
                _record(item, written, rows[item.request.pk])
            except Exception:
                outcome.failed.append(item.request.pk)
                log.exception("Could not record the plugin data")
    plugindata_sync.record_written(written)
    return outcome
