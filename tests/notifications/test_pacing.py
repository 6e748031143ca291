"""Shared pacing against Mattermost's limiter (the simulator's GCRA), on a clock the test
drives: two pacers stand for two processes sharing the database row."""

from __future__ import annotations

import pytest

from notifications.models import RateLimitState
from notifications.pacing import SharedPacer, token_key
from simulators.mattermost.ratelimit import GcraLimiter

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(pacers, limiter, clock, calls: int) -> tuple[int, float]:
    """`calls` calls round-robin over the pacers; (refusals, seconds taken)."""
    refused, started = 0, clock.now
    for i in range(calls):
        pacer = pacers[i % len(pacers)]
        pacer.before()
        decision = limiter.check("bot-token")
        status = 200 if decision.allowed else 429
        refused += not decision.allowed
        pacer.after(status, decision.headers)
        clock.now += 0.001  # the call itself
    return refused, clock.now - started


def test_two_processes_share_one_budget_and_use_most_of_it():
    clock = Clock()
    limiter = GcraLimiter(per_sec=10, max_burst=20, clock=clock)
    key = token_key("http://mm", "tok")
    pacers = [SharedPacer(key, sleep=clock.sleep, clock=clock) for _ in range(2)]
    refused, took = run(pacers, limiter, clock, calls=120)
    # Allowed in `took` seconds: the burst (L = 21) plus 10/s.
    allowed = 21 + 10 * took
    print(f"refused {refused}, {120 / allowed:.0%} of the allowed rate")
    assert refused <= 5, refused
    assert 120 / allowed >= 0.9, f"{120 / allowed:.0%} of the allowed rate"
    row = RateLimitState.objects.get(pk=key)
    assert row.burst_limit == 21
    assert 0.1 <= row.interval_hi < 0.12  # learnt from the headers, never below 1/PerSec
    assert row.interval_lo <= 0.1


def test_retry_after_holds_every_process():
    clock = Clock()
    key = token_key("http://mm", "tok")
    first, second = (SharedPacer(key, sleep=clock.sleep, clock=clock) for _ in range(2))
    first.before()  # creates the row
    first.after(
        429,
        {
            "Retry-After": "7",
            "X-RateLimit-Limit": "101",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "7",
        },
    )
    started = clock.now
    second._row_at = -1e9  # its cached copy is old: it reads the row
    second.before()
    assert clock.now - started == pytest.approx(7, abs=0.01)


def test_no_statement_while_the_server_has_room(django_assert_num_queries):
    clock = Clock()
    pacer = SharedPacer(token_key("http://mm", "tok"), sleep=clock.sleep, clock=clock)
    pacer.before()
    headers = {"X-RateLimit-Limit": "101", "X-RateLimit-Remaining": "99", "X-RateLimit-Reset": "1"}
    pacer.after(200, headers)  # learns the limit (one write)
    pacer.before()  # reads the row back, then trusts its copy for CACHE_SECONDS
    with django_assert_num_queries(0):
        for _ in range(5):
            pacer.before()
            pacer.after(200, headers)
