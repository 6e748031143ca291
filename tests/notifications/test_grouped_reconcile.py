"""A grouped reconcile task (notifications.tasks.reconcile_requests) against the simulators."""

from __future__ import annotations

import pytest

from notifications.delivery import PROPS_KEY
from notifications.tasks import reconcile_requests
from teleportbridge.models import AccessRequest

pytestmark = pytest.mark.django_db(transaction=True)


def _posted_requests(bridge) -> list[str]:
    """The request of each root post in Mattermost, from the bridge's idempotency key."""
    return [p["props"][PROPS_KEY].split(":", 1)[0] for p in bridge.mm.root_posts()]


def test_every_request_of_a_group_is_posted(bridge):
    ids = [bridge.create(user=f"u{i}", roles=["editor"]) for i in range(3)]
    assert reconcile_requests(ids) == "3 request(s), 0 failed"
    assert sorted(_posted_requests(bridge)) == sorted(ids)


def test_one_broken_request_does_not_stop_the_rest_of_its_group(bridge, caplog):
    """As separate tasks, one request's failure never held up another; grouped, it must
    not either. The broken row is a real one: roles that are not a list."""
    broken = bridge.create(user="broken", roles=["editor"])
    fine = bridge.create(user="fine", roles=["editor"])
    AccessRequest.objects.filter(pk=broken).update(roles=5)
    with caplog.at_level("ERROR", logger="notifications.reconcile"):
        assert reconcile_requests([broken, fine]) == "2 request(s), 1 failed"
    assert _posted_requests(bridge) == [fine]
    failure = [r for r in caplog.records if r.name == "notifications.reconcile"]
    assert len(failure) == 1 and failure[0].exc_info is not None
    assert getattr(failure[0], "request_id", "") == broken
