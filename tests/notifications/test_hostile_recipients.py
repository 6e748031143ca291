"""One bad recipient skips that recipient, never the request; suggested reviewers are capped.

Before: a suggested reviewer longer than 255 characters crashed the request's delivery task
on PostgreSQL (the lookup cache's key column), so the request got none of its posts, and
300 suggested reviewers meant 300 lookups and up to 300 direct messages.
"""

from __future__ import annotations

import pytest

from notifications.models import NotificationPlan, Post

pytestmark = pytest.mark.django_db


def test_an_overlong_suggested_reviewer_skips_only_itself(bridge):
    huge = "x" * 300 + "@example.com"
    rid = bridge.create(suggested_reviewers=[huge, "bob@example.com"])
    bridge.reconcile(rid)
    plan = NotificationPlan.objects.get(pk=rid)
    by_handle = {r["handle"]: r for r in plan.recipients}
    assert "longer than 255" in by_handle[huge]["error"]
    assert by_handle["bob@example.com"]["channel_id"]
    assert Post.objects.filter(request_id=rid, status="sent").count() == 2  # channel + bob


def test_suggested_reviewers_are_capped(bridge, settings):
    settings.NOTIFY_MAX_SUGGESTED_REVIEWERS = 3
    reviewers = [f"r{i}@example.com" for i in range(300)]
    for name in reviewers[:5]:
        bridge.mm.add_user(name, name.split("@")[0])
    bridge.mm.clear_request_log()
    rid = bridge.create(suggested_reviewers=reviewers)
    bridge.reconcile(rid)
    lookups = [p for m, p, _ in bridge.mm.request_log if p.startswith("/api/v4/users/email/")]
    assert len(lookups) == 3
    plan = NotificationPlan.objects.get(pk=rid)
    skipped = [r for r in plan.recipients if r["error"].startswith("skipped: over the limit")]
    assert len(skipped) == 297
    assert Post.objects.filter(request_id=rid, status="sent").count() == 1 + 3
