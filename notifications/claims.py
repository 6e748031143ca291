"""Who holds a SENDING claim, and releasing the claims of processes that are gone.

A post is committed as SENDING before its HTTP call (notifications.delivery), so a crash
leaves the post claimed. Waiting out the claim's lease (NOTIFY_SENDING_LEASE_SECONDS,
60 s: it must outlast a slow Mattermost) made a restart after a SIGKILL deliver those
posts a minute late. Each claim therefore names its owner, `host:pid:start`, where
`start` is the process's start time from /proc (so a pid reused after a restart, as in a
container's fresh pid namespace, is not mistaken for the old owner). A claim whose owner
ran on this host and no longer exists is released at once: the post goes back to
RETRYING with its attempt counted, so the next delivery first searches Mattermost for its
key and adopts what an interrupted attempt created (no duplicate), else sends it.

Claims made on other machines (scale-out qcluster processes) cannot be checked from
here; they keep the lease.
"""

from __future__ import annotations

import logging
import socket

from django.utils import timezone

from common.process_identity import start_time
from notifications.models import Post

log = logging.getLogger(__name__)


def _owner_gone(owner: str, host: str) -> bool:
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit() or parts[2] == "?":
        return False  # another machine's, or one we cannot check: the lease decides
    return start_time(int(parts[1])) != parts[2]


def release_dead_claims() -> set[str]:
    """Release the SENDING claims of this host's dead processes; returns their requests."""
    host = socket.gethostname()
    candidates = Post.objects.filter(status=Post.Status.SENDING, claimed_by__startswith=f"{host}:")
    released: set[str] = set()
    now = timezone.now()
    for pk, owner, updated_at, request_id in candidates.values_list(
        "pk", "claimed_by", "updated_at", "request_id"
    ):
        if not _owner_gone(owner, host):
            continue
        # Guarded by the claim we read: a concurrent release (another sweeper) or a
        # takeover after the lease makes this match nothing. attempts stays counted, so
        # delivery searches for the key before sending again (notifications.delivery).
        done = Post.objects.filter(
            pk=pk, status=Post.Status.SENDING, updated_at=updated_at, claimed_by=owner
        ).update(
            status=Post.Status.RETRYING,
            next_attempt_at=now,
            updated_at=now,
            claimed_by="",
            last_error="the worker holding this post stopped mid-delivery",
        )
        if done and request_id:
            released.add(request_id)
    if released:
        log.warning(
            "Released %d request(s) whose posts were in flight in a process that stopped",
            len(released),
        )
    return released
