"""A post's claim: taking it, settling it, and releasing the claims of processes that are gone.

Taking and settling come in batches: a request's posts are claimed with one UPDATE
(`claim_all`) and their results collected (`deferred_finishes`) and written with one
executemany in one transaction when the pass ends (notifications.delivery.batched_results),
instead of two statements per post. Each row keeps its own guard, exactly as one by one.

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

import contextvars
import logging
import socket
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, cast

from django.db import connection
from django.db.models import Field
from django.utils import timezone

from common.collecting import collecting
from common.process_identity import claim_stamp, identity, start_time
from notifications.models import Post

log = logging.getLogger(__name__)


def claim_all(posts: list[Post]) -> list[Post]:
    """Claim the posts for this process with one UPDATE; returns those now ours, in order.

    Each post is committed as SENDING before its HTTP call (a crash leaves evidence).
    Optimistic lock per row on the updated_at we read: a row anyone touched since (another
    worker claimed or finished it) is not taken. When fewer rows matched than asked, ours
    are told from the others by (owner, stamp): the owner is this process and the stamp
    is unique within it (claim_stamp), so a concurrent claimant's rows never look ours.
    """
    if not posts:
        return []
    stamp = claim_stamp()
    owner = identity()
    taken = _claim_rows(posts, stamp, owner)
    if taken == len(posts):
        mine = posts
    else:
        ours = set(
            Post.objects.filter(
                pk__in=[p.pk for p in posts],
                status=Post.Status.SENDING,
                updated_at=stamp,
                claimed_by=owner,
            ).values_list("pk", flat=True)
        )
        mine = [p for p in posts if p.pk in ours]
    for post in mine:
        post.claimed_by = owner
        post.attempts += 1
        post.updated_at = stamp
        post.status = Post.Status.SENDING
    return mine


def _quoted(*fields: str) -> list[str]:
    """Post's table, its primary key, then the given fields' columns, quoted for SQL: the
    only names the plain-SQL statements here format in (every value is a parameter)."""
    meta = Post._meta
    columns = [cast(Field, meta.get_field(name)).column for name in fields]
    return [connection.ops.quote_name(n) for n in (meta.db_table, meta.pk.column, *columns)]


def _claim_rows(posts: list[Post], stamp: datetime, owner: str) -> int:
    """The claim's UPDATE, guarded per row by (pk, the updated_at we read); rows taken.

    Plain SQL, as write_finishes and for the same reason: the ORM spent longer compiling
    this OR of per-row guards than the database spent running it (5-7% of a worker's CPU
    in a burst), and it runs once per delivery pass.
    """
    at = cast(Field, Post._meta.get_field("updated_at"))
    table, pk, status, attempts, stamp_col, claimed_by = _quoted(
        "status", "attempts", "updated_at", "claimed_by"
    )
    guard = " OR ".join([f"({pk} = %s AND {stamp_col} = %s)"] * len(posts))
    # Only the model's own quoted names are formatted in; every value is a parameter.
    sql = (
        f"UPDATE {table} SET {status} = %s, {attempts} = {attempts} + 1, "  # noqa: S608
        f"{stamp_col} = %s, {claimed_by} = %s WHERE {guard}"
    )
    params: list[Any] = [Post.Status.SENDING.value, at.get_db_prep_value(stamp, connection), owner]
    for post in posts:
        params += [post.pk, at.get_db_prep_value(post.updated_at, connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


# While set (deferred_finishes()), this thread's finished claims wait here and are written
# with one UPDATE when the block ends.
_finishes: contextvars.ContextVar[list[tuple[Post, datetime, dict[str, Any]]] | None] = (
    contextvars.ContextVar("claim_finishes", default=None)
)


def finish(post: Post, fields: dict[str, Any]) -> bool:
    """Settle our claim of `post` with `fields` (Post._finish): now, or at the batch's end.

    Only from our own claim: SENDING *and* the updated_at our claim wrote. A claim that
    expired was taken over by another worker (a new updated_at, still SENDING), and a
    stale finisher must not overwrite that worker's result. Deferred, the answer is
    optimistic (True); the batch logs what it could not write.
    """
    claimed_at = post.updated_at
    fields["updated_at"] = timezone.now()
    batch = _finishes.get()
    if batch is not None:
        batch.append((post, claimed_at, dict(fields)))
        done = True
    else:
        done = write_finishes([(post, claimed_at, fields)]) == 1
    for name, value in fields.items():
        setattr(post, name, value)
    return done


Finish = tuple[Post, datetime, dict[str, Any]]


def deferred_finishes() -> AbstractContextManager[list[Finish] | None]:
    """Collect the claims settled inside the block instead of writing them; yields the list
    to write (write_finishes) when the block ends, or None inside an outer block, which
    then owns them. notifications.delivery.batched_results writes them, in one
    transaction.

    A crash inside the block leaves those posts SENDING, as a crash during their HTTP call
    would: the restart releases the claim and the key search adopts what was posted, so
    deferring the write moves no exactly-once guarantee.
    """
    return collecting(_finishes)


def write_finishes(items: list[tuple[Post, datetime, dict[str, Any]]]) -> int:
    """One statement per set of columns (one in practice: a pass's posts are all sent), run
    for every row at once with executemany; returns the rows written.

    Plain SQL on purpose: the ORM spent longer building a CASE-per-column UPDATE (or one
    UPDATE per post) than the database spent running it, and this runs for every post.
    """
    groups: dict[tuple[str, ...], list[tuple[Post, datetime, dict[str, Any]]]] = {}
    for item in items:
        groups.setdefault(tuple(sorted(item[2])), []).append(item)
    meta = Post._meta
    guard_at = cast(Field, meta.get_field("updated_at"))
    written = 0
    with connection.cursor() as cursor:
        for names, rows in groups.items():
            fields = [cast(Field, meta.get_field(name)) for name in names]
            table, pk, status, stamp, *columns = _quoted("status", "updated_at", *names)
            assignments = ", ".join(f"{column} = %s" for column in columns)
            # Only the model's own quoted names are formatted in; every value is a parameter.
            where = f"{pk} = %s AND {status} = %s AND {stamp} = %s"
            sql = f"UPDATE {table} SET {assignments} WHERE {where}"  # noqa: S608
            # Guarded by the claim: SENDING and the stamp our claim wrote (see finish()).
            params = [
                [f.get_db_prep_save(values[f.name], connection) for f in fields]
                + [
                    post.pk,
                    Post.Status.SENDING.value,
                    guard_at.get_db_prep_value(claimed_at, connection),
                ]
                for post, claimed_at, values in rows
            ]
            if len(params) == 1:
                cursor.execute(sql, params[0])
            else:
                cursor.executemany(sql, params)
            written += max(cursor.rowcount, 0)
    if written < len(items):
        # Expected only when a claim outlived its lease and another worker took it over.
        log.warning(
            "%d of %d delivery result(s) not recorded: another worker took over the post",
            len(items) - written,
            len(items),
        )
    return written


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
