"""Where one request's CPU goes: the watcher storing it, then a warm worker reconciling it.

    DATABASE_URL=sqlite:////tmp/prof.sqlite3 .venv/bin/python -m pytest -p no:cacheprovider \
        -p tests.conftest -s -q bench/profile_request.py [--prof-requests 200]

A pytest module (not a test: it is not under tests/ and asserts nothing about speed) so it
can reuse the real simulators' fixtures. For N requests with 3 recipients it prints the SQL
statements per request per stage (watcher store, reconcile) and the cProfile top functions
of the reconciles, cumulative and own time, after one warm-up request.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import time
from collections import Counter

import pytest
from django.db import connection

from notifications.reconcile import reconcile_request
from notifications.tasks import enqueue_reconcile
from teleportbridge import sync
from teleportbridge.models import WatcherState

N = int(os.environ.get("PROF_REQUESTS", "100"))


class _Counter:
    """connection.execute_wrapper: counts statements by their first word."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()

    def __call__(self, execute, sql, params, many, context):
        self.kinds[sql.split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


def _show(title: str, counter: _Counter, n: int) -> None:
    per = {k: round(v / n, 1) for k, v in counter.kinds.most_common()}
    print(f"{title}: {counter.total / n:.1f} statements per request {per}")


@pytest.mark.django_db(transaction=True)
def test_profile(teleport, mattermost, plugin_config):
    plugin_config(recipients=["eng/access-requests", "eng/town-square", "alice@example.com"])
    WatcherState.set(proxy_public_addr="teleport.example.com:443")

    def store(rid: str) -> None:
        sync.upsert_request(teleport.get_request(rid), on_change=enqueue_reconcile)

    warm = teleport.create_request(user="warm", roles=["editor"])
    store(warm)
    reconcile_request(warm)
    ids = [teleport.create_request(user=f"u{i}", roles=["editor"]) for i in range(N)]

    # CPU of this thread only (time.thread_time): the simulators run in other threads of
    # this process and are not counted. No profiler here, it would inflate the numbers.
    plain = [teleport.create_request(user=f"p{i}", roles=["editor"]) for i in range(N)]
    started = time.thread_time()
    for rid in plain:
        store(rid)
    store_cpu = (time.thread_time() - started) / N * 1000
    started = time.thread_time()
    for rid in plain:
        reconcile_request(rid)
    reconcile_cpu = (time.thread_time() - started) / N * 1000

    stored = _Counter()
    prof_store = cProfile.Profile()
    with connection.execute_wrapper(stored):
        prof_store.enable()
        for rid in ids:
            store(rid)
        prof_store.disable()
    rec = _Counter()
    prof = cProfile.Profile()
    with connection.execute_wrapper(rec):
        prof.enable()
        for rid in ids:
            reconcile_request(rid)
        prof.disable()
    one = _Counter()
    one.sqls = []  # type: ignore[attr-defined]
    last = teleport.create_request(user="last", roles=["editor"])

    def keep(execute, sql, params, many, context):
        one.sqls.append(sql[:160])  # type: ignore[attr-defined]
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        store(last)
        print("=== one store + reconcile, statement by statement")
        reconcile_request(last)
    print("\n".join(one.sqls))  # type: ignore[attr-defined]
    print(
        f"CPU per request (this thread, no profiler): store {store_cpu:.2f} ms, "
        f"reconcile {reconcile_cpu:.2f} ms"
    )
    _show("watcher store", stored, N)
    _show("reconcile (plan + 3 root posts + plugin data)", rec, N)
    for name, p in (("store", prof_store), ("reconcile", prof)):
        for key in ("cumulative", "tottime"):
            out = io.StringIO()
            stats = pstats.Stats(p, stream=out)
            total = stats.total_tt  # type: ignore[attr-defined]
            print(f"--- {name}: {total / N * 1000:.2f} ms CPU+wait per request, by {key}")
            stats.sort_stats(key).print_stats(os.environ.get("PROF_FILTER", ""), 28)
            print("\n".join(out.getvalue().splitlines()[6:40]))
