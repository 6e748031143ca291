"""Releasing SENDING claims: only those of this host's processes that are gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from common.process_identity import identity, start_time
from notifications.claims import release_dead_claims
from notifications.models import Post
from tests.factories import make_request

pytestmark = pytest.mark.django_db


def _sending(request, n: int, owner: str) -> Post:
    return Post.objects.create(
        request=request,
        kind=Post.Kind.ROOT,
        recipient="eng/x",
        channel_id=f"ch{n}",
        key=f"{request.pk}:ch{n}:root",
        status=Post.Status.SENDING,
        attempts=1,
        claimed_by=owner,
    )


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
