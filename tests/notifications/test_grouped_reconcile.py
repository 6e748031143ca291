"""A grouped reconcile task (notifications.tasks.reconcile_requests) against the simulators."""

from __future__ import annotations

import pytest
from django_q.models import OrmQ

from notifications.delivery import PROPS_KEY
from notifications.tasks import GroupFailed, reconcile_requests
from teleportbridge.models import AccessRequest

pytestmark = pytest.mark.django_db(transaction=True)


def _posted_requests(bridge) -> list[str]:
    """The request of each root post in Mattermost, from the bridge's idempotency key."""
    return [p["props"][PROPS_KEY].split(":", 1)[0] for p in bridge.mm.root_posts()]


def test_every_request_of_a_group_is_posted(bridge):
    ids = [bridge.create(user=f"u{i}", roles=["editor"]) for i in range(3)]
    assert reconcile_requests(ids) == "3 request(s)"
    assert sorted(_posted_requests(bridge)) == sorted(ids)


@pytest.mark.parametrize("broken_first", [True, False])
def test_one_broken_request_does_not_stop_the_rest_of_its_group(bridge, caplog, broken_first):
    """As separate tasks, one request's failure never held up another; grouped, it must
    not either, whichever comes first, and the task still fails (django-q2 records it,
    as it records a single request's failed task). The broken row is a real one: roles
    that are not a list."""
    broken = bridge.create(user="broken", roles=["editor"])
    fine = bridge.create(user="fine", roles=["editor"])
    AccessRequest.objects.filter(pk=broken).update(roles=5)
    group = [broken, fine] if broken_first else [fine, broken]
    with (
        caplog.at_level("ERROR", logger="notifications.reconcile"),
        pytest.raises(GroupFailed, match=f"1 of 2 request.s. failed to reconcile: {broken}"),
    ):
        reconcile_requests(group)
    assert _posted_requests(bridge) == [fine]
    failure = [r for r in caplog.records if r.name == "notifications.reconcile"]
    assert len(failure) == 1 and failure[0].exc_info is not None
    assert getattr(failure[0], "request_id", "") == broken


def test_a_group_past_its_time_budget_hands_the_rest_back(bridge):
    """Against a slow Mattermost four requests in one task could outlast Q_TIMEOUT where
    one does not: past the budget the group stops and queues the rest again."""
    ids = [bridge.create(user=f"u{i}", roles=["editor"]) for i in range(3)]
    OrmQ.objects.all().delete()  # bridge.create queued a task per request
    assert reconcile_requests(ids, budget=0.0) == "1 request(s), 2 queued again"
    assert _posted_requests(bridge) == ids[:1]
    queued = [row.task["args"] for row in OrmQ.objects.all()]
    assert queued == [(ids[1:],)]
