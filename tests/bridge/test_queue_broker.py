"""The push hand-off (bridge.queue_broker, bridge.wakeup) on the test's real database.

A wake-up is sent with the commit that queues the task, never before it, and never for a
rollback; the queue row stays the durable record either way."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from bridge import wakeup
from bridge.queue_broker import PushORM
from tests.dashboard.test_security import settings_in_a_fresh_process

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listener():
    made = wakeup.listener("default")
    assert made is not None, "the test database must have a wake-up channel"
    made.wait(0)  # PostgreSQL: connect and LISTEN now; drain anything older
    while made.wait(0):
        pass
    yield made
    made.close()


def test_the_wake_up_goes_out_with_the_commit(listener):
    with transaction.atomic():
        wakeup.notify("default")
        assert not listener.wait(0.2)  # not before the commit
    assert listener.wait(10)
    assert not listener.wait(0)  # drained: one wake-up, one look


def test_no_wake_up_for_a_rollback(listener):
    with pytest.raises(RuntimeError), transaction.atomic():
        wakeup.notify("default")
        raise RuntimeError("rolled back")
    assert not listener.wait(0.3)


def test_an_empty_dequeue_returns_as_soon_as_a_task_commits():
    broker = PushORM(list_key="push-test")
    poll = Conf.POLL
    Conf.POLL = 60.0  # were the wake-up lost, dequeue would hold for a minute
    try:
        broker._wait(0)  # the pusher's listener, as its first empty dequeue makes it
        while broker._listener is not None and broker._listener.wait(0):
            pass
        done: list[object] = []

        def pusher() -> None:
            started = time.monotonic()
            done.append(broker.dequeue())
            done.append(time.monotonic() - started)

        thread = threading.Thread(target=pusher)
        thread.start()
        time.sleep(0.2)  # ok: lets the pusher reach its wait (either order must work)
        broker.enqueue(SignedPackage.dumps({"id": "t1"}))
        thread.join(timeout=30)
        assert not thread.is_alive(), "dequeue kept waiting after the commit"
        # Either the wait was woken (None: the next dequeue claims it) or it had not
        # started waiting yet and claimed the row directly.
        claimed = broker.dequeue() if done[0] is None else done[0]
        assert claimed and len(claimed) == 1
        assert OrmQ.objects.filter(key="push-test").count() == 1  # acked only by the worker
    finally:
        Conf.POLL = poll
        if broker._listener is not None:
            broker._listener.close()


@pytest.mark.parametrize(("env", "poll"), [({}, "5.0"), ({"Q_POLL": "0.5"}, "0.5")])
def test_the_fallback_poll_is_five_seconds_unless_q_poll_says(env, poll):
    # The wake-up carries the hand-off; a 1 s fallback poll was a third of the idle tree's
    # CPU on PostgreSQL (the README documented 5 s while the settings still said 1 s).
    done = settings_in_a_fresh_process('settings.Q_CLUSTER["poll"]', **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == poll


def test_the_pusher_listens_from_its_first_query_on():
    """A task committed between a new pusher's first query and its first wait must wake
    it: were the listener made only by that wait, the wake-up would reach no socket and
    the task would sit until the fallback poll (found reading PushORM: on SQLite the
    socket is bound when the listener is made)."""
    broker = PushORM(list_key="push-first")
    try:
        broker.enqueue(SignedPackage.dumps({"id": "t0"}))
        assert broker.dequeue()  # a new pusher's first call: finds a task, does not wait
        broker.enqueue(SignedPackage.dumps({"id": "t1"}))  # committed after that query
        assert broker._listener is not None, "no listener yet: that wake-up went nowhere"
        assert broker._listener.wait(10)
    finally:
        if broker._listener is not None:
            broker._listener.close()


def test_a_stop_wake_up_goes_out_at_once_outside_any_transaction(listener):
    # runwatcher's stop wakes its pusher this way (django-q2's pusher sees its stop event
    # only between two dequeues; an idle one waits up to Q_POLL).
    waker = wakeup.Waker("default")
    try:
        with transaction.atomic():  # the caller's transaction does not hold it back
            waker.wake()
            assert listener.wait(10)
        waker.wake()  # and again, on the same connection
        assert listener.wait(10)
    finally:
        waker.close()


def test_a_stop_wake_up_gives_up_on_a_database_that_does_not_answer():
    """Were it to connect again every 0.1 s, a database that does not answer would hold
    the stop up for a connect timeout each time."""
    if connection.vendor != "postgresql":
        pytest.skip("the SQLite wake-up is a datagram: nothing to connect to")
    connections.settings["nobody-home"] = {**connections.settings["default"], "PORT": "1"}
    try:
        waker = wakeup.Waker("nobody-home")
        waker.wake()  # refused at once: port 1 on this host
        assert waker.failed and waker.conn is None
        waker.wake()  # quiet from now on
        assert waker.conn is None
    finally:
        connections["nobody-home"].close()
        del connections.settings["nobody-home"]
