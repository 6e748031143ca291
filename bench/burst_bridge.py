"""notify_burst, the bridge: the burst through a real runwatcher, measured from the simulators."""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from pathlib import Path

from burst_common import HANDLES, PROPS_KEY, poll
from burst_setup import Database, start_mattermost, start_runwatcher, stop_runwatcher, write_config


def root_posts_by_key(sim) -> dict[tuple[str, str], list[dict]]:
    """(request id, channel id) -> root posts carrying the bridge's idempotency key."""
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for post in sim.posts():
        if post["root_id"]:
            continue
        key = (post.get("props") or {}).get(PROPS_KEY, "")
        parts = key.split(":")
        if len(parts) == 3 and parts[2] == "root":
            out[(parts[0], parts[1])].append(post)
    return out


def post_count(sim) -> int:
    with sim.state.lock:  # cheap: no deep copy while the burst is running
        return len(sim.state.posts)


def cpu_by_process(root_pid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds (user+system) of ``root_pid`` and its descendants, from /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    info: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        info[int(entry.name)] = (int(fields[1]), cmd, cpu)
    tree, todo = {}, [root_pid]
    while todo:
        pid = todo.pop()
        if pid in info:
            tree[pid] = (info[pid][1], info[pid][2])
            todo += [c for c, (ppid, _, _) in info.items() if ppid == pid]
    return tree


def run_bridge(args, tmp: Path, db: Database) -> dict:
    from simulators.teleport.certs import make_cluster, write_identity_file
    from simulators.teleport.server import TeleportSimulator

    handles = HANDLES[: args.recipients]
    pki = make_cluster("sim.example.com")
    teleport = TeleportSimulator(pki).start()
    mm = start_mattermost(args.latency_ms / 1000)
    proc = None
    try:
        identity = write_identity_file(tmp / "identity", pki.issue_client(), pki.cluster_name)
        config = write_config(
            tmp / "tm.toml", teleport.address, identity, mm.url, handles, tmp / "plugin.log"
        )
        proc = start_runwatcher(config, db.url, args.workers, tmp / "runwatcher.out")
        # Ready = a warm-up request made it to every recipient (start-up checks, fork,
        # INIT, first resolution of every handle: none of that is in the measurement).
        t_ready = time.monotonic()
        teleport.create_request(user="warmup", roles=["editor"], reason="warm-up")
        if (
            not poll(
                lambda: post_count(mm) >= len(handles) or proc.poll() is not None,
                timeout=120,
                what="the warm-up posts",
            )
            or proc.poll() is not None
        ):
            tail = (tmp / "runwatcher.out").read_text()[-3000:]
            raise SystemExit(f"runwatcher did not become ready:\n{tail}")
        ready_s = time.monotonic() - t_ready
        base = post_count(mm)

        cpu_before = cpu_by_process(proc.pid)
        own_before = sum(os.times()[:2])
        created: dict[str, float] = {}  # request id -> epoch seconds
        t0 = time.time()
        for i in range(args.requests):
            ts = time.time()
            rid = teleport.create_request(
                user=f"user{i:04d}",
                roles=["editor", "db-reader"],
                reason=f"bench burst request {i}: incident follow-up",
            )
            created[rid] = ts
        burst_s = time.time() - t0
        want = args.requests * len(handles)
        poll(
            lambda: post_count(mm) - base >= want or proc.poll() is not None,
            timeout=args.deadline,
            interval=0.1,
            what=f"{want} root posts",
        )
        cpu_after = cpu_by_process(proc.pid)
        own_cpu = sum(os.times()[:2]) - own_before
        # Forked django-q2 processes share the parent's command line: label by pid.
        cpu: Counter = Counter()
        for pid, (cmd, seconds) in cpu_after.items():
            name = "watcher process" if pid == proc.pid else f"child {pid}"
            cpu[name] += seconds - cpu_before.get(pid, (cmd, 0.0))[1]
        settle = time.time()
        # A short grace to catch late duplicates (a second post for the same key).
        poll(lambda: time.time() - settle > 2.0, timeout=5, interval=0.2)
        wall_s = time.time() - t0

        roots = root_posts_by_key(mm)
        latencies, first_ms, last_ms, dupes, messages = [], None, 0, 0, []
        seen_pairs = 0
        for (rid, channel), posts in roots.items():
            if rid not in created:
                continue
            seen_pairs += 1
            dupes += len(posts) - 1
            post = min(posts, key=lambda p: p["create_at"])
            latencies.append(post["create_at"] - created[rid] * 1000)
            last_ms = max(last_ms, post["create_at"])
            messages.append(
                {
                    "offset": created[rid] - t0,
                    "channel": channel,
                    "message": post["message"],
                    "key": post["props"][PROPS_KEY],
                }
            )
        first_ms = t0 * 1000
        span = (last_ms - first_ms) / 1000 if last_ms else float("nan")
        result = {
            "posts": seen_pairs,
            "latencies": latencies,
            "throughput": seen_pairs / span if span and span > 0 else float("nan"),
            "span_s": span,
            "wall_s": wall_s,
            "burst_s": burst_s,
            "ready_s": ready_s,
            "dupes": dupes,
            "missing": want - seen_pairs,
            "other_posts": len(mm.posts()) - base - seen_pairs - dupes,
            "messages": messages,
            "created": created,
            "t0": t0,
            "channels": sorted({c for (_, c) in roots}),
            "cpu": cpu,
            "own_cpu": own_cpu,
        }
        result["rpcs"] = Counter(c.method.rsplit("/", 1)[-1] for c in teleport.calls)
    finally:
        result_stop = stop_runwatcher(proc) if proc is not None else "not started"
        mm.stop()
        teleport.stop()
    result["stop"] = result_stop
    return result
