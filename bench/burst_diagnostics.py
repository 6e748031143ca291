"""notify_burst diagnostics: where the bridge's time went, from its own tables."""

from __future__ import annotations

import os
from collections import Counter

from burst_common import summary
from burst_setup import Database


def diagnostics(db: Database, bridge: dict) -> list[str]:
    """Where the time went, from the bridge's own tables (read after it stopped)."""
    os.environ["DATABASE_URL"] = db.url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bridge.settings")
    import django

    django.setup()
    from django.db import connections
    from django_q.models import OrmQ, Task

    from notifications.models import DeliveryAttempt, NotificationPlan, Post
    from teleportbridge.models import AccessRequest

    created = bridge["created"]
    lines = []
    try:
        seen = {
            pk: ts.timestamp()
            for pk, ts in AccessRequest.objects.filter(pk__in=list(created)).values_list(
                "pk", "first_seen_at"
            )
        }
        ingest = [(seen[r] - created[r]) * 1000 for r in seen]
        if seen:
            lines.append(
                f"watcher ingest (request created -> row stored), ms: {summary(ingest)}; "
                f"whole burst stored {max(seen.values()) - bridge['t0']:.1f}s after the first"
            )
        plans = dict(
            NotificationPlan.objects.filter(request_id__in=list(created)).values_list(
                "request_id", "planned_at"
            )
        )
        planned = [(plans[r].timestamp() - seen[r]) * 1000 for r in plans if r in seen]
        lines.append(f"stored -> plan created (queue wait + start of task), ms: {summary(planned)}")
        sent = Post.objects.filter(request_id__in=list(created), kind=Post.Kind.ROOT).exclude(
            sent_at=None
        )
        post_lag = [
            (s.timestamp() - plans[r].timestamp()) * 1000
            for r, s in sent.values_list("request_id", "sent_at")
            if r in plans
        ]
        lines.append(f"plan -> root post sent (inside the task), ms: {summary(post_lag)}")
        # django-q2 stamps Task.started at enqueue time (async_task), stopped when done.
        tasks = list(Task.objects.values_list("name", "started", "stopped", "success"))
        kinds = Counter(n.split(" ", 1)[0] for n, *_ in tasks)
        failed = sum(1 for *_, ok in tasks if not ok)
        first_task: dict[str, tuple] = {}
        for name, enq, done, _ in tasks:
            rid = name.split(" ", 1)[-1]
            if rid in plans and (rid not in first_task or enq < first_task[rid][0]):
                first_task[rid] = (enq, done)
        wait = [(plans[r] - e).total_seconds() * 1000 for r, (e, _) in first_task.items()]
        work = [(d - plans[r]).total_seconds() * 1000 for r, (_, d) in first_task.items()]
        lines.append(
            f"django-q tasks kept: {len(tasks)} {dict(kinds)}, failed {failed}, "
            f"left in queue: {OrmQ.objects.count()}"
        )
        lines.append(f"  queue wait (enqueued -> plan created), ms: {summary(wait)}")
        lines.append(
            "  in the worker (plan created -> task done; the plugin-data read before the "
            f"plan is not in it), ms: {summary(work)}"
        )
        if work:
            ends = [d for _, d in first_task.values()]
            span = (max(ends) - min(plans.values())).total_seconds()
            busy = sum(work) / 1000
            lines.append(
                f"  reconcile work {busy:.1f}s over {span:.1f}s with {bridge['workers']} "
                f"worker(s): {busy / max(span, 1e-9):.2f} workers busy on average, "
                f"{busy / len(work) * 1000:.0f} ms per request"
            )
        attempts = Counter(
            (m, e.split("?")[0] if not e.startswith("/posts/") else "/posts/<id>...")
            for m, e in DeliveryAttempt.objects.values_list("method", "endpoint")
        )
        lines.append(
            "Mattermost calls: "
            + ", ".join(f"{m} {e} x{n}" for (m, e), n in attempts.most_common(6))
        )
        post_ms = list(
            DeliveryAttempt.objects.filter(method="POST", endpoint="/api/v4/posts").values_list(
                "duration_ms", flat=True
            )
        )
        lines.append(f"POST /posts as seen by the workers, ms: {summary(post_ms)}")
        if bridge.get("rpcs"):
            lines.append(
                "Teleport RPCs during the run: "
                + ", ".join(f"{m} x{n}" for m, n in bridge["rpcs"].most_common(6))
            )
        retried = Post.objects.filter(request_id__in=list(created), attempts__gt=1).count()
        lines.append(f"root posts needing >1 attempt: {retried}")
    finally:
        connections.close_all()
    return lines
