"""Access monitoring rules: storage, message building and the server-side list filter.

Rules decide who gets notified; the bridge lists them at start and then follows PUT/DELETE
events, so the simulator must serve both consistently (same messages, stable name order for
paging).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Sequence

from teleportbridge.teleport.proto import accessmonitoringrules_pb2 as amr_pb2

KIND_RULE = "access_monitoring_rule"


def build_rule(
    name: str,
    recipients: Sequence[str],
    subjects: Sequence[str],
    notification_name: str,
    condition: str,
    states: Sequence[str],
) -> amr_pb2.AccessMonitoringRule:
    """An AccessMonitoringRule as Teleport stores it (kind/version set, fresh revision)."""
    rule = amr_pb2.AccessMonitoringRule(kind=KIND_RULE, version="v1")
    rule.metadata.name = name
    rule.metadata.revision = str(uuid.uuid4())
    rule.spec.subjects.extend(subjects)
    rule.spec.states.extend(states)
    rule.spec.condition = condition
    rule.spec.notification.name = notification_name
    rule.spec.notification.recipients.extend(recipients)
    return rule


def _copy(rule: amr_pb2.AccessMonitoringRule) -> amr_pb2.AccessMonitoringRule:
    out = amr_pb2.AccessMonitoringRule()
    out.CopyFrom(rule)
    return out


class RuleStore:
    """name -> rule; thread-safe, hands out copies only."""

    def __init__(self) -> None:
        # Guards _rules: handler threads list while tests put/delete.
        self._lock = threading.Lock()
        self._rules: dict[str, amr_pb2.AccessMonitoringRule] = {}

    def put(self, rule: amr_pb2.AccessMonitoringRule) -> None:
        with self._lock:
            self._rules[rule.metadata.name] = _copy(rule)

    def delete(self, name: str) -> bool:
        """Remove a rule; False if there was none."""
        with self._lock:
            return self._rules.pop(name, None) is not None

    def list(self) -> list[amr_pb2.AccessMonitoringRule]:
        """Copies sorted by name (the order the list RPCs page in)."""
        with self._lock:
            return [_copy(self._rules[n]) for n in sorted(self._rules)]


def filter_rules(
    rules: Iterable[amr_pb2.AccessMonitoringRule],
    subjects: Iterable[str],
    notification_name: str,
    automatic_review_name: str,
) -> list[amr_pb2.AccessMonitoringRule]:
    """ListAccessMonitoringRulesWithFilter's server-side filter; empty criteria match all."""
    wanted = set(subjects)
    return [
        r
        for r in rules
        if (not wanted or wanted & set(r.spec.subjects))
        and (not notification_name or r.spec.notification.name == notification_name)
        and (
            not automatic_review_name
            or r.spec.automatic_review.integration == automatic_review_name
        )
    ]
