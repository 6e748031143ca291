"""SQL round trips per request and the in-process caches that save them (issue 17).

Counted, not timed: a statement budget is deterministic. The caches must never serve a
value that is wrong for longer than their short TTL, and never an empty proxy address.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import DeliveryAttempt, NotificationPlan, Post, Recipient
from notifications.reconcile import reconcile_group, root_text
from teleportbridge.amr import rules as amr_rules
from teleportbridge.models import AccessMonitoringRule, AccessRequest, WatcherState

pytestmark = pytest.mark.django_db

RECIPIENTS = ["eng/access-requests", "eng/town-square", "alice@example.com"]


def test_warm_reconcile_of_a_new_request_stays_within_its_statement_budget(bridge):
    bridge.configure(recipients=RECIPIENTS)
    bridge.reconcile(bridge.create(user="warm", roles=["editor"]))  # lookups cached
    rid = bridge.create(user="bob", roles=["editor"])
    with CaptureQueriesContext(connection) as queries:
        bridge.reconcile(rid)
    assert Post.objects.filter(request_id=rid, status=Post.Status.SENT).count() == 3
    # Three attempts (one per post), stored with one INSERT.
    assert DeliveryAttempt.objects.filter(request_id=rid).count() == 3
    # Was 28 before the caches, the single posts read and the batched attempts; 20 with
    # them; 16 with the posts claimed and settled in one UPDATE each (notifications.
    # claims); 14 with delivery reusing sync_wanted_posts' read and the plugin data not
    # listing reviews when there are no replies. Plus room for the pacer's periodic
    # RateLimitState read.
    assert len(queries) <= 16, "\n".join(q["sql"][:120] for q in queries)


def test_an_admin_recipient_added_in_this_process_applies_at_once(bridge):
    bridge.configure(recipients=["eng/access-requests"])
    bridge.reconcile(bridge.create(user="warm", roles=["editor"]))  # caches the admin list
    Recipient.objects.create(handle="eng/town-square")
    rid = bridge.create(user="bob", roles=["editor"])
    bridge.reconcile(rid)
    assert len(bridge.mm.root_posts(bridge.channel_id("town-square"))) == 1


def test_an_empty_proxy_address_is_not_cached(bridge):
    WatcherState.objects.filter(pk=1).update(proxy_public_addr="")
    rid = bridge.create(user="bob", roles=["editor"])
    request = AccessRequest.objects.get(pk=rid)
    assert "**Link**" not in root_text(request)
    # Another process (the watcher) sets it behind this process's back: seen at once.
    WatcherState.objects.filter(pk=1).update(proxy_public_addr="teleport.example.com:443")
    assert "**Link**" in root_text(request)


def test_a_group_of_new_requests_shares_its_reads_and_writes(bridge):
    """reconcile_group: the plans, the rules and the posts for the plugin data are read
    once for a quick group, and its delivery results and plugin-data marks are written
    once for it, not once per request."""
    bridge.configure(recipients=RECIPIENTS)
    bridge.reconcile(bridge.create(user="warm", roles=["editor"]))  # lookups cached
    ids = [bridge.create(user=f"u{i}", roles=["editor"]) for i in range(4)]
    with CaptureQueriesContext(connection) as queries:
        assert reconcile_group(ids).failed == []
    assert Post.objects.filter(request_id__in=ids, status=Post.Status.SENT).count() == 12
    assert DeliveryAttempt.objects.filter(request_id__in=ids).count() == 12
    assert NotificationPlan.objects.filter(pk__in=ids, plugin_data_written="").count() == 0
    for rid in ids:
        assert bridge.teleport.plugin_data(rid)  # every entry in Teleport
    sql = [q["sql"] for q in queries]
    assert sum("notifications_notificationplan" in s and s.startswith("SELECT") for s in sql) == 1
    assert sum("teleportbridge_accessmonitoringrule" in s for s in sql) == 1
    assert sum(s.startswith("UPDATE") and "plugin_data_written" in s for s in sql) == 1
    assert sum(s.startswith("INSERT") and "deliveryattempt" in s for s in sql) == 1
    assert sum(s.startswith("SELECT") and '"kind" AS "kind"' in s for s in sql) == 1  # desired()
    # 14 per request one at a time (the test above), 56 for four; 40 in a quick group.
    # Plus room for the pacer's periodic RateLimitState read.
    assert len(queries) <= 42, "\n".join(q["sql"][:120] for q in queries)


def test_rules_are_read_once_inside_one_read_and_afresh_outside():
    """A group plans with the rules as of its start; nothing caches them across tasks
    (another process may have stored a rule's change since)."""
    AccessMonitoringRule.objects.create(
        name="r1",
        subjects=["access_request"],
        condition='contains(access_request.spec.roles, "editor")',
        notification_name="mattermost",
        recipients=["eng/access-requests"],
    )
    with CaptureQueriesContext(connection) as queries, amr_rules.one_read():
        assert [r.name for r in amr_rules.applicable_rules()] == ["r1"]
        assert [r.name for r in amr_rules.applicable_rules()] == ["r1"]
    assert len(queries) == 1
    AccessMonitoringRule.objects.filter(name="r1").delete()
    assert amr_rules.applicable_rules() == []  # outside a block: read afresh


def _results_writes(queries) -> int:
    """The delivery results' UPDATEs (one executemany each) among captured statements."""
    return sum(
        q["sql"].split(": ", 1)[-1].startswith("UPDATE") and '"buttons_sent"' in q["sql"]
        for q in queries
    )


def test_a_quick_group_writes_its_results_once_a_slow_one_as_it_goes(bridge):
    """A group's delivery results wait in memory until written: together when the group is
    quick, but a slow group (Mattermost slow to answer) writes them after each request,
    so a task killed by its timeout does not lose what four requests had decided."""
    bridge.configure(recipients=RECIPIENTS)
    bridge.reconcile(bridge.create(user="warm", roles=["editor"]))  # lookups cached
    quick = [bridge.create(user=f"q{i}", roles=["editor"]) for i in range(3)]
    with CaptureQueriesContext(connection) as queries:
        assert reconcile_group(quick).failed == []
    assert _results_writes(queries) == 1
    slow = [bridge.create(user=f"s{i}", roles=["editor"]) for i in range(3)]
    with CaptureQueriesContext(connection) as queries:
        # results_every=0: every request counts as slow.
        assert reconcile_group(slow, results_every=0.0).failed == []
    assert _results_writes(queries) == 3
    assert Post.objects.filter(request_id__in=quick + slow, status=Post.Status.SENT).count() == 18
