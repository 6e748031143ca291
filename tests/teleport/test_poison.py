"""No record can stop the pipeline: hostile values through the real watcher and poller.

Before: on PostgreSQL a NUL in a reason or a 300-character user name made the upsert raise;
the watcher reconnected, resynced, met the same request and looped, and nothing created
afterwards was ever stored. SQLite stored the same values. Now both databases store the
normalised values, quarantine what is still unusable, and go on.
"""

from __future__ import annotations

import datetime as dt

import pytest

from common.backoff import Backoff
from teleportbridge.audit_poller import poll_audit_once
from teleportbridge.models import AccessRequest, AuditCursor, AuditEvent, RejectedEvent, Review
from teleportbridge.sanitize import CUT_MARKER
from tests.clock import StepClock
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def stored(request_id: str) -> AccessRequest | None:
    return AccessRequest.objects.filter(pk=request_id).first()


def test_hostile_requests_are_stored_normalised_or_quarantined(teleport, run_watcher):
    nul = teleport.create_request(user="nul", reason="has a NUL\x00here")
    long_user = teleport.create_request(user="u" * 300)
    reviewed = teleport.create_request(user="rev")
    teleport.review(reviewed, "b" * 400, "DENIED", reason="no\x00pe", auto_resolve=False)
    slash = teleport.create_request(request_id="a/b")
    escape = teleport.create_request(request_id="../../admin/auth/user/")
    wt = run_watcher()
    wait_until(wt.watcher.ready.is_set, message="INIT + resync")
    after = teleport.create_request(user="after", reason="created after the bad ones")

    wait_until(lambda: stored(after), message="the next good request")
    assert stored(nul).reason == "has a NULhere"
    user = stored(long_user).user
    assert len(user) == 255 and user.startswith("u" * 200) and user.endswith("[300 chars]")
    assert CUT_MARKER in user
    [review] = Review.objects.filter(request_id=reviewed)
    assert review.reason == "nope" and len(review.author) == 255
    assert not AccessRequest.objects.filter(pk__in=[slash, escape]).exists()
    rejected = {r.object_id: r for r in RejectedEvent.objects.all()}
    assert set(rejected) == {"a/b", "../../admin/auth/user/"}
    assert all(r.kind == "access_request" for r in rejected.values())
    assert wt.watcher.connections == 1  # no reconnect loop

    # A live DELETE of a quarantined id and a live update of it change nothing else.
    teleport.delete(slash)
    teleport.approve(escape)
    last = teleport.create_request(user="last")
    wait_until(lambda: stored(last), message="the request after live bad events")
    assert wt.watcher.connections == 1


def test_a_resync_counts_a_quarantined_request_again_instead_of_looping(teleport, run_watcher):
    teleport.create_request(request_id="a/b")
    wt = run_watcher(backoff=Backoff(base=0.01, cap=0.05))
    wait_until(wt.watcher.ready.is_set, message="first INIT")
    teleport.drop_streams()
    wait_until(lambda: wt.watcher.connections == 2 and wt.watcher.ready.is_set())
    [rejection] = RejectedEvent.objects.all()
    assert rejection.count == 2


def test_hostile_audit_events_never_stop_the_poller(teleport, identity_file):
    from teleportbridge.teleport.client import TeleportClient
    from tests.teleport.conftest import direct_connector

    teleport.clock = StepClock()
    good = teleport.create_request(user="alice", reason="fine")
    teleport.emit_audit_event(
        "access_request.review", good, reviewer="r\x00ev", reason="why\x00not"
    )
    teleport.emit_audit_event("access_request.review", "a/b", reviewer="eve")
    teleport.emit_audit_event("access_request.review", good, reviewer="x" * 1000)
    conn, _ = direct_connector(teleport.address, identity_file)()
    client = TeleportClient(conn)
    try:
        now = teleport.clock.now + dt.timedelta(seconds=1)
        assert poll_audit_once(client, now=now) == 3
        assert AuditCursor.objects.get(pk=1).last_error == ""
        reviewers = set(AuditEvent.objects.values_list("reviewer", flat=True))
        assert "rev" in reviewers
        assert any(len(r) == 255 and r.endswith("[1000 chars]") for r in reviewers)
        [rejected] = RejectedEvent.objects.all()
        assert rejected.kind == "audit_event"
        # The next poll reads on: nothing fails forever, nothing is counted twice.
        later = teleport.create_request(user="bob")
        assert poll_audit_once(client, now=teleport.clock.now + dt.timedelta(seconds=1)) == 1
        assert AuditEvent.objects.filter(request_id=later).exists()
        assert RejectedEvent.objects.get().count == 1
    finally:
        client.close()
