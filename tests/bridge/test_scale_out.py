"""Scale-out on PostgreSQL: one `runwatcher --no-workers` (the watcher, leader-locked)
plus two `manage.py qcluster` processes sharing the queue: every post exactly once, and
both clusters take part. Once per broker: the database (the push wake-up is PostgreSQL
NOTIFY, across processes) and Redis (Q_BROKER=redis: each task popped by one pusher)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest
from django.db import connection

from bridge.proctree import spawn
from notifications.models import Post
from tests.bridge.processes import ROOT, database_url, kill_tree, started_runwatcher
from tests.redis_server import remove_queue_keys, unique_queue
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def broker_env(request: pytest.FixtureRequest, broker: str) -> dict[str, str]:
    """The environment that picks `broker` for every process of the test; for Redis a
    queue of this test's own (parallel runs may share one server), removed at the end."""
    if broker == "database":
        return {"Q_BROKER": "database"}
    url = request.getfixturevalue("redis_url")  # skips if there is no Redis at all
    queue = unique_queue()
    request.addfinalizer(lambda: remove_queue_keys(url, queue))
    return {"Q_BROKER": "redis", "REDIS_URL": url, "REDIS_QUEUE": queue}


@pytest.mark.parametrize("broker", ["database", "redis"])
def test_two_qclusters_and_one_watcher_post_everything_once(
    request, broker, tmp_path, teleport, identity_file, mattermost
):
    if connection.vendor != "postgresql":
        pytest.skip("the scale-out topology is for PostgreSQL")
    queue_env = broker_env(request, broker)
    recipients = ["eng/access-requests", "alice@example.com"]
    watcher = started_runwatcher(
        tmp_path,
        teleport,
        identity_file,
        mattermost,
        "--no-workers",
        recipients=recipients,
        **queue_env,
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "TELEPORT_MATTERMOST_CONFIG": str(tmp_path / "tm.toml"),
        "Q_WORKERS": "1",
        "DEBUG": "1",
        **queue_env,
    }
    clusters = [
        spawn(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=(tmp_path / f"qcluster{i}.out").open("w"),
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    mattermost.set_latency(0.02)  # each delivery takes a moment: both clusters get some
    try:
        ids = [teleport.create_request(user=f"user{i}", roles=["editor"]) for i in range(30)]

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
        mattermost.set_latency(0)
        for proc in [watcher, *clusters]:
            kill_tree(proc)
    assert set(roots().values()) == {2}
    owners = {
        owner.split(":")[1]
        for owner in Post.objects.exclude(claimed_by="").values_list("claimed_by", flat=True)
    }
    worker_parents = {c.pid for c in clusters}
    assert len(owners) >= 2, owners  # deliveries by the workers of both clusters
    assert str(watcher.pid) not in owners and not owners & {str(p) for p in worker_parents}
