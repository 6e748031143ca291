"""django-q2 entry points and the one way work reaches them.

Each task takes IDs, is idempotent, and returns a summary string. `_queue` is the only place
that calls `async_task`; `enqueue_reconcile` is the way in for a request: the watcher gets
it as its change hook (from the service wiring, with `grouped_enqueues` to batch it), the
sweeper and the admin's "retry now" call it too.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone
from django_q.tasks import async_task

from notifications import alerts, attempts, reconcile, runtime
from notifications.chatreview import buttons as review_buttons
from notifications.claims import release_dead_claims
from notifications.mattermost.errors import MattermostError
from notifications.models import Post, Recipient, sending_lease
from notifications.recipients import resolve
from teleportbridge.models import AccessRequest, RequestState

log = logging.getLogger(__name__)


def reconcile_request(request_id: str) -> str:
    return reconcile.reconcile_request(request_id)


class GroupFailed(Exception):
    """Some requests of a grouped task failed: the task fails, as a single one would."""


def reconcile_requests(
    request_ids: list[str], *, budget: float = reconcile.GROUP_TIME_BUDGET
) -> str:
    """A group of requests (grouped_enqueues): reconcile.reconcile_group.

    Requests the group did not reach in its time `budget` are queued again. When some
    failed, the task fails after the others ran (django-q2 records it, as it records a
    single request's failed task), naming them; each traceback is in the log.
    """
    outcome = reconcile.reconcile_group(request_ids, budget=budget)
    if outcome.left:
        with grouped_enqueues():
            for request_id in outcome.left:
                enqueue_reconcile(request_id, why="continued")
    if outcome.failed:
        raise GroupFailed(
            f"{len(outcome.failed)} of {len(request_ids)} request(s) failed to reconcile: "
            + ", ".join(outcome.failed)
        )
    done = len(request_ids) - len(outcome.left)
    return f"{done} request(s)" + (f", {len(outcome.left)} queued again" if outcome.left else "")


#: Most requests one grouped task carries. The queue's bookkeeping per task (queue row,
#: hand-off, acknowledgement: ~1.5 ms of CPU over three processes) is then paid once per
#: four requests; larger groups measured no faster (bench: 4, 8 and 16 within the noise)
#: and spread a burst worse over the workers of several qcluster processes, whose
#: pushers each claim up to Q_BULK tasks at a time.
GROUP_MAX = 4

# While set (grouped_enqueues()), this thread's reconcile requests gather here:
# request id -> why, in the order first asked.
_group: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "reconcile_group", default=None
)


@contextlib.contextmanager
def grouped_enqueues() -> Iterator[None]:
    """Queue the reconciles asked for inside the block as tasks of up to GROUP_MAX requests.

    For callers that store many changes in one transaction (the watcher taking the events
    already waiting, a resync's chunk): one task per group instead of one per request,
    and a request changed twice within one group is reconciled once. Use it inside that
    transaction: the tasks are queued before the block ends, so they still commit or roll
    back with the changes (enqueue_reconcile). When the block raises, the group still
    open is dropped, and the full groups already queued roll back with that transaction
    (outside a transaction, as in the sweeper, those stay queued: harmless, reconcile is
    idempotent). Nested blocks join the outer one.
    """
    if _group.get() is not None:
        yield
        return
    wanted: dict[str, str] = {}
    token = _group.set(wanted)
    try:
        yield
    finally:
        _group.reset(token)
    _send_group(wanted)


def enqueue_reconcile(request_id: str, *, why: str) -> None:
    """Queue one reconcile of the request, atomically with the change that asks for it.

    With django-q2's ORM broker on our own database (the default), the queue row is written
    inside the caller's transaction: it commits or rolls back with the change, and workers
    only see committed rows. Queueing after the commit instead lost the change whenever the
    enqueue failed (SQLite busy under load): the row was stored, the resync saw the same
    fingerprint and never asked again, so the post kept its old state. With another broker
    there is no shared transaction: it is queued on commit and a failure is logged (the
    sweeper covers posts already due). Queueing twice is harmless: reconcile is idempotent.

    Inside grouped_enqueues() the request joins the group instead.
    """
    group = _group.get()
    if group is not None:
        group.setdefault(request_id, why)
        if len(group) >= GROUP_MAX:
            _send_group(group)
            group.clear()
        return
    _queue(reconcile_request, request_id, task_name=f"{why} {request_id}")


def _send_group(wanted: dict[str, str]) -> None:
    if len(wanted) == 1:
        ((request_id, why),) = wanted.items()
        _queue(reconcile_request, request_id, task_name=f"{why} {request_id}")
    elif wanted:
        whys = "/".join(sorted(set(wanted.values())))
        _queue(reconcile_requests, list(wanted), task_name=f"{whys} {len(wanted)} requests")


def _queue(func, *args, task_name: str) -> None:
    """async_task now, inside the caller's transaction, or on its commit (_queue_in_database)."""

    def _send() -> None:
        async_task(func, *args, task_name=task_name[:100])

    if _queue_in_database():
        _send()
    else:
        transaction.on_commit(_send, robust=True)


def deliver_alerts() -> str:
    return alerts.deliver_alerts()


def enqueue_alerts(*, why: str) -> None:
    """Queue one `deliver_alerts` (security alerts have no request to reconcile). Queueing
    twice is harmless: each alert post is claimed before it is sent."""
    _queue(deliver_alerts, task_name=f"alerts: {why}")


def _queue_in_database() -> bool:
    """True when an enqueue is a row in our own database, written in the caller's
    transaction. Not with Q_BROKER=redis: Redis knows nothing of our transaction, so a
    push before the commit could reach a worker that reads the request before the change
    that asked for it is visible (it would find nothing to do, and nothing would ask
    again); those brokers queue on commit instead."""
    # Q_SYNC runs the task in place: not inside the caller's transaction (and row lock).
    return settings.Q_BROKER == "database" and not settings.Q_CLUSTER.get("sync")


#: Above this many waiting tasks the periodic sweep stands aside (see sweep_due_posts).
SWEEP_BACKLOG_LIMIT = 200


def sweep_due_posts(*, at_start: bool = False) -> int:
    """Enqueue a reconcile for every request with work due: the outbox's safety net.

    `at_start` (once, when the leader starts its workers): no grace and no planless
    delay. Work a killed predecessor had in hand (its queue rows stay locked for
    Q_RETRY) is then redone within seconds instead of minutes; the cost is a second,
    idempotent reconcile of what was merely queued.

    Covers retries whose time has come, SENDING claims left by a dead worker (released
    at once when it ran on this host, notifications.claims; else after the lease), and
    pending requests whose recipients could not be decided yet (Mattermost was down).
    """
    release_dead_claims()  # they become due (RETRYING, now) for the query below
    if not at_start and _queue_backlog() > SWEEP_BACKLOG_LIMIT:
        # The workers are behind (a catch-up, a burst): what is due is most likely in the
        # queue already, and re-queueing it every sweep multiplied the backlog (a 2,000
        # request catch-up on a busy machine re-queued ~1,500 planless requests every
        # 5 s). The sweep resumes once the queue drains.
        return 0
    now = timezone.now()
    # The grace spares work a queued reconcile is about to do (a burst's fresh posts).
    grace = timedelta(0) if at_start else sending_lease() / 6
    due = Post.objects.due(now, grace=grace).exclude(request=None)
    # order_by(): the model's default ordering would put created_at into the DISTINCT.
    ids = set(due.values_list("request_id", flat=True).order_by().distinct())
    # Only requests planless for a while: a fresh one is still in the queue, and
    # re-enqueueing it would copy a whole backlog every sweep (found by bench/notify_burst).
    ids |= set(
        AccessRequest.objects.filter(
            state=RequestState.PENDING,
            plan__isnull=True,
            first_seen_at__lte=now - (timedelta(0) if at_start else sending_lease()),
        ).values_list("pk", flat=True)
    )
    # Approve/Deny buttons whose signature is about to run out are re-signed (chatreview).
    ids |= review_buttons.expiring(now)
    with grouped_enqueues():  # a restart's sweep can find a whole burst due
        for request_id in ids:
            enqueue_reconcile(request_id, why="retry")
    return len(ids)


def _queue_backlog() -> int:
    """Tasks waiting in django-q2's queue (not yet handed to a worker): rows of the task
    table, or the length of the Redis list (LLEN: a task a worker popped is not counted,
    as a claimed row is not visible to the next claim either)."""
    from django_q.brokers import get_broker

    return int(get_broker().queue_size() or 0)


def retry_posts(post_ids: list[int]) -> int:
    """Admin "retry now": failed or waiting posts go back to the queue at once."""
    now = timezone.now()
    posts = (
        Post.objects.filter(pk__in=post_ids)
        .exclude(status=Post.Status.SENT)
        # A live claim belongs to a worker that may be sending right now.
        .exclude(status=Post.Status.SENDING, updated_at__gt=now - sending_lease())
    )
    request_ids = set(posts.values_list("request_id", flat=True))
    # attempts drops to at most 1, not 0: a post that was ever tried may already be in
    # Mattermost (a timeout after the send), and delivery searches for it by key only when
    # attempts > 0; resetting to 0 posted it twice. updated_at moves so an old claim's
    # finisher cannot land on top (Post._finish checks it).
    count = posts.update(
        status=Post.Status.PENDING,
        next_attempt_at=None,
        attempts=Least(F("attempts"), 1),
        updated_at=now,
    )
    for request_id in request_ids - {None}:
        enqueue_reconcile(request_id, why="retry now")
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
        with attempts.recording(post_id=None, request_id=""):
            post = runtime.mattermost().create_post(channel_id, text)
    except (MattermostError, ValueError) as exc:
        return f"failed: {exc}"
    return f"sent (post {post['id']} in channel {channel_id})"
