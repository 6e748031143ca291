"""Exponential backoff with jitter, shared by the watcher and the delivery retries.

Jitter matters: after a Teleport or Mattermost outage every worker would otherwise
retry in lock-step and hit the recovering server at the same instant.
"""

from __future__ import annotations

import random


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Delay before retry number `attempt` (0-based): base·2^attempt capped, 50–100 % jitter."""
    ceiling = min(cap, base * (2 ** min(attempt, 32)))
    return ceiling * random.uniform(0.5, 1.0)


class Backoff:
    """Stateful helper for a retry loop: `next()` grows the delay, `reset()` after success."""

    def __init__(self, base: float = 0.5, cap: float = 15.0) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0

    def next(self) -> float:
        delay = backoff_delay(self.attempt, base=self.base, cap=self.cap)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
