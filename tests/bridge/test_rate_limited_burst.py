"""A burst against Mattermost's rate limit through a real runwatcher with two workers:
every post exactly once, and the workers pace together instead of each finding the
limit by hitting it (the bench measures the share of the allowed rate used)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.bridge.processes import kill_tree, started_runwatcher
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rate_limited_burst_is_paced_and_posted_exactly_once(
    tmp_path, teleport, identity_file, mattermost
):
    recipients = ["eng/access-requests", "alice@example.com"]
    proc = started_runwatcher(
        tmp_path, teleport, identity_file, mattermost, recipients=recipients, Q_WORKERS="2"
    )
    mattermost.set_rate_limit(per_sec=10, max_burst=5)
    try:
        mattermost.clear_request_log()
        ids = [teleport.create_request(user=f"user{i}", roles=["editor"]) for i in range(20)]

        def roots() -> Counter:
            return Counter(
                rid for p in mattermost.root_posts() for rid in ids if rid in p["message"]
            )

        wait_until(
            lambda: len(roots()) == len(ids) and min(roots().values()) >= 2,
            timeout=120,
            message="every request posted in both places",
        )
    finally:
        mattermost.set_rate_limit(None)
        kill_tree(proc)
    assert set(roots().values()) == {2}
    refused = sum(status == 429 for _, _, status in mattermost.request_log)
    assert refused <= 5, refused
