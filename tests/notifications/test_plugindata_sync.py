"""Plugin data: written as the Go plugin would, read back to adopt posts (no re-post)."""

from __future__ import annotations

import pytest

from notifications.models import NotificationPlan, Post
from notifications.reconcile import root_text

pytestmark = pytest.mark.django_db


def test_plugin_data_written_like_the_go_plugin(bridge):
    bridge.configure(recipients=["eng/access-requests", "alice@example.com"])
    rid = bridge.create(user="bob", roles=["editor", "db"], reason="why not")
    bridge.reconcile(rid)
    data = bridge.teleport.plugin_data(rid)
    posts = {p["channel_id"]: p["id"] for p in bridge.mm.root_posts()}
    assert data["user"] == "bob"
    assert data["roles"] == "editor,db"
    assert data["request_reason"] == "why not"
    assert set(data["messages"].split(",")) == {f"{c}/{p}" for c, p in posts.items()}
    assert "reviews_count" not in data and "resolution" not in data  # "" = absent
    bridge.teleport.review(rid, "carol", "APPROVED", auto_resolve=False)
    bridge.pull(rid)
    bridge.reconcile(rid)
    assert bridge.teleport.plugin_data(rid)["reviews_count"] == "1"
    bridge.teleport.approve(rid, reason="fine")
    bridge.pull(rid)
    bridge.reconcile(rid)
    data = bridge.teleport.plugin_data(rid)
    assert (data["resolution"], data["resolve_reason"]) == ("APPROVED", "fine")


def test_switch_from_go_plugin_adopts_posts(bridge):
    """The Go plugin posted and stored plugin data; we take over without re-posting."""
    rid = bridge.teleport.create_request(user="bob", roles=["editor"])
    channel = bridge.channel_id("access-requests")
    from notifications.mattermost.client import MattermostClient

    go_post = MattermostClient(bridge.mm.url, "sim-bot-token").create_post(channel, "posted by Go")
    bridge.teleport.set_plugin_data(
        rid,
        {"user": "bob", "roles": "editor", "messages": f"{channel}/{go_post['id']}"},
    )
    bridge.pull(rid)
    bridge.reconcile(rid)
    assert len(bridge.mm.posts()) == 1  # nothing re-posted
    assert NotificationPlan.objects.get(pk=rid).adopted_from_plugin_data
    bridge.teleport.approve(rid)
    bridge.pull(rid)
    bridge.reconcile(rid)
    [only] = bridge.mm.posts()
    assert only["id"] == go_post["id"] and "✅ APPROVED" in only["message"]
    assert bridge.teleport.plugin_data(rid)["resolution"] == "APPROVED"


def test_restart_reads_back_without_reposting(bridge):
    """Our own database lost (new deploy, restored backup): plugin data prevents a re-post."""
    rid = bridge.create()
    bridge.reconcile(rid)
    Post.objects.all().delete()
    NotificationPlan.objects.all().delete()
    bridge.reconcile(rid)
    assert len(bridge.mm.posts()) == 1
    assert Post.objects.get(request_id=rid).text_sent == root_text(
        Post.objects.get(request_id=rid).request
    )


def test_concurrent_plugin_data_change_is_merged(bridge):
    rid = bridge.create()
    bridge.reconcile(rid)
    # Someone else (the Go plugin's handler) adds a key between our read and write.
    data = bridge.teleport.plugin_data(rid)
    bridge.teleport.set_plugin_data(rid, {**data, "logins_by_role": '{"editor":["root"]}'})
    bridge.teleport.review(rid, "carol", "DENIED", auto_resolve=False)
    bridge.pull(rid)
    bridge.reconcile(rid)
    after = bridge.teleport.plugin_data(rid)
    assert after["reviews_count"] == "1"
    assert after["logins_by_role"] == '{"editor":["root"]}'


def test_teleport_permission_denied_for_plugin_data_still_posts(bridge):
    bridge.teleport.deny("read", "access_plugin_data")
    rid = bridge.create()
    bridge.reconcile(rid)
    assert len(bridge.mm.posts()) == 1


def test_logins_by_role_recorded_as_the_go_plugin_does(bridge):
    bridge.configure(recipients=["eng/access-requests"])
    bridge.teleport.set_role("editor", ["root", "ubuntu"])
    bridge.teleport.set_role("auditor", [])  # no logins: a nil slice in Go, null in JSON
    rid = bridge.create(roles=["editor", "auditor", "deleted-meanwhile"])
    bridge.reconcile(rid)
    assert NotificationPlan.objects.get(pk=rid).logins_by_role == {
        "editor": ["root", "ubuntu"],
        "auditor": [],
    }
    assert bridge.teleport.plugin_data(rid)["logins_by_role"] == (
        '{"auditor":null,"editor":["root","ubuntu"]}'
    )
    assert len(bridge.teleport.calls_to("GetRole")) == 3
    # A burst for the same roles does not ask again (a minute's cache, misses included).
    again = bridge.create(roles=["editor", "auditor", "deleted-meanwhile"])
    bridge.reconcile(again)
    assert NotificationPlan.objects.get(pk=again).logins_by_role["editor"] == ["root", "ubuntu"]
    assert len(bridge.teleport.calls_to("GetRole")) == 3


def test_without_role_read_logins_are_skipped_with_a_warning(bridge, caplog):
    bridge.teleport.set_role("editor", ["root"])
    bridge.teleport.deny("read", "role")
    rid = bridge.create(roles=["editor"])
    bridge.reconcile(rid)
    assert len(bridge.mm.posts()) == 1
    assert "logins_by_role" not in bridge.teleport.plugin_data(rid)
    assert "add role [read]" in caplog.text


def test_adopted_plan_keeps_the_go_plugins_logins(bridge):
    rid = bridge.teleport.create_request(user="bob", roles=["editor"])
    channel = bridge.channel_id("access-requests")
    bridge.teleport.set_plugin_data(
        rid,
        {
            "user": "bob",
            "roles": "editor",
            "logins_by_role": '{"editor":["root"]}',
            "messages": f"{channel}/abc123",
        },
    )
    bridge.pull(rid)
    bridge.reconcile(rid)
    assert NotificationPlan.objects.get(pk=rid).logins_by_role == {"editor": ["root"]}
    assert bridge.teleport.calls_to("GetRole") == []


def test_adopted_plan_keeps_the_go_plugins_resource_names(bridge):
    rid = bridge.teleport.create_request(user="bob", resources=["node/uuid-1"])
    channel = bridge.channel_id("access-requests")
    bridge.teleport.set_plugin_data(
        rid,
        {
            "user": "bob",
            "roles": "editor",
            "resources": '["node/web-1"]',
            "messages": f"{channel}/abc123",
        },
    )
    bridge.pull(rid)
    bridge.reconcile(rid)
    assert NotificationPlan.objects.get(pk=rid).resources == ["node/web-1"]
    assert bridge.teleport.plugin_data(rid)["resources"] == '["node/web-1"]'


def test_a_new_request_reads_plugin_data_once(bridge):
    rid = bridge.create()
    bridge.reconcile(rid)
    # One read to look for the Go plugin's posts; the write reuses what it saw (CAS).
    assert len(bridge.teleport.calls_to("GetPluginData")) == 1
    assert len(bridge.teleport.calls_to("UpdatePluginData")) == 1


def test_a_stale_guess_is_corrected_by_the_compare_and_set(bridge):
    rid = bridge.create()
    bridge.reconcile(rid)
    data = bridge.teleport.plugin_data(rid)
    # Another writer changes a key we manage; our remembered copy is now wrong.
    bridge.teleport.set_plugin_data(rid, {**data, "request_reason": "edited elsewhere"})
    reads = len(bridge.teleport.calls_to("GetPluginData"))
    bridge.teleport.review(rid, "carol", "APPROVED", auto_resolve=False)
    bridge.pull(rid)
    bridge.reconcile(rid)
    after = bridge.teleport.plugin_data(rid)
    assert after["reviews_count"] == "1"
    assert after.get("request_reason", "") == data.get("request_reason", "")
    assert len(bridge.teleport.calls_to("GetPluginData")) == reads + 1  # the one re-read
