"""Pace every process's Mattermost calls to the server's rate limit, together.

Mattermost's limit is per token (GCRA, mattermost-api.md §5) and every worker, process and
machine posting with the bot's token spends the same budget. Per-post backoff alone made
each worker find the limit by hitting it: with 10/s burst 20, a 50 × 2 burst drew ~130
refusals and used a third of the allowed rate. So the pacing state lives in the database
they share (`RateLimitState`, one row per token) and mirrors the server's GCRA:

- **Learning** (after each response): `X-RateLimit-Limit` is L = MaxBurst + 1; with
  Remaining r and Reset h (seconds until the bucket is full, rounded up) the server's
  emission interval I satisfies (h-1)/(L-r) < I < h/(L-r-1). The bounds only ever
  tighten; pacing uses the upper one, so it is never faster than the server.
- **Reserving** (before each call, while the budget is under pressure): one atomic
  UPDATE ... RETURNING moves the shared next-slot time `tat` by I; the caller sleeps until
  its slot fits in the burst tolerance. Under no pressure (the last Remaining seen above
  half of L, nothing blocked) no statement is spent: the server has room, and the first
  response that shows pressure pulls `tat` up to the server's.
- **Retry-After** (a 429): `blocked_until` is set for everyone, not just the refused post.

Failures of this bookkeeping (the database busy) never fail a delivery: the call goes
out unpaced, and the server's 429 still protects it (notifications.delivery retries).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Greatest

from notifications.models import RateLimitState

log = logging.getLogger(__name__)

#: How long a process trusts its copy of the shared row when it reads without reserving.
CACHE_SECONDS = 1.0
#: Longest single wait before a call (a longer Retry-After is waited in several calls).
MAX_WAIT_SECONDS = 30.0
#: Slots of the burst we leave unused: calls in flight, clocks a few ms apart.
SAFETY_SLOTS = 1


# Standard SQL quoting, the same on PostgreSQL and SQLite (>= 3.35 for RETURNING).
_RESERVE_SQL = (
    'UPDATE "notifications_ratelimitstate" SET "tat" = '
    '(CASE WHEN "tat" > %s THEN "tat" ELSE %s END) + "interval_hi" '
    'WHERE "key" = %s RETURNING "tat", "interval_hi", "burst_limit", "blocked_until"'
)


def token_key(url: str, token: str) -> str:
    return hashlib.sha256(f"{url}\0{token}".encode()).hexdigest()


@dataclass(frozen=True)
class _Seen:
    limit: int
    remaining: int
    reset: int


def _headers(headers: Mapping[str, str]) -> _Seen | None:
    try:
        seen = _Seen(
            int(headers["X-RateLimit-Limit"]),
            int(headers["X-RateLimit-Remaining"]),
            int(headers["X-RateLimit-Reset"]),
        )
    except (KeyError, ValueError, TypeError):
        return None
    if seen.limit <= 0 or not 0 <= seen.remaining <= seen.limit or seen.reset < 0:
        return None
    return seen


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        value = float(headers.get("Retry-After", ""))
    except ValueError:
        return None
    return value if 0 <= value < 3600 else None


class SharedPacer:
    """One per Mattermost client (per process). Thread-safe: worker threads share it."""

    def __init__(self, key: str, *, sleep=time.sleep, clock=time.time) -> None:
        self.key = key
        self.sleep = sleep
        self.clock = clock
        self._lock = threading.Lock()  # guards the fields below
        self._row: RateLimitState | None = None
        self._row_at = 0.0
        self._last_remaining: int | None = None
        self._last_tat = 0.0

    # -- before a call ------------------------------------------------------------------
    def before(self) -> None:
        try:
            wait = self._wait_needed()
        except Exception as exc:  # the database is busy or gone: send unpaced
            log.warning("Rate-limit pacing skipped: %s", exc)
            return
        if wait > 0:
            self.sleep(min(wait, MAX_WAIT_SECONDS))

    def _wait_needed(self) -> float:
        row = self._cached_row()
        now = self.clock()
        wait = row.blocked_until - now
        if row.interval_hi <= 0 or not self._pressed(row) or connection.in_atomic_block:
            # Inside someone's transaction the reserving UPDATE would hold the row (and,
            # on SQLite, the database) until that commits: the cached view must do.
            return wait
        tat, interval, limit, blocked = self._reserve(now)
        with self._lock:
            self._last_tat = tat
        tolerance = interval * max(1, limit - SAFETY_SLOTS)
        return max(wait, blocked - now, tat - tolerance - now)

    def _pressed(self, row: RateLimitState) -> bool:
        with self._lock:
            remaining = self._last_remaining
        if remaining is None or row.burst_limit <= 0:
            return False
        return remaining * 2 < row.burst_limit

    def _reserve(self, now: float) -> tuple[float, float, int, float]:
        # One statement, atomic on both databases (no read-modify-write race between
        # workers): the next free slot moves by one interval from max(tat, now).
        with connection.cursor() as cursor:
            cursor.execute(_RESERVE_SQL, [now, now, self.key])
            found = cursor.fetchone()
        if found is None:
            return now, 0.0, 0, 0.0
        return float(found[0]), float(found[1]), int(found[2]), float(found[3])

    def _cached_row(self) -> RateLimitState:
        now = self.clock()
        with self._lock:
            row, fresh = self._row, now - self._row_at < CACHE_SECONDS
        if row is not None and fresh:
            return row
        row = RateLimitState.objects.filter(pk=self.key).first()
        if row is None:
            # Two processes may get here at once: the second insert is ignored.
            RateLimitState.objects.bulk_create(
                [RateLimitState(key=self.key)], ignore_conflicts=True
            )
            row = RateLimitState(key=self.key)
        with self._lock:
            self._row, self._row_at = row, now
        return row

    # -- after a call -------------------------------------------------------------------
    def after(self, status: int, headers: Mapping[str, str]) -> None:
        try:
            self._learn(status, headers)
        except Exception as exc:
            log.warning("Rate-limit headers not recorded: %s", exc)

    def _learn(self, status: int, headers: Mapping[str, str]) -> None:
        seen = _headers(headers)
        if seen is None:
            return
        now = self.clock()
        changes: dict[str, object] = {}
        if status == 429:
            with self._lock:
                self._last_remaining = 0
            retry_after = _retry_after(headers)
            if retry_after is not None:
                # Honoured by every process; a later, shorter answer never shortens it.
                changes["blocked_until"] = Greatest(F("blocked_until"), Value(now + retry_after))
            changes["burst_limit"] = Value(seen.limit)
        else:
            with self._lock:
                self._last_remaining = seen.remaining
            changes.update(self._bounds(seen))
            row = self._cached_row()
            hi = row.interval_hi
            if hi > 0 and seen.remaining * 2 < seen.limit:
                # Under pressure: our next slot must not be before the server's (another
                # client of the token, or calls sent unreserved while there was room).
                used = seen.limit - seen.remaining
                server_tat = now + min(float(seen.reset), used * hi)
                with self._lock:
                    behind = server_tat > self._last_tat + hi
                if behind:
                    changes["tat"] = Greatest(F("tat"), Value(server_tat))
                    with self._lock:
                        self._last_tat = server_tat
        if changes:
            RateLimitState.objects.filter(pk=self.key).update(**changes)
            with self._lock:
                self._row_at = 0.0  # re-read next time

    def _bounds(self, seen: _Seen) -> dict[str, object]:
        """The interval bounds this answer proves, where they beat what the row has."""
        row = self._cached_row()
        used = seen.limit - seen.remaining
        out: dict[str, object] = {}
        if row.burst_limit != seen.limit:
            out["burst_limit"] = Value(seen.limit)
        if used >= 1 and seen.reset >= 1:
            lo = (seen.reset - 1) / used
            if lo > row.interval_lo * 1.001:
                out["interval_lo"] = Greatest(F("interval_lo"), Value(lo))
        if used >= 2 and seen.reset >= 1:
            hi = seen.reset / (used - 1)
            if row.interval_hi <= 0 or hi < row.interval_hi * 0.999:
                out["interval_hi"] = Case(
                    When(Q(interval_hi__lte=0) | Q(interval_hi__gt=hi), then=Value(hi)),
                    default=F("interval_hi"),
                )
        return out
