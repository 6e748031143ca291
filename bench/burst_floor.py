"""notify_burst, the floor: the bridge's posts replayed with a bare requests.Session."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from burst_common import ENTRY, PROPS_KEY, ROOT, TOKEN
from burst_setup import start_mattermost


def floor_client(spec_path: str, out_path: str) -> None:
    """Child process: the bare loop. Same arrival offsets, same bodies, same concurrency."""
    import requests
    from requests.adapters import HTTPAdapter

    spec = json.loads(Path(spec_path).read_text())
    session = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=max(spec["workers"], 10), max_retries=0)
    session.mount("http://", adapter)
    session.headers.update(
        {"Authorization": f"Bearer {spec['token']}", "Content-Type": "application/json"}
    )
    url = spec["url"] + "/api/v4/posts"
    results: list[dict] = [{} for _ in spec["posts"]]

    def send(i: int, item: dict, submitted: float) -> None:
        body = {
            "channel_id": item["channel_id"],
            "message": item["message"],
            "root_id": "",
            "props": {PROPS_KEY: item["key"]},
            "pending_post_id": item["key"],
        }
        start = time.time()
        try:
            r = session.post(url, data=json.dumps(body), timeout=10)
            status = r.status_code
        except requests.RequestException as exc:
            status = f"{type(exc).__name__}"
        results[i] = {
            "submitted": submitted,
            "rtt_ms": (time.time() - start) * 1000,
            "status": status,
        }

    t0 = time.time()
    with ThreadPoolExecutor(max_workers=spec["workers"]) as pool:
        for i, item in enumerate(spec["posts"]):
            delay = t0 + item["offset"] - time.time()
            if delay > 0:
                time.sleep(delay)  # pacing: replay the bridge's arrival times
            pool.submit(send, i, item, t0 + item["offset"])
    Path(out_path).write_text(json.dumps({"t0": t0, "results": results}))


def run_floor(args, tmp: Path, bridge: dict) -> dict:
    from bridge.proctree import spawn  # ROOT is on sys.path by now (notify_burst.main)

    sim = start_mattermost(args.latency_ms / 1000)
    try:
        # One fresh channel per channel the bridge posted to (same posts, same spread).
        mapping = {
            c: sim.add_channel("eng", f"floor-{i}", f"floor {i}")
            for i, c in enumerate(bridge["channels"])
        }
        posts = sorted(bridge["messages"], key=lambda m: m["offset"])
        spec = {
            "url": sim.url,
            "token": TOKEN,
            "workers": args.workers,
            "posts": [
                {
                    "offset": m["offset"],
                    "channel_id": mapping[m["channel"]],
                    "message": m["message"],
                    "key": m["key"].replace(m["channel"], mapping[m["channel"]]),
                }
                for m in posts
            ],
        }
        (tmp / "floor.json").write_text(json.dumps(spec))
        t_start = time.time()
        # Through proctree.spawn: the floor client ends with this script, however it ends.
        floor = spawn(
            [sys.executable, str(ENTRY), "_floor", str(tmp / "floor.json"), str(tmp / "floor.out")],
            cwd=ROOT,
        )
        try:
            code = floor.wait(timeout=args.deadline)
        finally:
            if floor.poll() is None:
                floor.kill()
                floor.wait()
        if code != 0:
            raise subprocess.CalledProcessError(code, floor.args)
        wall_s = time.time() - t_start
        out = json.loads((tmp / "floor.out").read_text())
        by_key = {(p.get("props") or {}).get(PROPS_KEY): p for p in sim.posts()}
        latencies, last_ms, rtts = [], 0, []
        for item, res in zip(spec["posts"], out["results"], strict=True):
            post = by_key.get(item["key"])
            rtts.append(res.get("rtt_ms", float("nan")))
            if post is None:
                continue
            latencies.append(post["create_at"] - res["submitted"] * 1000)
            last_ms = max(last_ms, post["create_at"])
        span = (last_ms - out["t0"] * 1000) / 1000 if last_ms else float("nan")
        statuses = Counter(str(r.get("status")) for r in out["results"])
        return {
            "posts": len(latencies),
            "latencies": latencies,
            "throughput": len(latencies) / span if span and span > 0 else float("nan"),
            "span_s": span,
            "wall_s": wall_s,
            "rtts": rtts,
            "statuses": dict(statuses),
        }
    finally:
        sim.stop()
