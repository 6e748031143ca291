"""The reconcile task is queued atomically with the change that asks for it."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_q.models import OrmQ

from notifications.tasks import enqueue_reconcile

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
