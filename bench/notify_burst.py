#!/usr/bin/env python
"""Burst benchmark: N access requests x R recipients through the real pipeline.

    .venv/bin/python bench/notify_burst.py [--requests 1000] [--recipients 3] [--workers 4]
        [--database sqlite|postgres://user@host:port/db] [--latency-ms 0]

What runs where:
- this process: the Teleport simulator (gRPC, mTLS) and the Mattermost simulator (HTTP),
  both real servers on 127.0.0.1;
- a real ``manage.py runwatcher`` subprocess (watcher + ``--workers`` django-q2 workers)
  on a fresh database (a temporary SQLite file, or ``bench_<pid>`` created on the given
  PostgreSQL server and dropped afterwards);
- the floor: a separate process (this script in ``_floor`` mode) posting the very same
  messages with a bare ``requests.Session`` + ThreadPoolExecutor at the same concurrency
  to a fresh Mattermost simulator, with the same arrival times as the bridge's burst.

Root-post latency = the simulator's server-side ``create_at`` (ms) minus the time the
request was created in Teleport (for the floor: the time the post was handed to the pool).
Throughput = posts / (last post's create_at - first arrival). Nothing waits for an outcome
with a fixed sleep: every wait polls against a deadline, and the script stops by itself.

This file is the entry point and the report; the pieces live next to it: ``burst_setup``
(database, simulators, runwatcher), ``burst_bridge`` and ``burst_floor`` (the two measured
runs), ``burst_diagnostics`` (the bridge's own tables), ``burst_common`` (shared helpers).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from burst_bridge import run_bridge
from burst_common import HANDLES, ROOT, pct, summary
from burst_diagnostics import diagnostics
from burst_floor import floor_client, run_floor
from burst_setup import Database


def row(name: str, res: dict) -> str:
    lat = res["latencies"]
    return (
        f"{name:<15} {res['posts']:>6} {pct(lat, 50):>8.0f} {pct(lat, 95):>8.0f} "
        f"{pct(lat, 99):>8.0f} {res['throughput']:>8.1f}"
    )


def main() -> int:
    if sys.argv[1:2] == ["_floor"]:
        floor_client(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--recipients", type=int, default=3, choices=range(1, len(HANDLES) + 1))
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database", default="sqlite", help="sqlite or a postgres:// URL")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="simulated Mattermost RTT")
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds for the burst")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bridge.settings")
    # Whole-run watchdog: whatever happens, the script ends by itself.
    watchdog = threading.Timer(args.deadline + 600, lambda: os._exit(3))
    watchdog.daemon = True
    watchdog.start()

    tmp = Path(tempfile.mkdtemp(prefix="notify_burst_"))
    db = Database(args.database, tmp)
    label = db.kind
    started = time.time()
    try:
        db.create()
        bridge = run_bridge(args, tmp, db)
        bridge["workers"] = args.workers
        floor = run_floor(args, tmp, bridge)
        try:
            diag = diagnostics(db, bridge)
        except Exception as exc:
            diag = [f"(diagnostics failed: {type(exc).__name__}: {exc})"]
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - Django may never have been set up
            pass
        db.drop()
        shutil.rmtree(tmp, ignore_errors=True)

    n = args.recipients
    print()
    print(
        f"notify_burst: {args.requests} requests x {n} recipients, {args.workers} workers, "
        f"{label}, simulated Mattermost latency {args.latency_ms:g} ms"
    )
    print(f"{'pipeline':<15} {'posts':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'posts/s':>8}")
    print(row("bridge", bridge))
    print(row("bare requests", floor))
    print()
    print(
        f"bridge: duplicates {bridge['dupes']}, missing {bridge['missing']}, "
        f"other posts {bridge['other_posts']}; burst created in {bridge['burst_s']:.2f}s; "
        f"last post {bridge['span_s']:.1f}s after the first request; "
        f"ready in {bridge['ready_s']:.1f}s; runwatcher {bridge['stop']}"
    )
    print(
        f"floor: statuses {floor['statuses']}; per-call RTT ms: {summary(floor['rtts'])}; "
        f"last post {floor['span_s']:.1f}s after the first"
    )
    cpu = bridge["cpu"]
    total = sum(cpu.values())
    print(
        f"CPU during the burst: runwatcher tree {total:.1f}s "
        f"({total / max(args.requests, 1) * 1000:.0f} ms per request: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in cpu.most_common())
        + f"); simulators + bench {bridge['own_cpu']:.1f}s; "
        f"{os.cpu_count()} CPU(s) x {bridge['span_s']:.1f}s available"
    )
    for line in diag:
        print(f"  {line}")
    print(f"total wall time {time.time() - started:.1f}s")
    ok = bridge["dupes"] == 0 and bridge["missing"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
