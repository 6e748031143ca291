"""Django admin for the Mattermost side: recipients are editable with a test action; the
history is read-only with a "retry now" action; nothing secret is ever shown."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from notifications.models import Post, Recipient
from tests.factories import (
    make_attempt,
    make_post,
    make_recipient,
    make_request,
    make_user,
)

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    "model",
    [
        "notifications/recipient",
        "notifications/post",
        "notifications/deliveryattempt",
        "notifications/channellookup",
    ],
)
def test_every_changelist_renders(admin_client, model):
    assert admin_client.get(f"/admin/{model}/").status_code == 200


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


@pytest.mark.parametrize(
    "model",
    [
        "notifications/reminderschedule",
        "notifications/securityalert",
        "notifications/requestercontact",
    ],
)
def test_followup_changelists_show_the_settings(admin_client, plugin_config, model):
    plugin_config(
        mattermost_extra="notify_requester = true",
        extra_toml='[reminders]\nafter = "30m"\n\n[audit]\nalert_channel = "eng/sec"',
    )
    response = admin_client.get(f"/admin/{model}/")
    assert response.status_code == 200
    [summary] = messages_of(response)
    assert "notify_requester=on" in summary and "reminders=after 0:30:00" in summary
    assert "alerts=eng/sec" in summary and "sim-bot-token" not in summary


def test_scheduled_reminders_and_sent_alerts_are_listed(admin_client, plugin_config):
    from notifications.models import ReminderSchedule, SecurityAlert

    req = make_request()
    ReminderSchedule.objects.create(request=req, next_slot=1, note="deferred: quiet hours")
    alert = SecurityAlert.objects.create(
        kind="late_review", request_id=req.pk, detail="first review 2d after", text="t"
    )
    make_post(None, kind=Post.Kind.ALERT, alert=alert, recipient="eng/sec", mattermost_id="x1")
    body = admin_client.get("/admin/notifications/reminderschedule/").content.decode()
    assert req.pk in body and "deferred: quiet hours" in body
    body = admin_client.get("/admin/notifications/securityalert/").content.decode()
    assert "first review 2d after" in body and "eng/sec" in body
    assert (
        admin_client.get(f"/admin/notifications/securityalert/{alert.pk}/change/").status_code
        == 200
    )
