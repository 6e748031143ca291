"""Every HTTP call to Mattermost becomes a DeliveryAttempt row: the delivery history.

The Mattermost client is shared by all worker threads and knows nothing of posts or
requests; the caller says what a call is for with `recording(post_id=..., request_id=...)`
and the client's attempt hook (`record`) stores each call under those ids. A context
variable carries them, so each worker thread (and each asyncio task) has its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager

from common.collecting import collecting
from notifications.mattermost.client import Attempt
from notifications.models import DeliveryAttempt

log = logging.getLogger(__name__)


# (post id, request id) the calls of this thread are made for.
_current: contextvars.ContextVar[tuple[int | None, str]] = contextvars.ContextVar(
    "attempts_for", default=(None, "")
)


@contextlib.contextmanager
def recording(*, post_id: int | None, request_id: str) -> Iterator[None]:
    """Calls made inside the block are stored for this post and request ("" for none)."""
    token = _current.set((post_id, request_id))
    try:
        yield
    finally:
        _current.reset(token)


# While set (deferred()), this thread's attempts are collected here and stored with one
# INSERT when the block ends, instead of one INSERT per HTTP call.
_batch: contextvars.ContextVar[list[DeliveryAttempt] | None] = contextvars.ContextVar(
    "attempts_batch", default=None
)


def deferred() -> AbstractContextManager[list[DeliveryAttempt] | None]:
    """Collect the attempts made inside the block; yields the list to store() when the
    block ends, or None inside an outer block, which then owns them.

    Only the history waits, and a crash inside the block loses at most these rows:
    exactly-once rests on the posts' claims, never on this history.
    """
    return collecting(_batch)


def store(rows: list[DeliveryAttempt]) -> None:
    """Insert collected attempts with one INSERT; a failure is logged, never raised."""
    if not rows:
        return
    try:
        DeliveryAttempt.objects.bulk_create(rows)
    except Exception:
        log.exception("Could not record %d delivery attempt(s)", len(rows))


def record(attempt: Attempt) -> None:
    """The client's on_attempt hook: store one HTTP call; never breaks delivery."""
    post_id, request_id = _current.get()
    try:
        row = DeliveryAttempt(
            post_id=post_id,
            request_id=request_id,
            method=attempt.method,
            endpoint=attempt.path[:255],
            status_code=attempt.status_code,
            ok=attempt.ok,
            error_class=attempt.error_class or "",
            error=attempt.error[:2000],
            duration_ms=round(attempt.duration_ms),
            retry_after=attempt.retry_after,
        )
        rows = _batch.get()
        if rows is not None:
            rows.append(row)
        else:
            row.save(force_insert=True)
    except Exception:
        log.exception("Could not record a delivery attempt")
