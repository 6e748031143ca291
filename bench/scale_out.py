#!/usr/bin/env python
"""Scale-out on PostgreSQL: one process against one watcher plus N qcluster processes.

    .venv/bin/python bench/scale_out.py [--database postgres://USER@HOST/postgres]
        [--requests 300] [--latencies 0,0.05] [--runs 1]

Topologies, each on a fresh database, the same simulators (Teleport gRPC + mTLS,
Mattermost HTTP with the given answer latency):

- `1 process`: `runwatcher` with its in-process workers (Q_WORKERS=2, the default);
- `watcher + N qcluster`: `runwatcher --no-workers` (the leader) and N `manage.py
  qcluster` processes with Q_WORKERS=2 each, as README's Scale-out topology.

For each: N requests x 3 recipients created at once; posts/s from the first request to
the last root post; duplicates and missing posts. On one machine the qclusters share its
cores: with a Mattermost that answers at once the work is CPU-bound and more processes
cannot help; with a real Mattermost's latency (tens of ms per post) the extra workers
overlap their waits. Across machines each qcluster brings its own cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from burst_common import HANDLES, ROOT
from burst_setup import spawn_manage, start_runwatcher, stop_runwatcher
from perf_table import Run


class ScaleRun(Run):
    def topology(self, qclusters: int) -> list[subprocess.Popen]:
        """The processes of one topology, ready (a warm-up request posted everywhere)."""
        handles = HANDLES[:3]
        if qclusters == 0:
            procs = [self.start(handles)]
        else:
            config = self.new_config(handles)
            # Q_WORKERS is not used with --no-workers (and must be >= 1).
            rw_log = self.tmp / f"rw{self.lives}.out"
            watcher = start_runwatcher(config, self.db.url, 1, rw_log, "--no-workers")
            procs = [watcher] + [
                spawn_manage(
                    ["qcluster"],
                    self.db.url,
                    2,
                    self.tmp / f"qc{self.lives}-{i}.out",
                    TELEPORT_MATTERMOST_CONFIG=str(config),
                )
                for i in range(qclusters)
            ]
        try:
            self.ready(procs[0], handles)
        except SystemExit:
            for log in sorted(self.tmp.glob("*.out")):
                print(f"--- {log.name}\n{log.read_text()[-1500:]}", file=sys.stderr)
            raise
        return procs

    def measure(self, qclusters: int, requests: int) -> dict[str, float]:
        procs = self.topology(qclusters)
        try:
            t0 = time.time()
            created = self.create(requests, f"scale{qclusters}-")
            got = self.wait_posts(created, 3, timeout=self.args.deadline)
        finally:
            for proc in reversed(procs):
                stop_runwatcher(proc)
        span = got["last"] / 1000 - t0
        return {"posts_s": len(got["roots"]) / span, "bad": got["dupes"] + got["missing"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1/postgres")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--latencies", default="0,0.05", help="Mattermost answer delay, s")
    parser.add_argument("--qclusters", default="0,1,2", help="0 = one process, no qcluster")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=600)
    args = parser.parse_args()
    args.workers = 2
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bridge.settings")
    watchdog = threading.Timer(args.deadline * 20 * args.runs, lambda: os._exit(3))
    watchdog.daemon = True
    watchdog.start()

    shapes = [int(q) for q in args.qclusters.split(",")]
    latencies = [float(x) for x in args.latencies.split(",")]
    results: dict[tuple[float, int], list[dict[str, float]]] = {}
    for _ in range(args.runs):
        for latency in latencies:
            for q in shapes:
                tmp = Path(tempfile.mkdtemp(prefix="scale_out_"))
                run = None
                try:
                    run = ScaleRun(args, args.database, tmp)
                    run.mm.set_latency(latency)
                    out = run.measure(q, args.requests)
                    print(
                        f"  latency {latency}s, qclusters {q}: {out}", file=sys.stderr, flush=True
                    )
                    results.setdefault((latency, q), []).append(out)
                finally:
                    if run is not None:
                        run.close()
                    shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(
        f"scale_out: {args.requests} x 3 posts, PostgreSQL, {os.cpu_count()} CPU(s), "
        f"{args.runs} run(s) (median); 2 workers per process"
    )
    print("| Mattermost latency | topology                          | posts/s | dupes + missing |")
    print("|--------------------|-----------------------------------|---------|-----------------|")
    for (latency, q), outs in results.items():
        name = "1 process (runwatcher)" if q == 0 else f"watcher + {q} qcluster (x2 workers)"
        rate = statistics.median(o["posts_s"] for o in outs)
        bad = max(o["bad"] for o in outs)
        print(f"| {latency * 1000:>15.0f} ms | {name:<33} | {rate:>7.0f} | {bad:>15.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
