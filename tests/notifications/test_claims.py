"""Releasing SENDING claims: only those of this host's processes that are gone."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys

import pytest
from django.utils import timezone

from common.process_identity import claim_stamp, identity, start_time
from notifications.claims import claim_all, release_dead_claims
from notifications.delivery import batched_results
from notifications.models import Post
from tests.factories import make_request

pytestmark = pytest.mark.django_db


def _pending(request, n: int, **fields) -> Post:
    return Post.objects.create(
        request=request,
        kind=Post.Kind.ROOT,
        recipient="eng/x",
        channel_id=f"ch{n}",
        key=f"{request.pk}:ch{n}:root",
        **fields,
    )


def _sending(request, n: int, owner: str) -> Post:
    return _pending(request, n, status=Post.Status.SENDING, attempts=1, claimed_by=owner)


def _dead_identity() -> str:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    started = start_time(child.pid)
    child.communicate(b"")
    return f"{socket.gethostname()}:{child.pid}:{started}"


def test_only_dead_local_owners_lose_their_claims():
    request = make_request()
    dead = _sending(request, 1, _dead_identity())
    alive = _sending(request, 2, identity())
    elsewhere = _sending(request, 3, f"another-host:{os.getpid()}:1")
    reused = _sending(request, 4, f"{socket.gethostname()}:{os.getpid()}:1")  # pid reused

    assert release_dead_claims() == {request.pk}

    statuses = {p.pk: p.status for p in Post.objects.all()}
    assert statuses[dead.pk] == statuses[reused.pk] == Post.Status.RETRYING
    assert statuses[alive.pk] == statuses[elsewhere.pk] == Post.Status.SENDING
    # The attempt stays counted: delivery searches for the key before sending again.
    assert Post.objects.get(pk=dead.pk).attempts == 1
    assert release_dead_claims() == set()


def test_claim_all_takes_only_the_rows_nobody_touched_since_they_were_read():
    request = make_request()
    posts = [_pending(request, n) for n in range(3)]
    # Another worker claims the middle one after we read it.
    assert Post.objects.get(pk=posts[1].pk).claim()

    mine = claim_all(posts)

    assert [p.pk for p in mine] == [posts[0].pk, posts[2].pk]
    for post in mine:
        post.refresh_from_db()
        assert (post.status, post.attempts, post.claimed_by) == ("sending", 1, identity())
    assert Post.objects.get(pk=posts[1].pk).attempts == 1  # counted once, by its owner


def test_a_second_claim_of_the_same_rows_by_this_process_is_not_mistaken_for_its_own():
    """Ours are told apart by (owner, stamp): the owner is the same for every claim this
    process makes, so the stamp must differ even when the two claims are moments apart."""
    request = make_request()
    first_read = [_pending(request, n) for n in range(2)]
    second_read = [Post.objects.get(pk=p.pk) for p in first_read]
    assert len(claim_all(first_read)) == 2
    assert claim_all(second_read) == []


def test_claim_stamps_of_one_process_never_repeat():
    stamps = [claim_stamp() for _ in range(2000)]
    assert all(a < b for a, b in itertools.pairwise(stamps))


def test_batched_results_are_written_per_row_and_never_over_a_takeover():
    request = make_request()
    posts = claim_all([_pending(request, n) for n in range(3)])
    with batched_results():
        posts[0].mark_sent("text 0", mattermost_id="mm-0")
        posts[1].mark_sent("text 1", mattermost_id="mm-1")
        posts[2].retry_at(timezone.now(), "Mattermost said 503")
        # Meanwhile the second post's claim is taken over (its lease ran out).
        Post.objects.filter(pk=posts[1].pk).update(updated_at=timezone.now(), claimed_by="x")
        assert Post.objects.get(pk=posts[0].pk).status == "sending"  # not written yet

    rows = {p.pk: p for p in Post.objects.filter(request=request)}
    first, second, third = (rows[p.pk] for p in posts)
    assert (first.status, first.mattermost_id, first.text_sent) == ("sent", "mm-0", "text 0")
    assert (second.status, second.mattermost_id, second.claimed_by) == ("sending", "", "x")
    assert (third.status, third.last_error, third.retries) == (
        "retrying",
        "Mattermost said 503",
        1,
    )
    assert third.text_sent == "" and first.last_error == ""
