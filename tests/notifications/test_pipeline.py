"""Recipients, messages, threads and edits, end to end through both simulators."""

from __future__ import annotations

import pytest

from notifications.models import ChannelLookup, DeliveryAttempt, NotificationPlan, Post, Recipient
from teleportbridge.models import AccessMonitoringRule

pytestmark = pytest.mark.django_db


def roots(bridge, channel: str | None = None):
    cid = bridge.channel_id(channel) if channel else None
    return bridge.mm.root_posts(cid)


def test_channel_and_dm_recipients_exact_text(bridge):
    bridge.configure(recipients=["eng/access-requests", "alice@example.com"])
    rid = bridge.create(user="bob", roles=["editor", "db"], reason="need prod access")
    bridge.reconcile(rid)
    posts = bridge.mm.root_posts()
    assert len(posts) == 2
    channel_post = roots(bridge, "access-requests")[0]
    assert channel_post["message"] == (
        "*You have new pending request to review!*\n"
        "**User**: bob\n"
        "**Roles**: editor, db\n"
        f"**Request ID**: {rid}\n"
        "**Reason**: ```\nneed prod access```\n"
        "**Status**: ⏳ PENDING\n"
        "\n"
        f"**Link**: [https://teleport.example.com/web/requests/{rid}]"
        f"(https://teleport.example.com/web/requests/{rid})\n"
    )
    dm = next(p for p in posts if p["id"] != channel_post["id"])
    assert bridge.mm.channel(dm["channel_id"])["type"] == "D"
    assert dm["message"] == channel_post["message"]


def test_no_link_shows_tsh_commands(bridge):
    from teleportbridge.models import WatcherState

    WatcherState.set(proxy_public_addr="")
    rid = bridge.create(user="bob")
    bridge.reconcile(rid)
    assert roots(bridge)[0]["message"].endswith(
        f"**Approve**: `tsh request review --approve {rid}`\n"
        f"**Deny**: `tsh request review --deny {rid}`"
    )


def test_suggested_reviewers_and_dedup(bridge):
    bridge.configure(recipients=["eng/access-requests", "carol@example.com"])
    Recipient.objects.create(handle="eng/access-requests")
    rid = bridge.create(
        suggested_reviewers=["carol@example.com", "bob@example.com", "not-an-email"]
    )
    bridge.reconcile(rid)
    # channel + DM carol + DM bob; the duplicate channel and duplicate carol collapse.
    assert len(bridge.mm.root_posts()) == 3
    plan = NotificationPlan.objects.get(pk=rid)
    assert {r["source"] for r in plan.recipients} == {"config", "suggested", "admin"} - {"admin"}


def test_role_routing(bridge):
    bridge.configure(
        recipients=[],
        role_to_recipients={"db": ["eng/town-square"], "*": ["eng/access-requests"]},
    )
    db = bridge.create(roles=["db"])
    other = bridge.create(roles=["web"])
    bridge.reconcile(db)
    bridge.reconcile(other)
    assert [f"**Request ID**: {db}\n" in p["message"] for p in roots(bridge, "town-square")] == [
        True
    ]
    assert [other in p["message"] for p in roots(bridge, "access-requests")] == [True]


def test_access_monitoring_rules_override_config(bridge):
    AccessMonitoringRule.objects.create(
        name="dba",
        subjects=["access_request"],
        notification_name="mattermost",
        recipients=["eng/town-square"],
        condition='access_request.spec.roles.contains("db")',
    )
    db = bridge.create(roles=["db"], suggested_reviewers=["bob@example.com"])
    web = bridge.create(roles=["web"])
    bridge.reconcile(db)
    bridge.reconcile(web)
    assert len(roots(bridge, "town-square")) == 1  # the rule, instead of config + reviewers
    assert len(bridge.mm.root_posts()) == 2
    assert f"**Request ID**: {web}\n" in roots(bridge, "access-requests")[0]["message"]


def test_unevaluable_rule_falls_back_to_config(bridge):
    AccessMonitoringRule.objects.create(
        name="odd",
        subjects=["access_request"],
        notification_name="mattermost",
        recipients=["eng/town-square"],
        condition="day(access_request.spec.creation_time) == 1",
    )
    rid = bridge.create()
    bridge.reconcile(rid)
    assert len(roots(bridge, "access-requests")) == 1
    assert roots(bridge, "town-square") == []


def test_admin_recipient_with_role_pattern_and_disabled(bridge):
    bridge.configure(recipients=[])
    Recipient.objects.create(handle="eng/town-square", role_pattern="prod-*")
    Recipient.objects.create(handle="alice@example.com", enabled=False)
    prod = bridge.create(roles=["prod-admin"])
    dev = bridge.create(roles=["dev"])
    bridge.reconcile(prod)
    assert bridge.reconcile(dev).startswith("skipped")
    assert len(bridge.mm.root_posts()) == 1


def test_skip_when_no_recipients(bridge):
    bridge.configure(recipients=[])
    rid = bridge.create()
    assert bridge.reconcile(rid) == "skipped: no recipients configured and no suggested reviewers"
    assert NotificationPlan.objects.get(pk=rid).status == "skipped"
    assert bridge.mm.posts() == [] and not Post.objects.exists()


def test_failed_lookup_skips_only_that_recipient_with_hint(bridge):
    bridge.configure(recipients=["eng/Town Square", "eng/access-requests", "nobody@example.com"])
    rid = bridge.create()
    bridge.reconcile(rid)
    assert len(bridge.mm.root_posts()) == 1
    error = ChannelLookup.objects.get(handle="eng/Town Square").error
    assert "town-square" in error and "display name" in error
    assert ChannelLookup.objects.get(handle="nobody@example.com").error


def test_review_replies_and_resolution_edits(bridge):
    bridge.configure(recipients=["eng/access-requests", "eng/town-square"])
    rid = bridge.create(user="bob", reason="r")
    bridge.reconcile(rid)
    bridge.teleport.review(rid, "carol", "APPROVED", reason="looks fine", auto_resolve=False)
    bridge.pull(rid)
    bridge.reconcile(rid)
    for root in bridge.mm.root_posts():
        [reply] = bridge.mm.replies(root["id"])
        assert reply["message"].startswith("carol reviewed the request at ")
        assert "\nResolution: ✅ APPROVED.\nReason: ```\nlooks fine```." in reply["message"]
    bridge.teleport.approve(rid, reason="ok by carol")
    bridge.pull(rid)
    bridge.reconcile(rid)
    for root in bridge.mm.root_posts():
        assert root["message"].startswith("\n**User**: bob\n")
        assert (
            "**Status**: ✅ APPROVED\n**Resolution reason**: ```\nok by carol```\n"
            in root["message"]
        )
        assert root["edit_at"] > 0
    # Running again changes nothing and calls nothing.
    before = DeliveryAttempt.objects.count()
    assert bridge.reconcile(rid) == "up to date"
    assert DeliveryAttempt.objects.count() == before


@pytest.mark.parametrize(
    ("action", "status"),
    [("deny_request", "❌ DENIED"), ("promote", " PROMOTED"), ("delete", "⌛ EXPIRED")],
)
def test_deny_promote_expire_edits(bridge, action, status):
    rid = bridge.create()
    bridge.reconcile(rid)
    getattr(bridge.teleport, action)(rid)
    bridge.pull(rid)
    bridge.reconcile(rid)
    assert f"**Status**: {status}\n" in roots(bridge)[0]["message"]


def test_first_seen_resolved_is_not_announced(bridge):
    rid = bridge.teleport.create_request()
    bridge.teleport.approve(rid)
    bridge.pull(rid)
    assert bridge.reconcile(rid).startswith("skipped: first seen already APPROVED")


def test_a_plan_is_never_committed_without_its_root_posts(bridge):
    """A DB error while creating the root post rows must not leave a plan behind: the next
    run trusts an existing plan, so a plan without posts would never be sent."""
    from django.db import OperationalError, connection

    bridge.configure(recipients=["eng/access-requests", "alice@example.com"])
    rid = bridge.create()
    failed = []

    def fail_root_insert(execute, sql, params, many, context):
        # "INSERT INTO" on PostgreSQL, "INSERT OR IGNORE INTO" on SQLite.
        if not failed and sql.startswith("INSERT") and '"notifications_post"' in sql:
            failed.append(sql)
            raise OperationalError("disk I/O error (simulated)")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_root_insert), pytest.raises(OperationalError):
        bridge.reconcile(rid)
    assert failed and not NotificationPlan.objects.filter(pk=rid).exists()
    bridge.reconcile(rid)  # the retry plans again and posts
    assert len(bridge.mm.root_posts()) == 2
