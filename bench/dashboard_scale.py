#!/usr/bin/env python
"""Dashboard at scale: how long each page takes with a large history behind it.

    .venv/bin/python bench/dashboard_scale.py [--requests 10000] [--repeat 3]
        [--database sqlite|postgres://user@host:port/db]

Seeds a fresh database (a temp SQLite file, or bench_<pid> on the given PostgreSQL server,
dropped afterwards) with N access requests spread over the last 30 days: three root posts
each with their delivery attempts (2% failed for good), reviews and "Access Request
Reviewed" audit events for most of them, plus some anomalies (reviews of requests we never
saw, late reviews). Then renders every dashboard page through Django's full request stack
(login, middleware, templates) --repeat times and prints, per page: the median and worst
wall time, the SQL queries issued and the response size.

Why a script and not a test: these are numbers to compare between versions and machines,
not pass/fail facts.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from burst_common import ROOT
from burst_setup import Database


def seed(n: int, rng: random.Random) -> None:
    """Bulk-insert a realistic history (see the module docstring)."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from notifications.models import DeliveryAttempt, NotificationPlan, Post
    from teleportbridge.models import AccessRequest, AuditEvent, Review

    now = timezone.now()
    User.objects.create_superuser("bench", "bench@example.com", None)  # no usable password
    requests, plans, posts, reviews, events = [], [], [], [], []
    for i in range(n):
        seen = now - timedelta(seconds=rng.uniform(60, 30 * 86400))
        state = rng.choices(["APPROVED", "DENIED", "EXPIRED", "PENDING"], [60, 15, 15, 10])[0]
        rid = str(uuid.uuid4())
        requests.append(
            AccessRequest(
                id=rid,
                user=f"user{i % 300}",
                roles=[rng.choice(["editor", "dba", "auditor", "viewer"])],
                reason=f"ticket INC-{i}",
                state=state,
                created_at=seen,
                first_seen_at=seen,
                resolved_at=seen + timedelta(minutes=20) if state != "PENDING" else None,
            )
        )
        plans.append(NotificationPlan(request_id=rid, status="planned", reason="3 channel(s)"))
        for c in range(3):
            failed = rng.random() < 0.02
            posts.append(
                Post(
                    request_id=rid,
                    kind=Post.Kind.ROOT,
                    channel_id=f"chan{c}",
                    key=f"{rid}:chan{c}:root",
                    recipient=f"eng/channel-{c}",
                    status=Post.Status.FAILED if failed else Post.Status.SENT,
                    mattermost_id="" if failed else uuid.uuid4().hex[:26],
                    sent_at=None if failed else seen + timedelta(seconds=2),
                    attempts=1,
                    last_error="HTTP 404: channel not found" if failed else "",
                )
            )
        if state in ("APPROVED", "DENIED"):
            late = rng.random() < 0.03
            at = seen + (timedelta(days=2) if late else timedelta(minutes=rng.uniform(1, 60)))
            reviews.append(
                Review(
                    request_id=rid,
                    position=0,
                    author=f"reviewer{i % 20}",
                    proposed_state=state,
                    created_at=at,
                )
            )
            events.append(_review_event(rid, f"reviewer{i % 20}", state, at))
    for _ in range(max(1, n // 100)):  # reviews of requests the bridge never saw
        events.append(_review_event(str(uuid.uuid4()), "mallory", "APPROVED", now))
    AccessRequest.objects.bulk_create(requests, batch_size=1000)
    NotificationPlan.objects.bulk_create(plans, batch_size=1000)
    Post.objects.bulk_create(posts, batch_size=1000)
    Review.objects.bulk_create(reviews, batch_size=1000)
    AuditEvent.objects.bulk_create(events, batch_size=1000)
    sent = Post.objects.values_list("pk", "request_id", "status")
    DeliveryAttempt.objects.bulk_create(
        [
            DeliveryAttempt(
                post_id=pk,
                request_id=rid,
                method="POST",
                endpoint="/api/v4/posts",
                status_code=201 if status == Post.Status.SENT else 404,
                ok=status == Post.Status.SENT,
            )
            for pk, rid, status in sent
        ],
        batch_size=1000,
    )


def _review_event(request_id: str, reviewer: str, state: str, at):
    from teleportbridge.models import AuditEvent

    return AuditEvent(
        event_id=str(uuid.uuid4()),
        event_type="access_request.review",
        code="T5002I",
        time=at,
        request_id=request_id,
        reviewer=reviewer,
        proposed_state=state,
    )


def measure(repeat: int) -> list[tuple[str, list[float], int, int, int]]:
    """(page, wall times in ms, queries, bytes, status) per page."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from teleportbridge.models import AccessRequest

    client = Client()
    client.force_login(User.objects.get(username="bench"))  # the login page is not measured
    some_request = AccessRequest.objects.order_by("-first_seen_at").values_list("pk", flat=True)[0]
    pages = [
        ("overview", reverse("dashboard:overview")),
        ("requests", reverse("dashboard:requests")),
        ("requests ?q=user7", reverse("dashboard:requests") + "?q=user7"),
        ("request detail", reverse("dashboard:request", args=[some_request])),
        ("audit", reverse("dashboard:audit")),
        ("audit ?status=anomaly", reverse("dashboard:audit") + "?status=unknown_request"),
        ("audit.csv", reverse("dashboard:audit_csv")),
        ("health", reverse("dashboard:health")),
    ]
    rows = []
    for name, url in pages:
        times, queries, size, status = [], 0, 0, 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                response = client.get(url, secure=True)
                body = b"".join(response) if response.streaming else response.content
                times.append((time.perf_counter() - t0) * 1000)
            queries, size, status = len(ctx.captured_queries), len(body), response.status_code
        rows.append((name, times, queries, size, status))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="sqlite")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dashboard_scale_"))
    db = Database(args.database, tmp)
    db.create()
    try:
        os.environ.update(
            DATABASE_URL=db.url,
            DJANGO_SETTINGS_MODULE="bridge.settings",
            ALLOWED_HOSTS="testserver",
            LOG_LEVEL="WARNING",
        )
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        t0 = time.perf_counter()
        seed(args.requests, random.Random(42))
        if db.kind == "postgres":
            # What autovacuum does soon after a bulk load in production; without statistics
            # the planner guesses "1 row" and picks nested loops.
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        seeded = time.perf_counter() - t0
        rows = measure(args.repeat)
    finally:
        from django.db import connections

        connections.close_all()
        db.drop()
    print(
        f"\ndashboard_scale: {args.requests} requests ({3 * args.requests} posts), "
        f"{db.kind}, seeded in {seeded:.1f}s, {args.repeat} renders per page"
    )
    print(f"{'page':<22} {'median ms':>10} {'max ms':>8} {'queries':>8} {'KiB':>7} {'status':>6}")
    for name, times, queries, size, status in rows:
        print(
            f"{name:<22} {statistics.median(times):>10.0f} {max(times):>8.0f} "
            f"{queries:>8} {size / 1024:>7.0f} {status:>6}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
