"""The simulator's rate limiter follows Mattermost's (mattermost-api.md §5): GCRA per token,
L = MaxBurst + 1 at once, then PerSec; headers on every passing response and the 429."""

from __future__ import annotations

import requests

from simulators.mattermost.ratelimit import GcraLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate_with_mattermost_headers():
    clock = Clock()
    limiter = GcraLimiter(per_sec=10, max_burst=20, clock=clock)
    decisions = [limiter.check("token-a") for _ in range(22)]
    assert [d.allowed for d in decisions] == [True] * 21 + [False]
    first, last_ok, refused = decisions[0], decisions[20], decisions[21]
    assert first.headers == {
        "X-RateLimit-Limit": "21",
        "X-RateLimit-Remaining": "20",
        "X-RateLimit-Reset": "1",  # 0.1 s until full, rounded up
    }
    assert last_ok.headers["X-RateLimit-Remaining"] == "0"
    assert last_ok.headers["X-RateLimit-Reset"] == "3"  # 2.1 s
    assert refused.headers["Retry-After"] == "1"  # 0.1 s, rounded up
    assert "Retry-After" not in last_ok.headers
    assert limiter.check("token-b").allowed  # another token, another budget
    clock.now += 0.1  # one interval later: exactly one more fits
    assert limiter.check("token-a").allowed
    assert not limiter.check("token-a").allowed


def test_the_server_refuses_with_the_plain_text_429(mattermost):
    mattermost.set_rate_limit(per_sec=1, max_burst=0)
    url = mattermost.url + "/api/v4/users/me"
    auth = {"Authorization": f"Bearer {mattermost.bot_token}"}
    try:
        ok = requests.get(url, headers=auth, timeout=10)
        refused = requests.get(url, headers=auth, timeout=10)
    finally:
        mattermost.set_rate_limit(None)
    assert ok.status_code == 200 and ok.headers["X-RateLimit-Limit"] == "1"
    assert refused.status_code == 429 and refused.text == "limit exceeded\n"
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["Content-Type"] == "text/plain; charset=utf-8"
