#!/usr/bin/env python
"""Access monitoring rule conditions: what compiling and evaluating one costs.

    .venv/bin/python bench/amr_conditions.py [--repeat 20000]

For the reference's example conditions (plus the trivial `true` as the floor, measured in the
same run), prints the time to compile (parse + type-check, done once per rule text and then
cached) and to evaluate against one request, in microseconds, and each evaluation's ratio to
the floor. Routing a request evaluates every applicable rule once, so the evaluation column
times the number of rules is the routing cost per request (without the traits lookup).

Why a script and not a test: these are numbers to compare between versions and machines.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bridge.settings")
os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")

CONDITIONS = [
    "true",
    'contains_any(access_request.spec.roles, set("editor", "dba"))',
    'access_request.spec.roles.contains("auditor") && access_request.spec.user == "erin"',
    'contains_all(access_request.spec.roles, set("reader", "writer"))',
    'contains_any(user.traits["team"], set("payments"))',
    'access_request.spec.resource_labels_union["env"].contains("prod")',
    'regexp.match(access_request.spec.suggested_reviewers, "^.*@example[.]com$")',
    '!is_empty(access_request.spec.system_annotations["pagerduty_services"])',
    'clock_between(access_request.spec.creation_time, "09:00", "17:00") && '
    'day(access_request.spec.creation_time) != "Saturday"',
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20000)
    args = parser.parse_args()

    from teleportbridge.amr import syntax
    from teleportbridge.amr.compiler import _compile
    from teleportbridge.amr.values import RequestFacts

    facts = RequestFacts(
        roles=("editor", "reader", "writer", "auditor"),
        suggested_reviewers=tuple(f"r{i}@example.com" for i in range(10)),
        annotations={"pagerduty_services": ("payments",)},
        user="erin",
        creation_time=datetime(2026, 3, 6, 12, 0, tzinfo=UTC),
        resources=tuple({"env": "prod", "n": str(i)} for i in range(20)),
        traits={"team": ("payments",), "logins": ("erin",)},
        timezone="Europe/Paris",
    )
    rows = []
    for text in CONDITIONS:
        n_compile = max(args.repeat // 20, 50)
        start = time.perf_counter()
        for _ in range(n_compile):
            compiled = _compile(syntax.parse(text))  # uncached on purpose
        compile_us = (time.perf_counter() - start) / n_compile * 1e6
        run = compiled.run
        start = time.perf_counter()
        for _ in range(args.repeat):
            run(facts)
        eval_us = (time.perf_counter() - start) / args.repeat * 1e6
        rows.append((text, compile_us, eval_us))
    floor = rows[0][2]
    print(f"{'condition':<62} {'compile µs':>11} {'eval µs':>9} {'× floor':>8}")
    for text, compile_us, eval_us in rows:
        label = text if len(text) <= 60 else text[:57] + "..."
        print(f"{label:<62} {compile_us:>11.1f} {eval_us:>9.2f} {eval_us / floor:>8.1f}")


if __name__ == "__main__":
    import django

    django.setup()
    main()
