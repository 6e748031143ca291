"""Q_BROKER=redis has no acknowledgement: a task a worker popped and died with is gone
from Redis. The outbox must still hold the work and the sweeper must queue it again; the
sweeper's backlog guard must read the Redis list. Real Redis (tests/redis_server.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from notifications.models import Post
from notifications.tasks import SWEEP_BACKLOG_LIMIT, sweep_due_posts
from teleportbridge.models import AccessRequest

# Transactional: the watcher's enqueue runs on commit with this broker.
pytestmark = pytest.mark.django_db(transaction=True)


def _queued_request_ids() -> list[str]:
    broker = get_broker()
    tasks = broker.connection.lrange(broker.list_key, 0, -1)
    return [SignedPackage.loads(task)["args"][0] for task in tasks]


def test_a_task_lost_with_its_worker_is_queued_again_by_the_sweeper(bridge, redis_queue):
    rid = bridge.create()  # the watcher's pull: the reconcile is pushed after its commit
    assert _queued_request_ids() == [rid]
    broker = get_broker()
    # A worker's pusher pops it (BLPOP) and the worker is killed before it does anything.
    assert broker.connection.lpop(broker.list_key)
    assert broker.queue_size() == 0
    # Nothing was planned yet: the request stays pending and planless in the database,
    # which the sweeper re-queues once it is older than the sending lease.
    assert not Post.objects.filter(request_id=rid).exists()
    assert sweep_due_posts() == 0  # a fresh request may still be in a queue: not yet
    AccessRequest.objects.filter(pk=rid).update(first_seen_at=timezone.now() - timedelta(minutes=5))
    assert sweep_due_posts() == 1
    assert _queued_request_ids() == [rid]
    bridge.reconcile(rid)  # what the next worker does with it
    assert len(bridge.mm.root_posts()) == 1


def test_the_sweep_stands_aside_while_the_redis_queue_is_long(bridge, redis_queue):
    """The backlog guard (notifications.tasks._queue_backlog) counts the Redis list."""
    rid = bridge.create()
    bridge.reconcile(rid)
    Post.objects.filter(request_id=rid).update(
        text_wanted="edited", updated_at=timezone.now() - timedelta(minutes=1)
    )
    broker = get_broker()
    broker.connection.delete(broker.list_key)
    broker.connection.rpush(broker.list_key, *["waiting"] * (SWEEP_BACKLOG_LIMIT + 1))
    assert sweep_due_posts() == 0
    assert sweep_due_posts(at_start=True) == 1  # at start-up it runs whatever the queue
    broker.connection.delete(broker.list_key)
    assert sweep_due_posts() == 1
