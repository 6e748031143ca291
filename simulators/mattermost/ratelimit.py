"""Mattermost's rate limiter, as its server runs it (reference: mattermost-api.md §5).

Mattermost uses a GCRA limiter (the `throttled` library) with `PerSec` and `MaxBurst`:
emission interval I = 1/PerSec, limit L = MaxBurst + 1, tolerance = I * L. A request at
`now` moves the key's theoretical arrival time to max(tat, now) + I and is refused when
that lands more than the tolerance ahead of now. Headers, on every response that passed
the limiter and on the 429 itself:

- `X-RateLimit-Limit`: L;
- `X-RateLimit-Remaining`: whole requests left, int((tolerance - ttl) / I);
- `X-RateLimit-Reset`: ttl (time until the bucket is full again) in seconds, rounded up;
- `Retry-After` (429 only): seconds until one request fits, rounded up.

Keyed by the caller's token (`VaryByUser`), so every process posting with one bot token
shares one budget, as in production.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    headers: dict[str, str]


class GcraLimiter:
    """Times in integer nanoseconds, as Go's time.Duration (floats drift off the edge)."""

    def __init__(self, per_sec: float, max_burst: int, clock=time.monotonic) -> None:
        self.interval = round(1e9 / per_sec)
        self.limit = max_burst + 1
        self.tolerance = self.interval * self.limit
        self.clock = clock
        self._tat: dict[str, int] = {}
        self._lock = threading.Lock()  # request threads share the table

    def check(self, key: str) -> Decision:
        with self._lock:
            now = round(self.clock() * 1e9)
            tat = max(self._tat.get(key, now), now)
            new_tat = tat + self.interval
            allow_at = new_tat - self.tolerance
            if now < allow_at:
                ttl = tat - now
                retry_after = allow_at - now
                allowed = False
            else:
                ttl = new_tat - now
                self._tat[key] = new_tat
                retry_after = 0
                allowed = True
        remaining = max(0, (self.tolerance - ttl) // self.interval)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(math.ceil(ttl / 1e9)),
        }
        if not allowed:
            headers["Retry-After"] = str(math.ceil(retry_after / 1e9))
        return Decision(allowed, headers)
