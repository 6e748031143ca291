"""Django admin: recipients are editable with a test action; history is read-only with a
"retry now" action; nothing secret is ever shown."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from notifications.models import Post, Recipient
from teleportbridge.models import AccessRequest, AuditEvent
from tests.dashboard.factories import (
    make_attempt,
    make_audit_event,
    make_post,
    make_recipient,
    make_request,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(make_user("root", auditor=False, is_staff=True, is_superuser=True))
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    "model",
    [
        "teleportbridge/accessrequest",
        "teleportbridge/auditevent",
        "teleportbridge/auditcursor",
        "teleportbridge/watcherstate",
        "teleportbridge/accessmonitoringrule",
        "notifications/recipient",
        "notifications/post",
        "notifications/deliveryattempt",
        "notifications/channellookup",
    ],
)
def test_every_changelist_renders(admin_client, model):
    assert admin_client.get(f"/admin/{model}/").status_code == 200


def test_access_requests_search_by_id_user_and_role_and_filter_by_state(admin_client):
    make_request(id="aaa-1", user="alice", roles=["prod-db"], state="PENDING")
    make_request(id="bbb-2", user="bob", roles=["staging"], state="APPROVED")
    url = reverse("admin:teleportbridge_accessrequest_changelist")
    for params, present, absent in [
        ({"q": "aaa"}, "aaa-1", "bbb-2"),
        ({"q": "bob"}, "bbb-2", "aaa-1"),
        ({"q": "prod"}, "aaa-1", "bbb-2"),
        ({"state__exact": "APPROVED"}, "bbb-2", "aaa-1"),
    ]:
        body = admin_client.get(url, params).content.decode()
        assert present in body and absent not in body, params


def test_history_is_read_only(admin_client):
    req = make_request(id="ro-1")
    post = make_post(req)
    make_audit_event("ro-1", event_id="ev-1")
    assert admin_client.get(reverse("admin:notifications_post_add")).status_code == 403
    assert admin_client.get(reverse("admin:teleportbridge_auditevent_add")).status_code == 403
    change = admin_client.get(reverse("admin:notifications_post_change", args=[post.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    admin_client.post(reverse("admin:teleportbridge_accessrequest_change", args=["ro-1"]), {})
    delete = reverse("admin:teleportbridge_auditevent_delete", args=["ev-1"])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert AccessRequest.objects.filter(pk="ro-1").exists()
    assert AuditEvent.objects.filter(pk="ev-1").exists()


def test_failed_filter_on_posts_and_attempts(admin_client):
    req = make_request()
    ok = make_post(req, mattermost_id="mm-good")
    bad = make_post(req, status=Post.Status.FAILED, mattermost_id="mm-bad")
    make_attempt(ok, ok=True, endpoint="/api/v4/posts/good")
    make_attempt(bad, ok=False, endpoint="/api/v4/posts/bad")
    body = admin_client.get(reverse("admin:notifications_post_changelist"), {"delivery": "failed"})
    assert "mm-bad" in body.content.decode() and "mm-good" not in body.content.decode()
    body = admin_client.get(
        reverse("admin:notifications_deliveryattempt_changelist"), {"result": "failed"}
    ).content.decode()
    assert "/api/v4/posts/bad" in body and "/api/v4/posts/good" not in body


def test_errors_are_redacted(admin_client):
    post = make_post(make_request(), status=Post.Status.FAILED, last_error="401 Bearer s3cr3t")
    make_attempt(post, ok=False, error="Authorization: Bearer s3cr3t")
    for url in [
        reverse("admin:notifications_post_changelist"),
        reverse("admin:notifications_post_change", args=[post.pk]),
        reverse("admin:notifications_deliveryattempt_changelist"),
    ]:
        body = admin_client.get(url).content.decode()
        assert "s3cr3t" not in body and "[redacted]" in body, url


def test_recipients_can_be_added_disabled_and_enabled(admin_client):
    response = admin_client.post(
        reverse("admin:notifications_recipient_add"),
        {"handle": "eng/access-requests", "role_pattern": "prod-*", "enabled": "on", "note": ""},
    )
    assert response.status_code == 302
    r = Recipient.objects.get()
    assert (r.handle, r.role_pattern, r.enabled) == ("eng/access-requests", "prod-*", True)
    url = reverse("admin:notifications_recipient_changelist")
    admin_client.post(url, {"action": "disable", "_selected_action": [r.pk]})
    assert not Recipient.objects.get().enabled
    admin_client.post(url, {"action": "enable", "_selected_action": [r.pk]})
    assert Recipient.objects.get().enabled


def test_retry_now_requeues_failed_posts(admin_client):
    pytest.importorskip("notifications.tasks").__dict__.get("retry_posts") or pytest.skip(
        "notifications.tasks.retry_posts not there yet"
    )
    req = make_request()
    failed = make_post(req, status=Post.Status.FAILED, attempts=5)
    sent = make_post(req)
    response = admin_client.post(
        reverse("admin:notifications_post_changelist"),
        {"action": "retry_now", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )
    assert "Queued 1 post(s) for an immediate retry." in messages_of(response)
    failed.refresh_from_db()
    assert failed.status == Post.Status.PENDING
    sent.refresh_from_db()
    assert sent.status == Post.Status.SENT


def test_retry_now_needs_the_change_permission(client):
    viewer = make_user("viewer", auditor=True, is_staff=True)
    client.force_login(viewer)
    body = client.get(reverse("admin:notifications_post_changelist")).content.decode()
    assert "retry_now" not in body


def test_send_test_message_shows_the_result(admin_client, plugin_config, mattermost):
    tasks = pytest.importorskip("notifications.tasks")
    if not hasattr(tasks, "send_test_message"):
        pytest.skip("notifications.tasks.send_test_message not there yet")
    good = make_recipient("eng/access-requests")
    bad = make_recipient("eng/no-such-channel")
    response = admin_client.post(
        reverse("admin:notifications_recipient_changelist"),
        {"action": "send_test", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    shown = messages_of(response)
    assert any(m.startswith("eng/access-requests: sent (post ") for m in shown), shown
    assert any(m.startswith("eng/no-such-channel: failed") for m in shown), shown
    [message] = [
        p
        for p in mattermost.state.posts.values()
        if p["channel_id"] == mattermost.channel_ids["access-requests"]
    ]
    assert "test message" in message["message"]
