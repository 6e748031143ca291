"""Q_BROKER=redis in-process, on a real Redis (tests/redis_server.py) and the test's
real database: enqueues share one connection, wait for the commit, and a fork gets its
own pool. The whole topology (watcher + qclusters) is in test_scale_out.py."""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from django.db import transaction
from django_q.brokers import get_broker
from django_q.conf import Conf

from bridge.redis_broker import PooledRedis, shared_redis
from dashboard.numbers import queue_depth
from notifications.tasks import _queue_backlog, enqueue_reconcile

pytestmark = pytest.mark.django_db(transaction=True)


def _our_connections(queue: str) -> list[dict]:
    """This process's connections to Redis, by the name shared_redis() gives them."""
    with redis.Redis.from_url(str(Conf.REDIS)) as probe:
        return [c for c in probe.client_list() if c.get("name") == f"{queue}.{os.getpid()}"]


def test_many_enqueues_share_one_connection(redis_queue):
    """Profiling finding: the stock broker opened a TCP connection per async_task (1,000
    enqueues: 1,000 connections). Here the count stays at one, the same connection (its
    id would change with a reconnect), however many tasks are queued."""
    assert isinstance(get_broker(), PooledRedis)
    enqueue_reconcile(str(uuid.uuid4()), why="first")
    (first,) = _our_connections(redis_queue)
    for _ in range(199):
        # No transaction here: on_commit runs at once, as in autocommit.
        enqueue_reconcile(str(uuid.uuid4()), why="many")
    assert [c["id"] for c in _our_connections(redis_queue)] == [first["id"]]
    # The sweeper's backlog and the health page read the Redis list (LLEN).
    assert _queue_backlog() == 200
    assert queue_depth() == 200


def test_the_task_is_queued_with_the_commit_never_before_nor_for_a_rollback(redis_queue):
    """Redis is outside our transaction: a task pushed before the commit could reach a
    worker that does not see the change yet (notifications.tasks._queue_in_database)."""
    with transaction.atomic():
        enqueue_reconcile(str(uuid.uuid4()), why="committed")
        assert _queue_backlog() == 0  # not yet: the transaction is still open
    assert _queue_backlog() == 1
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_reconcile(str(uuid.uuid4()), why="rolled back")
        raise RuntimeError("rolled back")
    assert _queue_backlog() == 1


def test_a_forked_process_makes_its_own_pool(redis_queue):
    """django-q2's workers are forks: a pool inherited across fork() would share its
    sockets with the parent (replies read by the wrong process)."""
    parent = shared_redis()
    parent.ping()
    pid = os.fork()
    if pid == 0:  # the child: report by exit code only, touch nothing of pytest's
        code = 1
        try:
            child = shared_redis()
            if child is not parent and child.ping() and _our_connections(redis_queue):
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert shared_redis() is parent  # the parent keeps its own
