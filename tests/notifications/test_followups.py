"""Issue 16 follow-ups through both simulators: requester DMs, reminders and escalation,
the reviews line, security alerts and the digest. Timers are driven by passing `now`."""

from __future__ import annotations

import datetime as dt

import pytest

from bridge.followup_loop import scan_alerts, scan_reminders
from notifications import runtime
from notifications.alerts import deliver_alerts
from notifications.escaping import ZWSP
from notifications.models import Post, ReminderSchedule, RequesterContact, SecurityAlert
from teleportbridge.models import AccessRequest
from tests.clock import T0

pytestmark = pytest.mark.django_db

M = dt.timedelta(minutes=1)


def dm_posts(bridge, email: str) -> list[dict]:
    """Posts in the bot's DM channel with the user of this email."""
    uid = bridge.mm.user_ids[email.split("@")[0]]
    return [
        p
        for p in bridge.mm.posts()
        if bridge.mm.channel(p["channel_id"])["type"] == "D"
        and uid in bridge.mm.channel(p["channel_id"])["name"]
    ]


def created(rid: str) -> dt.datetime:
    return AccessRequest.objects.get(pk=rid).created_at


# -- 1. tell the requester -----------------------------------------------------------------


def test_requester_dm_on_approval_once(bridge):
    bridge.configure(mattermost_extra="notify_requester = true")
    bridge.teleport.set_role("editor", ["root", "ubuntu"])
    rid = bridge.create(user="alice@example.com", roles=["editor"])
    bridge.reconcile(rid)
    assert dm_posts(bridge, "alice@example.com") == []  # only on resolution by default
    bridge.teleport.review(rid, "carol", "APPROVED", auto_resolve=False)
    bridge.teleport.approve(rid, reason="ok @channel [x](http://evil.example)")
    bridge.pull(rid)
    bridge.reconcile(rid)
    bridge.reconcile(rid)  # again: nothing new
    [dm] = dm_posts(bridge, "alice@example.com")
    assert dm["message"] == (
        f"✅ Your access request `{rid}` was **APPROVED**.\n"
        "**By**: carol\n"
        "**Roles**: editor\n"
        f"**Reason**: ```\nok @{ZWSP}channel [x](http://evil.example)```\n"
        "**Logins**: root, ubuntu\n"
        f"**Use it**: `tsh login --request-id={rid}`\n"
        f"**Link**: [https://teleport.example.com/web/requests/{rid}]"
        f"(https://teleport.example.com/web/requests/{rid})"
    )
    assert Post.objects.filter(kind=Post.Kind.DM).count() == 1


def test_requester_found_by_trait_and_on_post(bridge):
    bridge.configure(
        mattermost_extra="notify_requester = true\nnotify_requester_on_post = true\n"
        'requester_trait = "chat_name"'
    )
    bridge.teleport.set_user("dave", chat_name=["bob"])
    rid = bridge.create(user="dave", roles=["db"])
    bridge.reconcile(rid)
    [posted] = dm_posts(bridge, "bob@example.com")
    assert posted["message"] == (
        f"Your access request `{rid}` for db was sent to 1 channel for review."
    )
    bridge.teleport.deny_request(rid, reason="no")
    bridge.pull(rid)
    bridge.reconcile(rid)
    texts = [p["message"] for p in dm_posts(bridge, "bob@example.com")]
    assert len(texts) == 2
    assert texts[1].startswith(f"❌ Your access request `{rid}` was **DENIED**.\n")
    assert "tsh login" not in texts[1]


def test_requester_not_reachable_is_recorded(bridge):
    bridge.configure(mattermost_extra="notify_requester = true")
    rid = bridge.create(user="eve")  # no such Teleport user: no traits
    bridge.reconcile(rid)
    bridge.teleport.delete(rid)
    bridge.pull(rid)
    bridge.reconcile(rid)
    contact = RequesterContact.objects.get(pk=rid)
    assert contact.error.startswith("requester not reachable: ")
    assert not Post.objects.filter(kind=Post.Kind.DM).exists()


def test_requester_dm_off_by_default(bridge):
    rid = bridge.create(user="alice@example.com")
    bridge.reconcile(rid)
    bridge.teleport.approve(rid)
    bridge.pull(rid)
    bridge.reconcile(rid)
    assert dm_posts(bridge, "alice@example.com") == []
    assert not RequesterContact.objects.exists()


# -- 2. remind and escalate ----------------------------------------------------------------

REMIND = '[reminders]\nafter = "30m"\nevery = "1h"\nmax = 2'


def reminders_in(bridge, root: dict) -> list[str]:
    return [p["message"] for p in bridge.mm.replies(root["id"]) if "Still waiting" in p["message"]]


def test_reminders_fire_once_per_slot_and_stop_on_resolve(bridge):
    bridge.configure(recipients=["eng/access-requests", "eng/town-square"], extra_toml=REMIND)
    cfg = runtime.get_config()
    rid = bridge.create()
    bridge.reconcile(rid)
    t = created(rid)
    assert scan_reminders(cfg, t + 29 * M) == 0
    assert scan_reminders(cfg, t + 30 * M) == 1
    assert scan_reminders(cfg, t + 31 * M) == 0  # the same slot never twice
    bridge.reconcile(rid)
    bridge.reconcile(rid)
    for root in bridge.mm.root_posts():
        assert reminders_in(bridge, root) == [
            "⏰ Still waiting for review: this request is 30 minutes old (reminder 1 of 2)."
        ]
    assert scan_reminders(cfg, t + 90 * M) == 1
    bridge.reconcile(rid)
    for root in bridge.mm.root_posts():
        assert len(reminders_in(bridge, root)) == 2
        assert reminders_in(bridge, root)[1].endswith("1 hour 30 minutes old (reminder 2 of 2).")
    assert scan_reminders(cfg, t + 600 * M) == 0  # max reached
    bridge.teleport.approve(rid)
    bridge.pull(rid)
    bridge.reconcile(rid)
    assert ReminderSchedule.objects.get(pk=rid).state == "done"


def test_reminder_not_sent_once_resolved(bridge):
    bridge.configure(extra_toml=REMIND)
    cfg = runtime.get_config()
    rid = bridge.create()
    bridge.reconcile(rid)
    assert scan_reminders(cfg, created(rid) + 30 * M) == 1  # rows made, not yet sent
    bridge.teleport.deny_request(rid)
    bridge.pull(rid)
    bridge.reconcile(rid)
    [root] = bridge.mm.root_posts()
    assert reminders_in(bridge, root) == []
    assert not Post.objects.filter(kind=Post.Kind.REMINDER).exists()
    assert scan_reminders(cfg, created(rid) + 300 * M) == 0


def test_after_a_long_stop_one_reminder_not_a_burst(bridge):
    bridge.configure(extra_toml='[reminders]\nafter = "30m"\nevery = "1h"\nmax = 3')
    cfg = runtime.get_config()
    rid = bridge.create()
    bridge.reconcile(rid)
    assert scan_reminders(cfg, created(rid) + 10 * 60 * M) == 1
    bridge.reconcile(rid)
    [root] = bridge.mm.root_posts()
    assert reminders_in(bridge, root) == [
        "⏰ Still waiting for review: this request is 2 hours 30 minutes old (reminder 3 of 3)."
    ]


def test_quiet_hours_defer_the_reminder(bridge):
    bridge.configure(extra_toml='[reminders]\nafter = "30m"\nmax = 1\nquiet_hours = "22:00-07:00"')
    cfg = runtime.get_config()
    start = T0.replace(hour=21, minute=45)
    rid = bridge.teleport.create_request(created=start)
    bridge.pull(rid)
    bridge.reconcile(rid)
    assert scan_reminders(cfg, start + 31 * M) == 0
    sched = ReminderSchedule.objects.get(pk=rid)
    assert sched.next_due_at == (start + dt.timedelta(days=1)).replace(hour=7, minute=0)
    assert sched.note == "deferred: quiet hours"
    assert scan_reminders(cfg, sched.next_due_at) == 1


def test_escalation_is_a_normal_root_post(bridge):
    bridge.configure(
        extra_toml='[reminders]\nescalate_to = ["eng/town-square"]\nescalate_after = "2h"'
    )
    cfg = runtime.get_config()
    rid = bridge.create()
    bridge.reconcile(rid)
    town = bridge.channel_id("town-square")
    assert scan_reminders(cfg, created(rid) + 119 * M) == 0
    assert scan_reminders(cfg, created(rid) + 120 * M) == 1
    assert scan_reminders(cfg, created(rid) + 120 * M) == 0
    # Not yet escalated (the queue is slow): no copy of the ask for 10 minutes. Asking
    # every minute flooded a backlogged queue (found by bench/followup_burst).
    assert scan_reminders(cfg, created(rid) + 125 * M) == 0
    bridge.reconcile(rid)
    bridge.reconcile(rid)
    [escalated] = bridge.mm.root_posts(town)
    [first] = bridge.mm.root_posts(bridge.channel_id("access-requests"))
    assert escalated["message"] == first["message"]
    bridge.teleport.approve(rid)
    bridge.pull(rid)
    bridge.reconcile(rid)
    assert "✅ APPROVED" in bridge.mm.root_posts(town)[0]["message"]
    assert ReminderSchedule.objects.get(pk=rid).escalated_at is not None


# -- 3. reviews in the root post -----------------------------------------------------------


def test_show_reviewers_line(bridge):
    bridge.configure(mattermost_extra="show_reviewers = true")
    rid = bridge.create(user="bob")
    bridge.reconcile(rid)
    assert "**Reviews**" not in bridge.mm.root_posts()[0]["message"]
    bridge.teleport.review(rid, "carol", "APPROVED", auto_resolve=False)
    bridge.teleport.review(rid, "@all", "DENIED", auto_resolve=False)
    bridge.pull(rid)
    bridge.reconcile(rid)
    message = bridge.mm.root_posts()[0]["message"]
    assert f"**Status**: ⏳ PENDING\n\n**Reviews**: ✅ carol, ❌ @{ZWSP}all\n**Link**: " in message


# -- 4. security alerts --------------------------------------------------------------------

ALERTS = (
    '[audit]\nalert_channel = "eng/town-square"\n\n[web]\npublic_url = "https://bridge.example.com"'
)


def test_anomaly_alerted_once_with_timeline_link(bridge):
    bridge.configure(extra_toml=ALERTS)
    cfg = runtime.get_config()
    rid = bridge.create()
    bridge.reconcile(rid)
    bridge.teleport.approve(rid)  # by an admin, no review: resolution_without_review
    bridge.pull(rid)
    bridge.reconcile(rid)
    now = AccessRequest.objects.get(pk=rid).first_seen_at + 5 * M
    assert scan_alerts(cfg, now) == 1
    assert scan_alerts(cfg, now) == 0
    deliver_alerts()
    deliver_alerts()
    [post] = bridge.mm.root_posts(bridge.channel_id("town-square"))
    assert post["message"] == (
        "🚨 **Access request anomaly**: a resolution without any review\n"
        f"**Request ID**: `{rid}`\n"
        f"**Detail**: ```\n{SecurityAlert.objects.get().detail}```\n"
        f"**Timeline**: [https://bridge.example.com/requests/{rid}/]"
        f"(https://bridge.example.com/requests/{rid}/)"
    )


def test_daily_digest_once_a_day(bridge):
    bridge.configure(extra_toml=ALERTS.replace("[web]", 'digest_at = "09:00"\n\n[web]'))
    cfg = runtime.get_config()
    rid = bridge.create()
    bridge.reconcile(rid)
    assert scan_alerts(cfg, T0 - M) == 0
    assert scan_alerts(cfg, T0) == 1
    assert scan_alerts(cfg, T0 + 60 * M) == 0
    assert scan_alerts(cfg, T0 + dt.timedelta(days=1)) == 1
    deliver_alerts()
    digests = bridge.mm.root_posts(bridge.channel_id("town-square"))
    assert len(digests) == 2
    assert digests[0]["message"].startswith("📋 **Access requests, last 24 hours** (2026-11-25)\n")
    assert "**Failed deliveries**: 0\n**Anomalies**: 0\n" in digests[0]["message"]


def test_alerts_off_by_default(bridge):
    assert scan_alerts(runtime.get_config(), T0) == 0
    assert scan_reminders(runtime.get_config(), T0) == 0


def test_timeline_shows_the_follow_ups(bridge, admin_client):
    bridge.configure(mattermost_extra="notify_requester = true", extra_toml=REMIND)
    rid = bridge.create(user="eve")
    bridge.reconcile(rid)
    bridge.teleport.approve(rid)
    bridge.pull(rid)
    bridge.reconcile(rid)
    body = admin_client.get(f"/requests/{rid}/").content.decode()
    assert "Requester not reachable" in body and "Reminders: done" in body


def test_requester_lookup_failing_for_a_while_is_retried_not_lost(bridge):
    """Bug found in review: a transient failure while looking the requester up (Mattermost
    down) lost the DM, as nothing would reconcile the resolved request again."""
    from django.utils import timezone

    bridge.configure(mattermost_extra="notify_requester = true")
    rid = bridge.create(user="alice@example.com")
    bridge.reconcile(rid)
    bridge.teleport.approve(rid)
    bridge.pull(rid)
    bridge.mm.fail_next(1, status=503, path_prefix="/api/v4/users/email", method="GET")
    bridge.reconcile(rid)
    assert dm_posts(bridge, "alice@example.com") == []
    [row] = Post.objects.filter(kind=Post.Kind.DM)
    assert row.channel_id == "" and row.status == Post.Status.RETRYING
    later = timezone.now() + dt.timedelta(seconds=31)
    assert list(Post.objects.due(later).filter(kind=Post.Kind.DM)) == [row]  # the sweeper's
    bridge.reconcile(rid)
    [dm] = dm_posts(bridge, "alice@example.com")
    assert "was **APPROVED**" in dm["message"]


def test_alert_about_a_hostile_request_id_is_escaped_and_not_linked(bridge):
    from notifications.alerts import Notice, raise_alerts

    bridge.configure(extra_toml=ALERTS)
    cfg = runtime.get_config()
    hostile = "x` @channel [y](http://evil.example) `"
    assert raise_alerts(
        [Notice("review_without_notification", hostile, "ev1", "mallory @all reviewed", None)],
        cfg,
    )
    deliver_alerts()
    [post] = bridge.mm.root_posts(bridge.channel_id("town-square"))
    assert "@channel" not in post["message"] and "@all" not in post["message"]
    assert "](http" not in post["message"] and "Timeline" not in post["message"]


def test_reminders_turned_on_later_cover_requests_already_pending(bridge):
    rid = bridge.create()
    bridge.reconcile(rid)  # announced with reminders off: no schedule
    bridge.configure(extra_toml=REMIND)
    assert scan_reminders(runtime.get_config(), created(rid) + 30 * M) == 1
    bridge.reconcile(rid)
    [root] = bridge.mm.root_posts()
    assert len(reminders_in(bridge, root)) == 1


def test_a_reminder_due_before_its_root_is_posted_follows_it(bridge):
    """Bug found by bench/followup_burst: in a burst a reminder could fall due before the
    root post was sent, and that channel then never got the reminder."""
    bridge.configure(extra_toml=REMIND)
    cfg = runtime.get_config()
    bridge.mm.fail_next(1, status=503)  # the root post waits for a retry
    rid = bridge.create()
    bridge.reconcile(rid)
    assert not bridge.mm.root_posts()
    assert scan_reminders(cfg, created(rid) + 30 * M) == 1
    Post.objects.filter(kind=Post.Kind.ROOT).update(next_attempt_at=None)  # retry now
    bridge.reconcile(rid)
    [root] = bridge.mm.root_posts()
    assert len(reminders_in(bridge, root)) == 1


def test_bot_role_without_user_read_means_not_reachable(bridge):
    bridge.configure(mattermost_extra="notify_requester = true")
    bridge.teleport.set_user("dave", mattermost_username=["bob"])
    bridge.teleport.deny("read", "user")
    rid = bridge.create(user="dave")
    bridge.reconcile(rid)
    bridge.teleport.approve(rid)
    bridge.pull(rid)
    bridge.reconcile(rid)
    contact = RequesterContact.objects.get(pk=rid)
    assert contact.error.startswith("requester not reachable: cannot read the Teleport user")
    assert not Post.objects.filter(kind=Post.Kind.DM).exists()


def test_escalation_that_could_not_be_posted_is_asked_again_a_minute_later(bridge):
    """The worker re-arms the ask with its own clock, so this request is two hours old in
    real time."""
    from django.utils import timezone

    bridge.configure(
        extra_toml='[reminders]\nescalate_to = ["eng/town-square"]\nescalate_after = "2h"'
    )
    cfg = runtime.get_config()
    now = timezone.now()
    rid = bridge.teleport.create_request(created=now - dt.timedelta(hours=2))
    bridge.pull(rid)
    bridge.reconcile(rid)
    assert scan_reminders(cfg, now) == 1
    bridge.mm.fail_next(1, status=503, path_prefix="/api/v4/teams", method="GET")
    bridge.reconcile(rid)
    assert not bridge.mm.root_posts(bridge.channel_id("town-square"))
    assert scan_reminders(cfg, now + dt.timedelta(seconds=30)) == 0
    assert scan_reminders(cfg, now + dt.timedelta(seconds=90)) == 1
    bridge.reconcile(rid)
    assert len(bridge.mm.root_posts(bridge.channel_id("town-square"))) == 1
