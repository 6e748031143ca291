"""Routing by access monitoring rules through both simulators: which rules apply, rule health,
user traits from Teleport (login state, user, permission refusal), and the plan's record."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from dashboard import queries
from dashboard.numbers import numbers
from notifications import request_facts
from notifications.models import NotificationPlan
from teleportbridge import sync
from teleportbridge.amr import rules as amr_rules
from teleportbridge.models import AccessMonitoringRule

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_caches():
    request_facts.clear_traits_cache()
    amr_rules._logged.clear()
    yield
    request_facts.clear_traits_cache()


def put_rule(bridge, name, condition, recipients, **kwargs):
    """A rule as the watcher stores it: created in Teleport, loaded through sync."""
    bridge.teleport.put_rule(name, recipients, condition=condition, **kwargs)
    rule = next(r for r in bridge.teleport.rules if r.metadata.name == name)
    sync.upsert_rule(rule)


def roots(bridge, channel):
    return bridge.mm.root_posts(bridge.channel_id(channel))


def test_documented_rule_replaces_config_and_is_recorded(bridge):
    put_rule(
        bridge,
        "editors",
        'contains_any(access_request.spec.roles, set("editor", "dba"))',
        ["eng/town-square"],
    )
    rid = bridge.create(roles=["editor"], suggested_reviewers=["bob@example.com"])
    bridge.reconcile(rid)
    assert len(roots(bridge, "town-square")) == 1
    assert len(bridge.mm.root_posts()) == 1  # not the TOML channel, not the reviewer
    plan = NotificationPlan.objects.get(pk=rid)
    assert plan.rules == [{"name": "editors", "matched": True, "error": ""}]
    assert AccessMonitoringRule.objects.get(name="editors").last_matched_at is not None
    detail = queries.request_detail(rid)
    assert detail is not None
    titles = [e.title for e in detail.timeline if e.kind == "plan"]
    assert titles == ["Notification planned for eng/town-square (routed by rule `editors`)"]


def test_non_matching_and_other_plugin_rules_leave_the_config(bridge):
    put_rule(bridge, "dbas", 'access_request.spec.roles.contains("dba")', ["eng/town-square"])
    put_rule(bridge, "slack", "true", ["eng/town-square"], notification_name="slack")
    put_rule(bridge, "other-subject", "true", ["eng/town-square"], subjects=["other"])
    rid = bridge.create(roles=["editor"])
    bridge.reconcile(rid)
    assert roots(bridge, "town-square") == []
    assert len(roots(bridge, "access-requests")) == 1
    plan = NotificationPlan.objects.get(pk=rid)
    assert plan.rules == [{"name": "dbas", "matched": False, "error": ""}]


def test_broken_rule_is_visible_logged_once_and_skipped(bridge, caplog):
    caplog.set_level(logging.WARNING)
    put_rule(bridge, "typo", 'contains_any(access_request.spec.roles, "editor")', ["eng/x"])
    put_rule(bridge, "typo", 'contains_any(access_request.spec.roles, "editor")', ["eng/x"])
    rule = AccessMonitoringRule.objects.get(name="typo")
    assert rule.condition_error == "column 1: argument 2 of contains_any must be set, got string"
    assert not rule.healthy
    logged = [r.getMessage() for r in caplog.records if "typo" in r.getMessage()]
    assert len(logged) == 1 and "argument 2 of contains_any must be set" in logged[0]
    rid = bridge.create(roles=["editor"])
    bridge.reconcile(rid)
    assert len(roots(bridge, "access-requests")) == 1  # the configured recipients
    assert [r.getMessage() for r in caplog.records if "typo" in r.getMessage()] == logged
    n = numbers()
    assert (n.rules_total, n.rules_broken) == (1, 1)
    h = queries.health()
    assert [r.name for r in h.rules] == ["typo"]


def test_changed_rule_applies_to_the_next_request(bridge):
    put_rule(bridge, "r", 'access_request.spec.user == "nobody"', ["eng/town-square"])
    first = bridge.create(user="alice")
    bridge.reconcile(first)
    put_rule(bridge, "r", 'access_request.spec.user == "alice"', ["eng/town-square"])
    second = bridge.create(user="alice")
    bridge.reconcile(second)
    assert len(roots(bridge, "town-square")) == 1
    assert len(roots(bridge, "access-requests")) == 1


def test_evaluation_error_is_recorded_and_other_rules_still_route(bridge):
    put_rule(
        bridge,
        "emails",
        'email.local(access_request.spec.suggested_reviewers).contains("bob")',
        ["eng/town-square"],
    )
    put_rule(bridge, "all", "true", ["eng/access-requests"])
    rid = bridge.create(suggested_reviewers=["not an email"])
    bridge.reconcile(rid)
    rule = AccessMonitoringRule.objects.get(name="emails")
    assert rule.last_error == "evaluating: failed to parse email 'not an email'"
    assert rule.last_error_at is not None
    assert len(roots(bridge, "access-requests")) == 1
    plan = NotificationPlan.objects.get(pk=rid)
    assert {r["name"]: r["matched"] for r in plan.rules} == {"emails": False, "all": True}


def test_unresolvable_rule_recipients_fall_back_to_config(bridge):
    put_rule(bridge, "ghost", "true", ["eng/no-such-channel"])
    rid = bridge.create()
    bridge.reconcile(rid)
    assert len(roots(bridge, "access-requests")) == 1
    plan = NotificationPlan.objects.get(pk=rid)
    sources = {r["handle"]: (r["source"], bool(r["channel_id"])) for r in plan.recipients}
    assert sources["eng/no-such-channel"] == ("rule:ghost", False)
    assert sources["eng/access-requests"] == ("config", True)


TRAITS_RULE = 'contains_any(user.traits["team"], set("payments"))'


def test_user_traits_from_login_state_then_user(bridge):
    put_rule(bridge, "payments", TRAITS_RULE, ["eng/town-square"])
    bridge.teleport.set_user(
        "alice", {"team": ["search"]}, login_state_traits={"team": ["payments"]}
    )
    bridge.teleport.set_user("carol", {"team": ["payments"]})  # no login state
    bridge.teleport.set_user("dave", {"team": ["search"]})
    for user in ("alice", "carol", "dave", "unknown"):
        bridge.reconcile(bridge.create(user=user))
    routed = {
        p.request.user: [r["matched"] for r in p.rules] for p in NotificationPlan.objects.all()
    }
    assert routed == {"alice": [True], "carol": [True], "dave": [False], "unknown": [False]}
    assert len(roots(bridge, "town-square")) == 2


def test_traits_permission_refusal_names_the_rule_once_and_uses_no_traits(bridge, caplog):
    caplog.set_level(logging.WARNING)
    put_rule(bridge, "payments", TRAITS_RULE, ["eng/town-square"])
    put_rule(bridge, "no-team", 'is_empty(user.traits["team"])', ["eng/town-square"])
    bridge.teleport.set_user("alice", login_state_traits={"team": ["payments"]})
    bridge.teleport.deny("read", "user_login_state")
    for user in ("alice", "bob"):
        bridge.reconcile(bridge.create(user=user))
    warnings = [r.getMessage() for r in caplog.records if "user traits" in r.getMessage()]
    assert len(warnings) == 1
    assert "user_login_state: [read]" in warnings[0]
    assert 'access denied to perform action "read" on "user_login_state"' in warnings[0]
    # Evaluated with empty traits: "payments" does not match, "no-team" does.
    plans = {p.request.user: p.rules for p in NotificationPlan.objects.all()}
    assert {r["name"]: r["matched"] for r in plans["alice"]} == {
        "no-team": True,
        "payments": False,
    }


def test_traits_are_not_read_when_no_rule_needs_them(bridge):
    put_rule(bridge, "all", "true", ["eng/town-square"])
    bridge.teleport.deny("read", "user_login_state")
    bridge.teleport.deny("read", "user")
    bridge.reconcile(bridge.create(user="alice"))
    assert len(roots(bridge, "town-square")) == 1
    assert request_facts._traits_cache == {}


def test_broken_rule_on_the_health_page_admin_and_metrics(bridge, client, admin_client):
    from bridge.metrics import make_registry, render
    from tests.factories import make_user

    put_rule(bridge, "broken", "access_request.spec.roles &&", ["eng/x"])
    put_rule(bridge, "fine", "true", ["eng/town-square"])
    bridge.reconcile(bridge.create())
    client.force_login(make_user("auditor"))
    body = client.get(reverse("dashboard:health")).content.decode()
    assert 'id="rules-broken">1 broken<' in body
    assert "condition: unexpected end of condition" in body
    assert "ok, last matched" in body
    admin = admin_client.get("/admin/teleportbridge/accessmonitoringrule/").content.decode()
    assert "condition: unexpected end of condition" in admin
    assert "eng/town-square" in admin  # recipients column
    text = render(make_registry()).decode()
    assert "teleport_mattermost_access_monitoring_rules 2.0" in text
    assert "teleport_mattermost_access_monitoring_rules_broken 1.0" in text


def test_amr_test_command_prints_rules_and_destinations_and_posts_nothing(bridge):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    put_rule(bridge, "editors", 'access_request.spec.roles.contains("editor")', ["eng/oncall"])
    put_rule(bridge, "typo", "set(", ["eng/x"])
    put_rule(bridge, "dbas", 'access_request.spec.roles.contains("dba")', ["eng/dba"])
    rid = bridge.create(user="alice", roles=["editor"])
    out = StringIO()
    call_command("amr-test", "--request", rid, stdout=out)
    assert out.getvalue().splitlines() == [
        f"Request {rid} by alice, roles: editor",
        "Rule dbas: no match",
        "Rule editors: matches -> eng/oncall",
        "Rule typo: ERROR (skipped): unexpected end of condition",
        "Would post to:",
        "  eng/oncall [rule:editors]",
    ]
    resolved = StringIO()
    call_command("amr-test", "--request", rid, "--resolve", stdout=resolved)
    assert "eng/oncall [rule:editors] unresolved:" in resolved.getvalue()
    assert "the configured recipients would apply" in resolved.getvalue()
    assert bridge.mm.posts() == []
    assert not NotificationPlan.objects.exists()
    assert AccessMonitoringRule.objects.get(name="editors").last_matched_at is None
    with pytest.raises(CommandError, match="no stored access request with ID nope"):
        call_command("amr-test", "--request", "nope")
