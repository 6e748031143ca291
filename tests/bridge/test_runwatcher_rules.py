"""Routing by access monitoring rules through the real watcher process and both simulators:
rules loaded at start and from PUT events while running, a broken rule visible (not silent),
rules for another plugin ignored, traits read from Teleport's user login state."""

from __future__ import annotations

import pytest

from dashboard.numbers import numbers
from teleportbridge.models import AccessMonitoringRule
from tests.bridge.processes import kill_tree, start_runwatcher
from tests.conftest import write_config
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_rules_route_through_runwatcher(tmp_path, teleport, identity_file, mattermost):
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr=teleport.address,
        identity=identity_file,
        mattermost_url=mattermost.url,
        recipients=["eng/access-requests"],
        log_output=str(tmp_path / "plugin.log"),
    )
    teleport.put_rule(
        "editors",
        ["eng/town-square"],
        condition='contains_any(access_request.spec.roles, set("editor", "dba"))',
    )
    teleport.put_rule("broken", ["eng/town-square"], condition='user.traits["team"] ==')
    teleport.put_rule(
        "slack-only", ["eng/town-square"], notification_name="slack", condition="true"
    )
    teleport.set_user("erin", login_state_traits={"team": ["payments"]})
    town, requests = (
        mattermost.channel_ids["town-square"],
        mattermost.channel_ids["access-requests"],
    )
    proc = start_runwatcher(config, log=tmp_path / "out.log")
    try:
        editor = teleport.create_request(user="alice", roles=["editor"])
        other = teleport.create_request(user="bob", roles=["viewer"])
        wait_until(lambda: len(mattermost.root_posts()) == 2, timeout=60, message="first posts")
        assert [editor in p["message"] for p in mattermost.root_posts(town)] == [True]
        assert [other in p["message"] for p in mattermost.root_posts(requests)] == [True]
        broken = AccessMonitoringRule.objects.get(name="broken")
        assert broken.condition_error == "unexpected end of condition"
        assert numbers().rules_broken == 1
        # A rule added while running applies to the next request, traits from Teleport.
        teleport.put_rule(
            "payments",
            ["eng/town-square"],
            condition='contains_any(user.traits["team"], set("payments"))',
        )
        wait_until(
            lambda: AccessMonitoringRule.objects.filter(name="payments").exists(),
            timeout=30,
            message="rule PUT event stored",
        )
        paid = teleport.create_request(user="erin", roles=["viewer"])
        wait_until(lambda: len(mattermost.root_posts()) == 3, timeout=60, message="third post")
        assert [paid in p["message"] for p in mattermost.root_posts(town)].count(True) == 1
        # Fixing the broken rule clears its error.
        teleport.put_rule("broken", ["eng/town-square"], condition="false")
        wait_until(
            lambda: AccessMonitoringRule.objects.get(name="broken").condition_error == "",
            timeout=30,
            message="fixed rule reloaded",
        )
    finally:
        kill_tree(proc)
    log = (tmp_path / "plugin.log").read_text()
    assert log.count("Access monitoring rule broken has a condition that cannot be used") == 1
