"""SQL round trips per request and the in-process caches that save them (issue 17).

Counted, not timed: a statement budget is deterministic. The caches must never serve a
value that is wrong for longer than their short TTL, and never an empty proxy address.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import DeliveryAttempt, Post, Recipient
from notifications.reconcile import root_text
from teleportbridge.models import AccessRequest, WatcherState

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
