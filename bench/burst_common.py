"""Shared by the notify_burst modules: paths, simulator constants, polling, percentiles."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The entry script: the floor runs as ``notify_burst.py _floor <spec> <out>`` in a child process.
ENTRY = Path(__file__).with_name("notify_burst.py")
TOKEN = "sim-bot-token"  # noqa: S105 - the simulator's fixture token, not a secret
PROPS_KEY = "teleport_bridge_key"  # notifications.delivery.PROPS_KEY
HANDLES = ["eng/access-requests", "eng/town-square", "alice@example.com", "eng/ops", "bob@x.io"]


def poll(condition, timeout: float, interval: float = 0.05, what: str = ""):
    """Call ``condition`` until truthy or ``timeout`` seconds pass (then return the last)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            if not value and what:
                print(f"  ! timed out after {timeout:.0f}s waiting for {what}", file=sys.stderr)
            return value
        time.sleep(interval)  # polling interval, not a wait for an outcome


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {pct(values, 50):.0f}  p95 {pct(values, 95):.0f}  p99 {pct(values, 99):.0f}  "
        f"max {max(values):.0f}"
    )
