"""SIGKILL of the whole tree mid-delivery, then a restart: the post that was in flight is
settled within seconds (adopted from Mattermost, not sent again), not after the lease."""

from __future__ import annotations

import signal

import pytest

from notifications.models import Post
from tests.bridge.processes import kill_tree, started_runwatcher, wait_all_gone
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_killed_delivery_is_adopted_at_restart_without_waiting_the_lease(
    tmp_path, teleport, identity_file, mattermost
):
    # A lease far longer than the test's deadline: only releasing the dead claim can do it.
    env = {"NOTIFY_SENDING_LEASE_SECONDS": "3600"}
    proc = started_runwatcher(tmp_path / "first", teleport, identity_file, mattermost, **env)
    mattermost.pause_posts()
    try:
        rid = teleport.create_request(user="bob", roles=["db"])
        wait_until(lambda: mattermost.inflight_posts >= 1, timeout=60, message="a held POST")
        proc.send_signal(signal.SIGKILL)
        wait_all_gone([proc.pid, *proc.tree], timeout=10)
    finally:
        mattermost.resume_posts()  # the held POST lands: Mattermost has it, we never knew
        kill_tree(proc)
    wait_until(lambda: len(mattermost.root_posts()) == 1, timeout=30, message="the late post")
    post = Post.objects.get(request_id=rid)
    assert post.status == Post.Status.SENDING and post.claimed_by

    proc = started_runwatcher(tmp_path / "second", teleport, identity_file, mattermost, **env)
    try:
        wait_until(
            lambda: Post.objects.get(pk=post.pk).status == Post.Status.SENT,
            timeout=30,
            message="the in-flight post settled",
        )
    finally:
        kill_tree(proc)
    assert len(mattermost.root_posts()) == 1  # adopted, not posted again
    assert Post.objects.get(pk=post.pk).mattermost_id == mattermost.root_posts()[0]["id"]
