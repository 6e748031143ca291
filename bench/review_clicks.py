#!/usr/bin/env python
"""Approve/Deny clicks: what one click costs, against a floor measured in the same run.

    .venv/bin/python bench/review_clicks.py [--clicks 40] [--database sqlite|postgres://...]

Starts both simulators and the bridge's web endpoint (Django's threaded WSGI server in
this process), creates --clicks pending requests with Approve buttons, then times:

* floor: a POST with a forged signature (parse, one MAC, one row written; no network);
* direct: a genuine callback POSTed straight to the endpoint (every check, the Mattermost
  user lookup, the Teleport mapping (cached after the first) and SubmitAccessReview);
* via Mattermost: the same through the simulator's click API (its HTTP hop and its POST
  of the callback, as Mattermost's server does).

One untimed genuine click first warms the Teleport connection and the mapping cache.
Prints the median and p95 of each and their ratio to the floor's median.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from burst_common import ROOT, pct
from burst_setup import Database

KEY = base64.urlsafe_b64encode(b"b" * 32).decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=40)
    parser.add_argument("--database", default="sqlite")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="review_clicks_"))
    db = Database(args.database, tmp)
    db.create()
    sys.path.insert(0, str(ROOT))
    from simulators.mattermost.server import MattermostSimulator
    from simulators.teleport.certs import make_cluster, write_identity_file
    from simulators.teleport.server import TeleportSimulator

    pki = make_cluster("bench.example.com")
    teleport = TeleportSimulator(pki, server_version="18.11.0").start()
    identity = tmp / "identity"
    write_identity_file(identity, pki.issue_client(), pki.cluster_name)
    mm = MattermostSimulator().start()
    mm.add_team("eng", "Engineering")
    channel = mm.add_channel("eng", "access-requests", "Access Requests")
    uid = mm.add_user("alice@example.com", "alice")
    mm.add_member(channel, uid)
    teleport.users.add("alice", {"mattermost_uid": [uid]})
    config = tmp / "tm.toml"
    config.write_text(
        f'[teleport]\naddr = "{teleport.address}"\nidentity = "{identity}"\n\n'
        f'[mattermost]\nurl = "{mm.url}"\ntoken = "{mm.bot_token}"\n'
        'recipients = ["eng/access-requests"]\n\n[log]\nseverity = "WARNING"\n'
    )
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler)
    port = server.server_address[1]
    os.environ.update(
        DATABASE_URL=db.url,
        DJANGO_SETTINGS_MODULE="bridge.settings",
        DEBUG="1",
        LOG_LEVEL="WARNING",
        TELEPORT_MATTERMOST_CONFIG=str(config),
        REVIEW_FROM_CHAT_ENABLED="1",
        REVIEW_ACCEPT_MFA_BYPASS="1",
        REVIEW_ACTION_URL=f"http://127.0.0.1:{port}/mattermost/actions",
        REVIEW_SIGNING_KEYS=f"k1:{KEY}",
        REVIEW_RATE_PER_USER="100000/60",
        REVIEW_RATE_PER_REQUEST="100000/60",
        REVIEW_RATE_GLOBAL="100000/60",
    )
    import django

    django.setup()
    import requests
    from django.core.wsgi import get_wsgi_application

    from notifications.reconcile import reconcile_request
    from teleportbridge import sync
    from teleportbridge.models import WatcherState

    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{port}/mattermost/actions"
    try:
        WatcherState.set(server_version="18.11.0")
        ids = []
        for _ in range(2 * args.clicks + 1):
            rid = teleport.create_request(user="bob")
            teleport.review_policy.approvals_needed[rid] = 5
            sync.upsert_request(teleport.get_request(rid), on_change=lambda *a, **k: None)
            reconcile_request(rid)
            ids.append(rid)
        posts = {p["message"].split("**Request ID**: ")[1].split("\n")[0]: p for p in mm.posts()}

        def body(rid: str, forged: bool = False) -> dict:
            stored = mm.state.posts[posts[rid]["id"]]
            ctx = dict(stored["props"]["attachments"][0]["actions"][0]["integration"]["context"])
            if forged:
                ctx["sig"] = "A" * 43
            return {
                "user_id": uid,
                "user_name": "alice",
                "channel_id": channel,
                "post_id": posts[rid]["id"],
                "trigger_id": mm.signer.trigger_id(uid),
                "type": "button",
                "context": ctx,
            }

        session = requests.Session()

        def timed(fn) -> float:
            t0 = time.perf_counter()
            fn()
            return (time.perf_counter() - t0) * 1000

        # Warm-up (not timed): the Teleport connection and the user mapping's cache.
        session.post(url, json=body(ids.pop()), timeout=30)
        floor = [timed(lambda r=r: session.post(url, json=body(r, True), timeout=30)) for r in ids]
        direct = [
            timed(lambda r=r: session.post(url, json=body(r), timeout=30))
            for r in ids[: args.clicks]
        ]
        via_mm = [
            timed(lambda r=r: mm.click(posts[r]["id"], "approve", uid)) for r in ids[args.clicks :]
        ]
        submitted = len(teleport.calls_to("SubmitAccessReview"))
    finally:
        server.shutdown()
        from django.db import connections

        connections.close_all()
        teleport.stop()
        mm.stop()
        db.drop()
    base = statistics.median(floor)
    print(f"\nreview_clicks: {args.clicks} clicks per row, {db.kind}, {submitted} submitted")
    print(f"{'path':<16} {'median ms':>10} {'p95 ms':>8} {'x floor':>8}")
    for name, values in (("floor (forged)", floor), ("direct", direct), ("via Mattermost", via_mm)):
        med = statistics.median(values)
        print(f"{name:<16} {med:>10.1f} {pct(values, 95):>8.1f} {med / base:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
