"""The operating numbers (dashboard/numbers.py): what /metrics exports and /health/ shows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.numbers import numbers
from notifications.models import Post
from teleportbridge.models import AuditCursor, RejectedEvent, WatcherState
from tests.factories import make_attempt, make_post, make_request, make_user

pytestmark = pytest.mark.django_db


def test_counts_from_the_history_tables():
    now = timezone.now()
    approved = make_request(state="APPROVED")
    make_request(state="PENDING")
    sent = make_post(approved)
    make_attempt(sent, ok=True, status_code=201)
    make_attempt(sent, ok=False, status_code=429)
    make_attempt(sent, ok=False, status_code=503)
    make_attempt(sent, ok=False, status_code=None, error_class="Timeout")
    make_post(approved, status=Post.Status.FAILED, retries=2)
    waiting = make_post(
        approved, status=Post.Status.RETRYING, retries=1, next_attempt_at=now - timedelta(minutes=3)
    )
    make_post(approved, status=Post.Status.RETRYING, next_attempt_at=now + timedelta(hours=1))
    RejectedEvent.record(RejectedEvent.Kind.AUDIT_EVENT, "x", "bad")
    RejectedEvent.record(RejectedEvent.Kind.AUDIT_EVENT, "x", "bad")
    WatcherState.set(connected=True, reconnects=3, last_event_at=now - timedelta(seconds=40))
    AuditCursor.objects.create(
        pk=1, last_poll_at=now - timedelta(seconds=20), failed_polls=4, permission_missing=True
    )

    n = numbers(now=now)
    assert n.requests_by_state["APPROVED"] == 1 and n.requests_by_state["PENDING"] == 1
    assert n.posts_by_status == {
        "pending": 0,
        "sending": 0,
        "sent": 1,
        "retrying": 2,
        "failed": 1,
    }
    assert n.attempts_by_class == {"2xx": 1, "3xx": 0, "4xx": 1, "5xx": 1, "error": 1}
    assert (n.retries, n.rate_limited) == (3, 1)
    assert n.posts_due == 1  # the retry due three minutes ago, not the one due in an hour
    assert n.oldest_due_post_age == pytest.approx(180, abs=1)
    assert waiting.is_due(now)
    assert (n.watcher_connected, n.watcher_reconnects) == (True, 3)
    assert n.last_event_age == pytest.approx(40, abs=1)
    assert n.audit_poll_age == pytest.approx(20, abs=1)
    assert (n.audit_poll_failures, n.audit_permission_missing) == (4, True)
    assert n.rejected_by_kind == {"access_request": 0, "audit_event": 2}


def test_nothing_yet_is_zeros_and_unknown_ages():
    n = numbers()
    assert n.posts_due == 0 and n.oldest_due_post_age is None
    assert n.last_event_age is None and n.audit_poll_age is None
    assert not n.watcher_connected and not n.audit_permission_missing


def test_health_page_shows_the_same_numbers(client):
    client.force_login(make_user("auditor"))
    req = make_request(state="DENIED")
    post = make_post(req, retries=2)
    make_attempt(post, ok=False, status_code=429)
    body = client.get(reverse("dashboard:health")).content.decode()
    assert 'id="retries">2<' in body
    assert 'id="rate-limited">1<' in body
    assert '<th scope="row">DENIED</th><td class="num">1</td>' in body
    assert '<th scope="row">4xx</th><td class="num">1</td>' in body


@pytest.mark.parametrize("page", ["overview", "audit", "health"])
def test_a_missing_audit_permission_is_said_on_the_pages_it_empties(client, page):
    client.force_login(make_user("auditor"))
    assert (
        "audit-permission-missing" not in client.get(reverse(f"dashboard:{page}")).content.decode()
    )
    AuditCursor.objects.create(pk=1, permission_missing=True)
    body = client.get(reverse(f"dashboard:{page}")).content.decode()
    assert 'id="audit-permission-missing"' in body
    assert "<code>event: [list, read]</code>" in body
