"""Requested resources through both simulators: friendly names and labels from ListResources,
plugin data `resources`, the opt-in `**Resources**:` line, and a permission refusal."""

from __future__ import annotations

import json
import logging

import pytest

from notifications import requested_resources
from notifications.models import NotificationPlan
from notifications.render import RootPostData, render_root_post
from teleportbridge import sync

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh():
    requested_resources._denied_logged.clear()


@pytest.fixture
def cluster(bridge):
    sim = bridge.teleport
    sim.put_resource("node", "uuid-1", hostname="web-1", labels={"env": "prod", "team": "a"})
    sim.put_resource("node", "uuid-2", hostname="web-2", labels={"env": "prod", "team": "b"})
    sim.put_resource(
        "user_group",
        "okta-grp",
        description="Payments admins",
        labels={"teleport.dev/origin": "okta", "env": "prod"},
    )
    sim.put_resource(
        "user_group",
        "okta-named",
        description="ignored",
        labels={"teleport.dev/origin": "okta", "teleport.internal/okta-group-name": "Oncall"},
    )
    return sim.cluster_name


def put_rule(bridge, name, condition, recipients):
    bridge.teleport.put_rule(name, recipients, condition=condition)
    sync.upsert_rule(next(r for r in bridge.teleport.rules if r.metadata.name == name))


def test_friendly_names_labels_and_plugin_data(bridge, cluster):
    put_rule(
        bridge,
        "prod",
        'access_request.spec.resource_labels_union["env"].contains("prod") && '
        'access_request.spec.resource_labels_intersection["team"].isempty()',
        ["eng/town-square"],
    )
    resources = [
        "node/uuid-1",
        "node/uuid-2",
        "user_group/okta-grp",
        "user_group/okta-named",
        "db/orders",
        "node/gone",
    ]
    rid = bridge.create(resources=resources)
    bridge.reconcile(rid)
    names = [
        "node/web-1",
        "node/web-2",
        "user_group/Payments admins",
        "user_group/Oncall",
        f"/{cluster}/db/orders",
        f"/{cluster}/node/gone",
    ]
    assert NotificationPlan.objects.get(pk=rid).resources == names
    assert json.loads(bridge.teleport.plugin_data(rid)["resources"]) == names
    post = bridge.mm.root_posts(bridge.channel_id("town-square"))[0]
    assert "**Resources**" not in post["message"]  # off by default: byte-exact text


def test_show_resources_line_is_escaped_and_capped(bridge, cluster):
    bridge.configure(show_resources=True)
    extra = [f"node/n{i}" for i in range(5)]
    rid = bridge.create(user="bob", roles=["editor"], resources=["node/uuid-1", *extra])
    bridge.reconcile(rid)
    text = bridge.mm.root_posts()[0]["message"]
    lines = text.split("\n")
    assert lines[2] == "**Roles**: editor"
    assert lines[3] == (
        f"**Resources**: node/web-1, /{cluster}/node/n0, /{cluster}/node/n1, "
        f"/{cluster}/node/n2, /{cluster}/node/n3 and 1 more"
    )
    assert lines[4] == f"**Request ID**: {rid}"


def test_resource_names_are_escaped_like_other_values():
    data = RootPostData(request_id="r1", user="u", resources=["node/@channel *x*"])
    safe = render_root_post(data)
    assert safe.split("\n")[3] == "**Resources**: node/@\u200bchannel \\*x\\*"
    assert "**Resources**: node/@channel *x*" in render_root_post(data, strict_compat=True)


def test_permission_refusal_names_the_rule_once_and_still_posts(bridge, cluster, caplog):
    caplog.set_level(logging.WARNING)
    bridge.teleport.deny("list", "user_group")
    bridge.teleport.deny("read", "user_group")
    for _ in range(2):
        rid = bridge.create(resources=["user_group/okta-grp", "node/uuid-1"])
        bridge.reconcile(rid)
    warnings = [r.getMessage() for r in caplog.records if "requested user_group" in r.getMessage()]
    assert len(warnings) == 1
    assert (
        'access denied to perform action "list" on "user_group", access denied to perform '
        'action "read" on "user_group"' in warnings[0]
    )
    assert "`user_group: [list, read]`" in warnings[0]
    assert len(bridge.mm.root_posts()) == 2  # still posted
    plan = NotificationPlan.objects.get(pk=rid)
    assert plan.resources == [f"/{cluster}/user_group/okta-grp", "node/web-1"]
