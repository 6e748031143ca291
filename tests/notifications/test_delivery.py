"""Retries, rate limits, permanent errors, duplicates and crashes: still exactly one post."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from notifications.delivery import PROPS_KEY
from notifications.models import DeliveryAttempt, Post
from notifications.reconcile import reconcile_request
from notifications.tasks import retry_posts, sweep_due_posts

pytestmark = pytest.mark.django_db


def make_due(request_id: str) -> None:
    """Let a scheduled retry run now (the test stands in for the clock)."""
    Post.objects.filter(request_id=request_id, status="retrying").update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def root(request_id: str) -> Post:
    return Post.objects.get(request_id=request_id, kind="root")


def test_500_twice_then_success_is_one_post(bridge):
    rid = bridge.create()
    bridge.mm.fail_next(2, status=500)
    bridge.reconcile(rid)
    assert root(rid).status == "retrying" and root(rid).next_attempt_at > timezone.now()
    make_due(rid)
    bridge.reconcile(rid)
    assert root(rid).status == "retrying"
    make_due(rid)
    bridge.reconcile(rid)
    post = root(rid)
    assert post.status == "sent" and post.attempts == 3
    assert len(bridge.mm.root_posts()) == 1
    codes = list(
        DeliveryAttempt.objects.filter(post=post, method="POST").values_list(
            "status_code", flat=True
        )
    )
    assert sorted(codes, key=lambda c: c or 0) == [201, 500, 500]


def test_429_waits_for_retry_after(bridge):
    rid = bridge.create()
    bridge.mm.rate_limit_next(1, retry_after=7, path_prefix="/api/v4/posts")
    before = timezone.now()
    bridge.reconcile(rid)
    post = root(rid)
    assert post.status == "retrying"
    assert post.next_attempt_at >= before + timedelta(seconds=7)
    assert "429" in post.last_error
    attempt = DeliveryAttempt.objects.get(post=post, status_code=429)
    assert attempt.retry_after == 7
    # Not due yet: a reconcile (e.g. from another event) does not jump the queue.
    bridge.reconcile(rid)
    assert bridge.mm.posts() == []
    make_due(rid)
    bridge.reconcile(rid)
    assert root(rid).status == "sent" and len(bridge.mm.posts()) == 1


def test_401_is_permanent_and_not_retried(bridge):
    rid = bridge.create()
    bridge.configure(token="wrong-token")
    bridge.reconcile(rid)  # the lookup itself is refused: recipient skipped, clear reason
    from notifications.models import NotificationPlan

    plan = NotificationPlan.objects.get(pk=rid)
    assert plan.status == "skipped"
    assert "401" in plan.recipients[0]["error"]
    assert "wrong-token" not in str(plan.recipients)


def test_401_during_post_fails_once(bridge):
    rid = bridge.create()
    bridge.mm.fail_next(1, status=401)
    bridge.reconcile(rid)
    post = root(rid)
    assert post.status == "failed" and "401" in post.last_error
    make_due(rid)
    bridge.reconcile(rid)
    assert root(rid).attempts == 1  # permanent: never retried on its own
    assert sweep_due_posts() == 0
    # An admin fixes the cause and retries.
    assert retry_posts([post.pk]) == 1
    bridge.reconcile(rid)
    assert root(rid).status == "sent"


def test_403_not_a_member_and_404_are_permanent(bridge):
    bridge.configure(recipients=["eng/private", "eng/no-such-channel", "eng/access-requests"])
    rid = bridge.create()
    bridge.reconcile(rid)
    private = Post.objects.get(request_id=rid, channel_id=bridge.channel_id("private"))
    assert private.status == "failed" and "403" in private.last_error
    ok = Post.objects.get(request_id=rid, channel_id=bridge.channel_id("access-requests"))
    assert ok.status == "sent"
    assert Post.objects.filter(request_id=rid).count() == 2  # 404 lookup: no post row at all


def test_duplicate_task_runs_make_one_post(bridge):
    rid = bridge.create()
    for _ in range(3):
        bridge.reconcile(rid)
    assert len(bridge.mm.posts()) == 1
    assert DeliveryAttempt.objects.filter(method="POST").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_task_runs_make_one_post(bridge):
    rid = bridge.create()
    bridge.mm.set_latency(0.2)  # widen the window so the runs overlap
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reconcile_request(rid)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    bridge.mm.set_latency(0)
    assert not errors
    assert len(bridge.mm.root_posts()) == 1


def test_response_lost_after_mattermost_accepted(bridge):
    rid = bridge.create()
    bridge.mm.drop_response_next(1)
    bridge.reconcile(rid)
    assert root(rid).status == "retrying" and len(bridge.mm.posts()) == 1
    make_due(rid)
    bridge.reconcile(rid)
    post = root(rid)
    assert post.status == "sent" and post.mattermost_id == bridge.mm.posts()[0]["id"]
    assert len(bridge.mm.posts()) == 1


def test_worker_killed_after_send_is_one_post(bridge, settings):
    """State left by a worker that died between Mattermost's 201 and saving the id."""
    settings.NOTIFY_SENDING_LEASE_SECONDS = 30
    rid = bridge.create()
    bridge.reconcile(rid)  # creates the plan and sends; then we rewind to the crash point
    post = root(rid)
    Post.objects.filter(pk=post.pk).update(
        status="sending",
        mattermost_id="",
        text_sent="",
        attempts=1,
        updated_at=timezone.now() - timedelta(seconds=31),
    )
    assert bridge.mm.posts()[0]["props"][PROPS_KEY] == post.key
    assert sweep_due_posts() == 1  # the sweeper notices the abandoned claim
    bridge.reconcile(rid)
    adopted = root(rid)
    assert adopted.status == "sent" and adopted.mattermost_id == post.mattermost_id
    assert len(bridge.mm.posts()) == 1


def test_fresh_sending_claim_is_left_alone(bridge):
    rid = bridge.create()
    bridge.reconcile(rid)
    Post.objects.filter(request_id=rid).update(status="sending", text_wanted="changed")
    bridge.reconcile(rid)  # another worker holds it: no edit
    assert Post.objects.get(request_id=rid).status == "sending"


def test_mattermost_down_while_planning_is_retried(bridge):
    rid = bridge.create()
    bridge.mm.stop()
    assert bridge.reconcile(rid).startswith("recipients pending")
    assert sweep_due_posts() == 0  # just seen: it is still in the queue, leave it there
    # At start-up its queue row may be locked by a killed predecessor: redo it at once.
    assert sweep_due_posts(at_start=True) == 1
    from teleportbridge.models import AccessRequest

    AccessRequest.objects.filter(pk=rid).update(first_seen_at=timezone.now() - timedelta(minutes=2))
    assert sweep_due_posts() == 1  # planless for a while: re-enqueued
    bridge.mm.start()
    bridge.reconcile(rid)
    assert len(bridge.mm.posts()) == 1


def test_reply_waits_for_its_root(bridge):
    rid = bridge.create()
    bridge.mm.fail_next(1, status=503)
    bridge.teleport.review(rid, "carol", "DENIED", auto_resolve=False)
    bridge.pull(rid)
    bridge.reconcile(rid)
    reply = Post.objects.get(request_id=rid, kind="reply")
    assert reply.status == "pending" and bridge.mm.posts() == []
    make_due(rid)
    bridge.reconcile(rid)
    [root_post] = bridge.mm.root_posts()
    assert len(bridge.mm.replies(root_post["id"])) == 1


def test_an_edit_no_reconcile_made_is_swept(bridge):
    """A root whose wanted text changed after it was sent (a worker died between the
    store and the edit) is work too: the sweeper must find it, not only new posts."""
    rid = bridge.create()
    bridge.reconcile(rid)
    Post.objects.filter(request_id=rid).update(
        text_wanted="edited", updated_at=timezone.now() - timedelta(minutes=1)
    )
    assert sweep_due_posts() == 1


def test_the_sweep_stands_aside_while_the_workers_are_behind(bridge):
    """A long queue (a catch-up) already holds what is due: re-queueing it every sweep
    multiplied the backlog. At start-up the sweep still runs (the queue's locked rows may
    belong to a killed predecessor)."""
    from django_q.conf import Conf
    from django_q.models import OrmQ

    from notifications.tasks import SWEEP_BACKLOG_LIMIT

    rid = bridge.create()
    bridge.reconcile(rid)
    Post.objects.filter(request_id=rid).update(
        text_wanted="edited", updated_at=timezone.now() - timedelta(minutes=1)
    )
    OrmQ.objects.bulk_create(
        OrmQ(key=Conf.CLUSTER_NAME, payload="waiting", lock=timezone.now())
        for _ in range(SWEEP_BACKLOG_LIMIT + 1)
    )
    assert sweep_due_posts() == 0
    assert sweep_due_posts(at_start=True) == 1
    OrmQ.objects.all().delete()
    assert sweep_due_posts() == 1


@pytest.mark.parametrize("grace", [timedelta(0), timedelta(seconds=10)])
def test_is_due_and_the_due_query_are_the_same_rule(bridge, settings, grace):
    settings.NOTIFY_SENDING_LEASE_SECONDS = 60
    rid = bridge.create()
    bridge.reconcile(rid)
    template = root(rid)
    now = timezone.now()
    ago = [timedelta(0), timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=5)]
    for n, (status, age, later, same_text) in enumerate(
        (s, a, later, same)
        for s in Post.Status.values
        for a in ago
        for later in (None, now - timedelta(seconds=1), now + timedelta(minutes=1))
        for same in (True, False)
    ):
        post = Post.objects.create(
            request_id=rid,
            kind=Post.Kind.TEST,
            channel_id=f"c{n}",
            key=f"due-{n}",
            status=status,
            next_attempt_at=later,
            text_wanted="a",
            text_sent="a" if same_text else "b",
        )
        Post.objects.filter(pk=post.pk).update(created_at=now - age, updated_at=now - age)
    posts = Post.objects.exclude(pk=template.pk)
    by_python = {p.pk for p in posts if p.is_due(now, grace=grace)}
    by_sql = set(posts.due(now, grace=grace).values_list("pk", flat=True))
    assert by_python == by_sql
    assert 0 < len(by_sql) < posts.count()


def test_retry_now_after_a_lost_response_adopts_instead_of_posting_twice(bridge):
    """Review finding: "retry now" reset attempts to 0, which turned off the search by key
    for a post that may already be in Mattermost; past the 30 s de-duplication window it
    was posted a second time."""
    rid = bridge.create()
    bridge.mm.drop_response_next(1)
    bridge.reconcile(rid)
    assert root(rid).status == "retrying" and len(bridge.mm.posts()) == 1
    bridge.mm.advance_clock(120)  # past Mattermost's pending_post_id window
    retry_posts([root(rid).pk])
    bridge.reconcile(rid)
    assert root(rid).status == "sent"
    assert len(bridge.mm.posts()) == 1


def test_retry_now_leaves_a_live_claim_alone(bridge):
    rid = bridge.create()
    bridge.reconcile(rid)
    Post.objects.filter(request_id=rid).update(status="sending", updated_at=timezone.now())
    assert retry_posts([root(rid).pk]) == 0
    assert root(rid).status == "sending"


def test_a_stale_finisher_cannot_overwrite_the_worker_that_took_over(bridge, settings):
    """Review finding: finishing only checked status=SENDING, and a takeover of an expired
    claim is SENDING too, so the stale worker's result overwrote the new one's."""
    settings.NOTIFY_SENDING_LEASE_SECONDS = 30
    rid = bridge.create()
    bridge.reconcile(rid)
    Post.objects.filter(request_id=rid).update(status="pending", mattermost_id="")
    stale = root(rid)
    assert stale.claim()
    taker = root(rid)
    Post.objects.filter(pk=taker.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    taker.refresh_from_db()
    assert taker.claim()  # the lease ran out: another worker takes the post over
    assert taker.mark_sent("new", mattermost_id="taken-over")
    assert not stale.mark_sent("old", mattermost_id="stale")
    assert not stale.retry_at(timezone.now(), "late")
    assert root(rid).mattermost_id == "taken-over" and root(rid).status == "sent"


def test_a_reply_under_a_failed_root_is_not_due(bridge):
    """Review finding: a reply whose root failed for good stayed due, so the sweeper
    queued its request's reconcile every few seconds, forever."""
    rid = bridge.create()
    bridge.mm.fail_next(1, status=403)
    bridge.reconcile(rid)
    assert root(rid).status == "failed"
    bridge.teleport.review(rid, "carol", "DENIED", auto_resolve=False)
    bridge.pull(rid)
    bridge.reconcile(rid)
    reply = Post.objects.select_related("root").get(request_id=rid, kind="reply")
    now = timezone.now() + timedelta(minutes=5)
    assert not reply.is_due(now)
    assert not Post.objects.due(now).filter(pk=reply.pk).exists()
    assert sweep_due_posts() == 0


def test_long_author_names_get_distinct_reply_keys(bridge):
    """Review finding: reply keys were cut to 128 characters, so two reviewers whose long
    names share a prefix made one key and every reconcile of the request failed."""
    rid = bridge.create()
    prefix = "svc-" + "x" * 80
    bridge.teleport.review(rid, prefix + "-a", "APPROVED", auto_resolve=False)
    bridge.teleport.review(rid, prefix + "-b", "APPROVED", auto_resolve=False)
    bridge.pull(rid)
    bridge.reconcile(rid)
    replies = Post.objects.filter(request_id=rid, kind="reply")
    assert replies.count() == 2 and len({r.key for r in replies}) == 2
    assert all(len(r.key) <= 128 for r in replies)
    assert {r.status for r in replies} == {"sent"}


def test_a_429_gives_back_the_claims_of_the_posts_it_stopped(bridge):
    """The request's roots are claimed together; a 429 on the first stops the pass, and
    the others go back to waiting with their attempt not counted (so the next pass posts
    them without a search first) and the same retry time."""
    bridge.configure(recipients=["eng/access-requests", "eng/town-square", "alice@example.com"])
    rid = bridge.create()
    bridge.mm.rate_limit_next(1, retry_after=7, path_prefix="/api/v4/posts")
    bridge.reconcile(rid)
    posts = list(Post.objects.filter(request_id=rid).order_by("pk"))
    assert [p.status for p in posts] == ["retrying"] * 3
    assert [p.attempts for p in posts] == [1, 0, 0]
    assert len({p.next_attempt_at for p in posts}) == 1
    make_due(rid)
    bridge.reconcile(rid)
    assert [p.status for p in Post.objects.filter(request_id=rid)] == ["sent"] * 3
    assert len(bridge.mm.posts()) == 3
