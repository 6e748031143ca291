"""Fault injection for the simulator: failures, rate limits, latency, dropped responses.

Tests arm a fault, run the code under test against the real HTTP server and assert on the
outcome. Every counter sits behind ``Faults.lock`` because request threads consume them
concurrently: each armed fault fires exactly ``n`` times.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class _Rule:
    remaining: int
    method: str  # "" matches any method
    path_prefix: str
    status: int = 0
    retry_after: float = 0
    message: str = ""  # the JSON error's message ("" = "Injected failure.")

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and (not self.method or self.method == method)
            and path.startswith(self.path_prefix)
        )


@dataclass
class Faults:
    # Guards the rule lists and latency; held only to read or consume a rule.
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures: list[_Rule] = field(default_factory=list)
    rate_limits: list[_Rule] = field(default_factory=list)
    drops: list[_Rule] = field(default_factory=list)
    latency: float = 0.0
    # Set = posts flow; cleared by pause_posts() to hold POST /posts after the dedup check.
    posts_open: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.posts_open.set()

    def reset(self) -> None:
        with self.lock:
            self.failures.clear()
            self.rate_limits.clear()
            self.drops.clear()
            self.latency = 0.0
        self.posts_open.set()

    def add(self, kind: str, rule: _Rule) -> None:
        with self.lock:
            getattr(self, kind).append(rule)

    def take(self, kind: str, method: str, path: str) -> _Rule | None:
        """Consume one shot of the first matching rule of ``kind``, if any."""
        with self.lock:
            for rule in getattr(self, kind):
                if rule.matches(method, path):
                    rule.remaining -= 1
                    return rule
        return None


def rule(
    n: int,
    *,
    method: str = "",
    path_prefix: str = "",
    status: int = 0,
    retry_after: float = 0,
    message: str = "",
) -> _Rule:
    return _Rule(
        remaining=n,
        method=method.upper(),
        path_prefix=path_prefix,
        status=status,
        retry_after=retry_after,
        message=message,
    )
