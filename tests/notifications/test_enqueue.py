"""The reconcile task is queued atomically with the change that asks for it."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_q.models import OrmQ

from notifications.tasks import GROUP_MAX, enqueue_reconcile, grouped_enqueues

pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    pass


def test_the_queue_row_commits_and_rolls_back_with_the_change():
    """Review finding: queued after the commit, a failed enqueue (SQLite busy) lost the
    change for good: the row was stored, so the resync never asked again. In the same
    transaction, either both are stored or neither."""
    with pytest.raises(Rollback), transaction.atomic():
        enqueue_reconcile("0f9e2c1a-1111-2222-3333-444455556666", why="stored")
        assert OrmQ.objects.count() == 1  # written inside the transaction, not after it
        raise Rollback
    assert OrmQ.objects.count() == 0
    with transaction.atomic():
        enqueue_reconcile("0f9e2c1a-1111-2222-3333-444455556666", why="stored")
    assert OrmQ.objects.count() == 1


def _queued() -> list[tuple[str, tuple]]:
    """(function name, args) of every queued task, oldest first."""
    rows = OrmQ.objects.order_by("pk")
    return [(str(row.func()).rsplit(".", 1)[-1], tuple(row.task["args"])) for row in rows]


def test_grouped_enqueues_hand_a_burst_over_in_tasks_of_up_to_group_max():
    """The watcher stores a burst's waiting events in one transaction: one task per
    GROUP_MAX requests instead of one per request, and a request changed twice in the
    block's open group is reconciled once."""
    ids = [f"0f9e2c1a-1111-2222-3333-{i:012d}" for i in range(GROUP_MAX + 2)]
    with transaction.atomic(), grouped_enqueues():
        for rid in ids:
            enqueue_reconcile(rid, why="stored")
        enqueue_reconcile(ids[-1], why="updated")  # again: already in the open group
    queued = _queued()
    assert [name for name, _ in queued] == ["reconcile_requests", "reconcile_requests"]
    assert list(queued[0][1][0]) == ids[:GROUP_MAX]
    assert list(queued[1][1][0]) == ids[GROUP_MAX:]


def test_a_group_of_one_is_the_single_request_task_and_nesting_joins():
    with transaction.atomic(), grouped_enqueues():
        with grouped_enqueues():
            enqueue_reconcile("0f9e2c1a-1111-2222-3333-444455556666", why="stored")
        assert OrmQ.objects.count() == 0  # the inner block joined the outer one
    assert _queued() == [("reconcile_request", ("0f9e2c1a-1111-2222-3333-444455556666",))]


def test_a_group_queues_nothing_when_its_block_fails():
    """A failed block's changes roll back, so must the tasks asking to reconcile them,
    including the groups already queued when GROUP_MAX filled up."""
    with pytest.raises(Rollback), transaction.atomic(), grouped_enqueues():
        for i in range(GROUP_MAX + 1):
            enqueue_reconcile(f"0f9e2c1a-1111-2222-3333-{i:012d}", why="stored")
        assert OrmQ.objects.count() == 1  # the full group went out inside the transaction
        raise Rollback
    assert OrmQ.objects.count() == 0
