"""Issue 16 end to end: the real runwatcher, its workers and loops, both simulators.

A reminder is held in flight in Mattermost, the whole runwatcher is SIGKILLed, Mattermost
then completes the post; the next start adopts it (never posts it again), carries on with
the reminder cycle and the escalation, and on approval stops the reminders, DMs the
requester once and raises one security alert (approved without any review).
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from notifications.models import Post, ReminderSchedule
from tests.bridge.processes import kill_tree, start_runwatcher
from tests.conftest import write_config
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

FEATURES = """[reminders]
after = "1s"
every = "7s"
max = 3
escalate_to = ["eng/town-square"]
escalate_after = "3s"

[audit]
alert_channel = "eng/security"

[web]
public_url = "https://bridge.example.com"
"""


def _start(tmp_path, config):
    proc = start_runwatcher(
        config,
        "--audit-interval",
        "0",
        log=tmp_path / "out.log",
        NOTIFY_SENDING_LEASE_SECONDS="2",
        ALERT_SCAN_SECONDS="1",
    )
    plugin_log = tmp_path / "plugin.log"
    wait_until(
        lambda: plugin_log.exists() and plugin_log.read_text().count("Plugin is ready") >= 1,
        timeout=60,
        message="watcher ready",
    )
    return proc


def test_followups_exactly_once_across_sigkill(tmp_path, teleport, identity_file, mattermost):
    security = mattermost.add_channel("eng", "security", "Security")
    access = mattermost.channel_ids["access-requests"]
    town = mattermost.channel_ids["town-square"]
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr=teleport.address,
        identity=identity_file,
        mattermost_url=mattermost.url,
        recipients=["eng/access-requests"],
        log_output=str(tmp_path / "plugin.log"),
        mattermost_extra="notify_requester = true\nshow_reviewers = true",
        extra_toml=FEATURES,
    )
    proc = _start(tmp_path, config)
    try:
        rid = teleport.create_request(user="alice@example.com", roles=["editor"], reason="x")
        wait_until(lambda: mattermost.root_posts(access), timeout=30, message="root post")
        mattermost.pause_posts()
        wait_until(lambda: mattermost.inflight_posts >= 1, timeout=30, message="a held follow-up")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        kill_tree(proc)
        mattermost.resume_posts()  # the held post lands after its sender died
    [root] = mattermost.root_posts(access)
    wait_until(lambda: mattermost.inflight_posts == 0, timeout=10, message="held post lands")
    landed = len(mattermost.posts())

    proc = _start(tmp_path, config)
    try:
        wait_until(lambda: mattermost.root_posts(town), timeout=60, message="escalation")
        wait_until(
            lambda: (
                ReminderSchedule.objects.get(pk=rid).next_due_at is None
                and not Post.objects.filter(kind=Post.Kind.REMINDER)
                .exclude(status=Post.Status.SENT)
                .exists()
            ),
            timeout=90,
            message="every reminder slot sent",
        )
        teleport.approve(rid, reason="by the admin")
        wait_until(
            lambda: all(
                "✅ APPROVED" in mattermost.root_posts(c)[0]["message"] for c in (access, town)
            ),
            timeout=30,
            message="both roots edited",
        )
        wait_until(lambda: mattermost.root_posts(security), timeout=30, message="alert")
        dm = wait_until(
            lambda: [
                p for p in mattermost.posts() if mattermost.channel(p["channel_id"])["type"] == "D"
            ],
            timeout=30,
            message="requester DM",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        kill_tree(proc)

    assert len(dm) == 1 and "was **APPROVED**" in dm[0]["message"]
    assert f"tsh login --request-id={rid}" in dm[0]["message"]
    [alert] = mattermost.root_posts(security)
    assert "a resolution without any review" in alert["message"]
    for channel in (access, town):
        [r] = mattermost.root_posts(channel)
        texts = [p["message"] for p in mattermost.replies(r["id"])]
        # Each slot at most once per thread, and exactly what the outbox recorded.
        assert len(texts) == len(set(texts)), texts
        rows = Post.objects.filter(kind=Post.Kind.REMINDER, channel_id=channel)
        assert sorted(texts) == sorted(rows.values_list("text_sent", flat=True))
    assert landed >= 2  # the root and the held post
    assert "Adopted post" in (tmp_path / "plugin.log").read_text()
    # The held reminder was adopted, not sent again.
    first = Counter(p["message"] for p in mattermost.replies(root["id"]))
    assert all(n == 1 for n in first.values())
    assert "reminder 1 of 3" in mattermost.replies(root["id"])[0]["message"]
