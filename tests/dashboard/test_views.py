"""Dashboard pages through the Django test client: access rules and what each page shows."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import NotificationPlan, Post
from teleportbridge.models import AuditCursor, WatcherState
from tests.factories import (
    make_attempt,
    make_audit_event,
    make_post,
    make_request,
    make_review,
    make_user,
)

pytestmark = pytest.mark.django_db
PAGES = ["overview", "requests", "audit", "audit_csv", "health"]


@pytest.fixture
def auditor_client(client):
    client.force_login(make_user("auditor"))
    return client


@pytest.fixture
def story():
    """One notified, reviewed, approved request with a failed then successful delivery."""
    now = timezone.now()
    req = make_request(
        id="req-1",
        user="alice",
        roles=["prod-db"],
        first_seen_at=now - timedelta(hours=3),
        state="APPROVED",
        resolved_at=now - timedelta(hours=2),
    )
    post = make_post(req, sent_at=now - timedelta(hours=3) + timedelta(seconds=8))
    make_attempt(post, ok=False, status_code=503, error="Service Unavailable", at=post.sent_at)
    make_attempt(post, ok=True, at=post.sent_at + timedelta(seconds=1))
    make_review(req, author="bob", at=now - timedelta(hours=2))
    make_audit_event("req-1", reviewer="bob", time=now - timedelta(hours=2), reason="looks ok")
    make_audit_event("ghost", reviewer="mallory", time=now - timedelta(hours=1))
    return req


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_are_sent_to_login(client, name):
    url = reverse(f"dashboard:{name}")
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", PAGES)
def test_logged_in_users_without_the_auditor_permission_get_403(client, name):
    client.force_login(make_user("nobody", auditor=False, is_staff=True))
    assert client.get(reverse(f"dashboard:{name}")).status_code == 403


def test_superusers_see_the_dashboard(client):
    make_user("root", auditor=False, is_superuser=True, is_staff=True)
    client.post(reverse("login"), {"username": "root", "password": "pw-root"})
    assert client.get(reverse("dashboard:overview")).status_code == 200


def test_the_dashboard_is_read_only(auditor_client):
    assert auditor_client.post(reverse("dashboard:overview")).status_code == 405


def test_overview_shows_counts_delivery_rate_anomalies_and_charts(auditor_client, story):
    make_post(make_request(id="broken"), status=Post.Status.FAILED, last_error="bearer abc123")
    body = auditor_client.get(reverse("dashboard:overview")).content.decode()
    assert "50.0%" in body  # one of two attempts succeeded
    assert "Review without notification" in body and "ghost" in body
    assert "Notification failed" in body and "broken" in body
    assert "<svg" in body and "Requests per day" in body
    assert "Time from notification to first review" in body
    assert "abc123" not in body and "[redacted]" in body
    assert "<script" not in body


def test_requests_list_searches_and_filters(auditor_client, story):
    make_request(id="req-2", user="zed", roles=["staging"], state="PENDING")
    url = reverse("dashboard:requests")
    assert "req-2" in auditor_client.get(url).content.decode()
    for query, present, absent in [
        ({"q": "prod"}, "req-1", "req-2"),
        ({"q": "zed"}, "req-2", "req-1"),
        ({"state": "PENDING"}, "req-2", "req-1"),
        ({"notification": "sent"}, "req-1", "req-2"),
        ({"notification": "not_sent"}, "req-2", "req-1"),
    ]:
        body = auditor_client.get(url, query).content.decode()
        assert present in body and absent not in body, query


def test_request_detail_is_a_timeline_in_time_order(auditor_client, story):
    response = auditor_client.get(reverse("dashboard:request", args=["req-1"]))
    body = response.content.decode()
    order = [
        body.index("Created by alice"),
        body.index("Root post to eng/access-requests"),
        body.index("Review by bob: APPROVED"),
        body.index("Audit access_request.review (T5002I) by bob"),
        body.index("Resolved: APPROVED"),
    ]
    assert order == sorted(order)
    post = story.posts.get()
    assert post.mattermost_id in body
    assert "503" in body and "Service Unavailable" in body
    assert ' UTC <span class="rel">(' in body


def test_request_detail_shows_the_logins_approval_grants(auditor_client, story):
    NotificationPlan.objects.create(
        request=story,
        status=NotificationPlan.Status.PLANNED,
        logins_by_role={"prod-db": ["postgres", "root"], "viewer": []},
    )
    body = auditor_client.get(reverse("dashboard:request", args=["req-1"])).content.decode()
    assert "Logins granted" in body
    assert "prod-db: postgres, root; viewer: none" in body


def test_unknown_request_is_404(auditor_client):
    assert auditor_client.get(reverse("dashboard:request", args=["nope"])).status_code == 404


def test_audit_page_shows_correlation_status_and_filters(auditor_client, story):
    url = reverse("dashboard:audit")
    body = auditor_client.get(url).content.decode()
    assert "matched" in body and "unknown_request" in body
    body = auditor_client.get(url, {"status": "unknown_request"}).content.decode()
    assert "ghost" in body and "req-1</code>" not in body


def test_audit_csv_exports_rows_safely(auditor_client, story):
    make_audit_event("req-1", reviewer="eve", reason="=HYPERLINK(evil)")
    response = auditor_client.get(reverse("dashboard:audit_csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_reviewer = {r["reviewer"]: r for r in rows}
    assert by_reviewer["bob"]["status"] == "matched"
    assert by_reviewer["bob"]["code"] == "T5002I"
    assert by_reviewer["mallory"]["status"] == "unknown_request"
    assert by_reviewer["eve"]["reason"] == "'=HYPERLINK(evil)"
    assert int(by_reviewer["bob"]["time_to_review_seconds"]) > 3000


def test_health_shows_watcher_queue_and_audit_poll(auditor_client):
    body = auditor_client.get(reverse("dashboard:health")).content.decode()
    assert "never started" in body
    now = timezone.now()
    WatcherState.set(connected=True, last_event_at=now, cluster_name="sim.example.com")
    AuditCursor.objects.create(pk=1, last_poll_at=now, last_error="GetEvents failed: x")
    body = auditor_client.get(reverse("dashboard:health")).content.decode()
    assert 'id="watcher-status">connected' in body
    assert "sim.example.com" in body
    assert 'id="queue-depth">0<' in body
    assert "GetEvents failed: x" in body


def test_quarantined_records_show_on_the_overview_and_health(client):
    from teleportbridge.models import RejectedEvent

    client.force_login(make_user("q-auditor"))
    assert b"rejected-records" not in client.get("/").content
    for _ in range(3):  # the same bad request met by three resyncs is one row, counted
        RejectedEvent.record("access_request", "../../admin/auth/user/", "not an id")
    RejectedEvent.record("audit_event", "ev-1", "the event could not be stored", error="DataError")
    for url in ("/", "/health/"):
        body = client.get(url).content.decode()
        assert 'id="rejected-records"' in body, url
        assert "4 records from Teleport could not be stored" in body
        assert "../../admin/auth/user/" in body and 'href="../../admin' not in body
