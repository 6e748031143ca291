#!/usr/bin/env python
"""Follow-up burst: messages per request with issue 16's four features off, then all on.

    .venv/bin/python bench/followup_burst.py [--requests 1000] [--workers 2]
        [--database sqlite|postgres://user@host:port/db]

Both runs in one invocation, on one fresh database, through a real ``manage.py runwatcher``
and both simulators (as notify_burst). Each run: N requests to 2 channels, every one left
pending long enough for its reminder and escalation (only with the features on), then
resolved: 19 in 20 approved by a review, 1 in 20 approved by an admin without any review
(a "resolution without review" anomaly, alerted with the features on). The first run has
every feature off (the Go plugin's behaviour): it is the floor the second is compared with.

Counted from the Mattermost simulator, by each post's idempotency key: root posts, review
replies, reminders, requester DMs, security alerts, and edits (PUT /posts); duplicates
(two posts with one key) must be 0. Nothing sleeps for an outcome: every wait polls with a
deadline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from burst_common import PROPS_KEY, ROOT, poll
from burst_setup import Database, start_mattermost, start_runwatcher, stop_runwatcher, write_config

HANDLES = ["eng/access-requests", "eng/town-square"]
FEATURES_ON = """notify_requester = true
show_reviewers = true

[reminders]
after = "2s"
max = 1
escalate_to = ["eng/oncall"]
escalate_after = "4s"

[audit]
alert_channel = "eng/security"

[web]
public_url = "https://bridge.example.com"
"""


def kind_of(post: dict) -> str:
    key = (post.get("props") or {}).get(PROPS_KEY, "")
    if key.startswith("alert:"):
        return "alert"
    parts = key.split(":")
    if len(parts) >= 3:
        return {"root": "root", "review": "reply", "reminder": "reminder"}.get(
            parts[2], "dm" if parts[1] == "requester" else "other"
        )
    return "other"


def run(args, tmp: Path, db: Database, name: str, features: str) -> dict:
    from simulators.teleport.certs import make_cluster, write_identity_file
    from simulators.teleport.server import TeleportSimulator

    pki = make_cluster("sim.example.com")
    teleport = TeleportSimulator(pki).start()
    mm = start_mattermost(0)
    for channel in ("oncall", "security"):
        mm.add_channel("eng", channel, channel)
    proc = None
    work = tmp / name
    work.mkdir()
    try:
        identity = write_identity_file(work / "identity", pki.issue_client(), pki.cluster_name)
        config = write_config(
            work / "tm.toml", teleport.address, identity, mm.url, HANDLES, work / "plugin.log"
        )
        if features:
            head, _, tail = config.read_text().partition("\n[log]")
            config.write_text(head + "\n" + features + "\n[log]" + tail)
        proc = start_runwatcher(config, db.url, args.workers, work / "runwatcher.out")
        log = work / "plugin.log"
        if not poll(
            lambda: log.exists() and "Plugin is ready" in log.read_text(), timeout=120, what="ready"
        ):
            raise SystemExit((work / "runwatcher.out").read_text()[-3000:])
        for i in range(args.requests):
            teleport.set_user(f"user{i:04d}", mattermost_username=["alice"])
        t0 = time.monotonic()
        ids = [
            teleport.create_request(
                user="alice@example.com" if i % 2 else f"user{i:04d}",
                roles=["editor"],
                reason=f"follow-up burst {i}",
            )
            for i in range(args.requests)
        ]

        def kinds() -> Counter:
            return Counter(kind_of(p) for p in mm.posts())

        n = args.requests
        poll(lambda: kinds()["root"] >= n * len(HANDLES), timeout=args.deadline, what="roots")
        if features:  # every request reminded and escalated while pending
            poll(
                lambda: kinds()["reminder"] >= n * len(HANDLES) and kinds()["root"] >= n * 3,
                timeout=args.deadline,
                interval=0.5,
                what="reminders and escalations",
            )
        for i, rid in enumerate(ids):
            if i % 20 == 0:
                teleport.approve(rid, reason="by an admin")
            else:
                teleport.review(rid, "carol", "APPROVED", reason="ok")
        roots = n * (3 if features else 2)

        def approved() -> int:
            return sum(
                1
                for p in mm.posts()
                if not p["root_id"] and "**Status**: ✅ APPROVED" in p["message"]
            )

        poll(lambda: approved() >= roots, timeout=args.deadline, interval=0.5, what="edits")
        if features:
            poll(
                lambda: kinds()["dm"] >= n and kinds()["alert"] >= n // 20,
                timeout=args.deadline,
                interval=0.5,
                what="DMs and alerts",
            )
        wall = time.monotonic() - t0
        settle = time.monotonic()
        poll(lambda: time.monotonic() - settle > 3.0, timeout=10, interval=0.5)  # late dupes
        posts = mm.posts()
        keys = Counter((p.get("props") or {}).get(PROPS_KEY, "") for p in posts)
        edits = sum(
            1
            for m, path, status in mm.request_log
            if m == "PUT" and status == 200 and "/posts/" in path
        )
        return {
            "kinds": Counter(kind_of(p) for p in posts),
            "edits": edits,
            "dupes": sum(c - 1 for k, c in keys.items() if k and c > 1),
            "wall": wall,
        }
    finally:
        stop = stop_runwatcher(proc) if proc is not None else "not started"
        print(f"  {name}: runwatcher {stop}", file=sys.stderr)
        mm.stop()
        teleport.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", default="sqlite", help="sqlite or a postgres:// URL")
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds per wait")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bridge.settings")
    watchdog = threading.Timer(args.deadline * 6, lambda: os._exit(3))
    watchdog.daemon = True
    watchdog.start()
    tmp = Path(tempfile.mkdtemp(prefix="followup_burst_"))
    results = {}
    try:
        # A fresh database per run: the second runwatcher would otherwise resync the first
        # run's requests (gone from its Teleport) and post follow-ups about them.
        for name, features in (("off", ""), ("on", FEATURES_ON)):
            (tmp / f"db-{name}").mkdir()
            db = Database(args.database, tmp / f"db-{name}")
            try:
                db.create()
                results[name] = run(args, tmp, db, name, features)
            finally:
                db.drop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    off, on = results["off"], results["on"]
    n = args.requests
    print()
    print(
        f"followup_burst: {n} requests x {len(HANDLES)} channels, {args.workers} workers, "
        f"{db.kind}; 1 in 20 approved without review"
    )
    print(f"{'per request':<22} {'features off':>12} {'all four on':>12} {'ratio':>7}")
    rows = [("root posts", "root"), ("review replies", "reply"), ("reminders", "reminder")]
    rows += [("requester DMs", "dm"), ("security alerts", "alert")]
    for label, kind in rows:
        a, b = off["kinds"][kind] / n, on["kinds"][kind] / n
        print(f"{label:<22} {a:>12.3f} {b:>12.3f} {b / a if a else float('nan'):>7.2f}")
    total_off = sum(off["kinds"].values()) / n
    total_on = sum(on["kinds"].values()) / n
    ratio = total_on / total_off
    print(f"{'posts (all kinds)':<22} {total_off:>12.3f} {total_on:>12.3f} {ratio:>7.2f}")
    e_off, e_on = off["edits"] / n, on["edits"] / n
    print(f"{'edits (PUT /posts)':<22} {e_off:>12.3f} {e_on:>12.3f} {e_on / e_off:>7.2f}")
    print(f"{'wall s (burst->done)':<22} {off['wall']:>12.1f} {on['wall']:>12.1f}")
    print(f"duplicates: off {off['dupes']}, on {on['dupes']}")
    return 0 if off["dupes"] == on["dupes"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
