"""Which access monitoring rules match a request, and the rules' health.

A rule that cannot be used must never be silent (issue 13): its condition is checked when the
rule is loaded (start-up resync and every PUT event, see sync.upsert_rule) and each failure to
evaluate it is recorded on the rule (`last_error`), logged once per rule and error, shown on the
health page and the admin, and counted in /metrics. As upstream, a rule that fails is skipped
for that request; the others still route it (and with none matching the TOML routing applies).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import threading
from collections.abc import Iterable, Iterator

from django.utils import timezone

from teleportbridge.amr.compiler import ConditionError, compile_condition
from teleportbridge.amr.values import ConditionEvalError, RequestFacts
from teleportbridge.models import AccessMonitoringRule
from teleportbridge.sanitize import shown

log = logging.getLogger(__name__)

# (rule name, error) pairs already logged by this process: "logged once", not once per request.
# A set guarded by a lock because django-q2 threads and the watcher share the process.
_logged: set[tuple[str, str]] = set()
_logged_lock = threading.Lock()


def log_once(name: str, error: str, what: str) -> None:
    with _logged_lock:
        if (name, error) in _logged:
            return
        _logged.add((name, error))
    log.warning(
        "Access monitoring rule %s %s: %s; the rule is skipped (other rules and the "
        "configured recipients still apply)",
        shown(name),
        what,
        shown(error),
    )


def condition_error(condition: str) -> str:
    """'' when the condition parses and type-checks, else the one-line reason."""
    try:
        compile_condition(condition)
    except ConditionError as exc:
        return str(exc)
    return ""


@dataclasses.dataclass(frozen=True)
class RuleResult:
    name: str
    recipients: tuple[str, ...]
    matched: bool
    error: str = ""


def evaluate(rules: Iterable[AccessMonitoringRule], facts: RequestFacts) -> list[RuleResult]:
    """Evaluate each rule's condition against one request; no side effects."""
    results = []
    for rule in rules:
        try:
            matched = compile_condition(rule.condition).matches(facts)
        except ConditionError as exc:
            results.append(RuleResult(rule.name, tuple(rule.recipients), False, str(exc)))
            continue
        except ConditionEvalError as exc:
            results.append(
                RuleResult(rule.name, tuple(rule.recipients), False, f"evaluating: {exc}")
            )
            continue
        results.append(RuleResult(rule.name, tuple(rule.recipients), matched))
    return results


# Set inside one_read(): the rules as read once for the block (None until first needed).
_held: contextvars.ContextVar[list[list[AccessMonitoringRule]] | None] = contextvars.ContextVar(
    "rules_held", default=None
)


@contextlib.contextmanager
def one_read() -> Iterator[None]:
    """Inside the block, applicable_rules() reads the table once and reuses it: a grouped
    reconcile plans its few requests within moments, with the rules as of its start.
    Outside any block every call reads afresh (never cached across tasks: another process
    may have stored a rule's PUT event since)."""
    if _held.get() is not None:
        yield
        return
    token = _held.set([])
    try:
        yield
    finally:
        _held.reset(token)


def applicable_rules() -> list[AccessMonitoringRule]:
    """The plugin's rules: notification name `mattermost`, subject `access_request`."""
    held = _held.get()
    if held:
        return list(held[0])
    rules = [r for r in AccessMonitoringRule.objects.all() if r.applies_to_mattermost]
    if held is not None:
        held.append(rules)
    return list(rules)


def route(facts: RequestFacts) -> list[RuleResult]:
    """Evaluate the plugin's rules and record their health (matched / failed)."""
    results = evaluate(applicable_rules(), facts)
    now = timezone.now()
    matched = [r.name for r in results if r.matched]
    if matched:
        AccessMonitoringRule.objects.filter(name__in=matched).update(last_matched_at=now)
    for r in results:
        if r.error:
            log_once(r.name, r.error, "cannot be used")
            # Idempotent: the same error rewritten with a newer time.
            AccessMonitoringRule.objects.filter(name=r.name).update(
                last_error=r.error, last_error_at=now
            )
    return results
