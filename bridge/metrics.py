"""/metrics: the operating numbers (dashboard.numbers) in Prometheus' text format.

A custom Collector reads the database at scrape time instead of counters kept in memory:
see dashboard/numbers.py for why that is what makes the numbers right across the
separately forked django-q2 workers. The one in-memory value is `watcher_ready`, which
belongs to the process being scraped (the same thing /readyz answers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dashboard.numbers import numbers

PREFIX = "teleport_mattermost_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _gauge(name: str, doc: str, value: float | None) -> Iterator[Metric]:
    if value is not None:  # nothing measured yet: no sample rather than a made-up one
        yield GaugeMetricFamily(PREFIX + name, doc, value=value)


def _labelled(family: type, name: str, doc: str, label: str, values: dict[str, int]) -> Metric:
    metric = family(PREFIX + name, doc, labels=[label])
    for key, value in values.items():
        metric.add_metric([key], value)
    return metric


class NumbersCollector(Collector):
    """One scrape = one `dashboard.numbers.numbers()` snapshot."""

    def __init__(self, ready: Callable[[], bool] | None = None) -> None:
        self._ready = ready

    def collect(self) -> Iterator[Metric]:
        n = numbers()
        yield _labelled(
            GaugeMetricFamily,
            "access_requests",
            "Access requests seen, by their current state",
            "state",
            n.requests_by_state,
        )
        yield _labelled(
            GaugeMetricFamily,
            "posts",
            "Mattermost posts by outcome (pending, sending, sent, retrying, failed)",
            "status",
            n.posts_by_status,
        )
        yield _labelled(
            CounterMetricFamily,
            "delivery_attempts",
            "HTTP calls to Mattermost by status class (error: no response)",
            "status_class",
            n.attempts_by_class,
        )
        yield CounterMetricFamily(
            PREFIX + "delivery_retries",
            "Failed deliveries rescheduled for a retry",
            value=n.retries,
        )
        yield CounterMetricFamily(
            PREFIX + "rate_limited",
            "Mattermost answers 429 Too Many Requests",
            value=n.rate_limited,
        )
        yield from _gauge("queue_depth", "Tasks waiting in the django-q2 queue", n.queue_depth)
        yield GaugeMetricFamily(PREFIX + "posts_due", "Posts with work to do now", n.posts_due)
        yield GaugeMetricFamily(
            PREFIX + "oldest_due_post_age_seconds",
            "How long the longest-waiting due post has been due (0: none due)",
            value=n.oldest_due_post_age or 0.0,
        )
        yield GaugeMetricFamily(
            PREFIX + "watcher_connected",
            "1 if the active runwatcher's Teleport watch stream is up (from the database)",
            value=int(n.watcher_connected),
        )
        if self._ready is not None:
            yield GaugeMetricFamily(
                PREFIX + "watcher_ready",
                "1 if this process's watcher received INIT since its last reconnect",
                value=int(self._ready()),
            )
        yield CounterMetricFamily(
            PREFIX + "watcher_reconnects",
            "Reconnects of the Teleport watch stream since the runwatcher started",
            value=n.watcher_reconnects,
        )
        yield from _gauge(
            "last_event_age_seconds",
            "Seconds since the last Teleport watch event was applied",
            n.last_event_age,
        )
        yield from _gauge(
            "audit_poll_age_seconds", "Seconds since the last audit log poll", n.audit_poll_age
        )
        yield CounterMetricFamily(
            PREFIX + "audit_poll_errors",
            "Audit log polls that ended with an error",
            value=n.audit_poll_failures,
        )
        yield GaugeMetricFamily(
            PREFIX + "audit_poll_failing",
            "1 if the last audit log poll failed",
            value=int(n.audit_poll_failing),
        )
        yield GaugeMetricFamily(
            PREFIX + "audit_permission_missing",
            "1 if the plugin's role lacks event [list, read] (the audit log cannot be read)",
            value=int(n.audit_permission_missing),
        )
        yield GaugeMetricFamily(
            PREFIX + "access_monitoring_rules",
            "Access monitoring rules for this plugin (notification name mattermost)",
            value=n.rules_total,
        )
        yield GaugeMetricFamily(
            PREFIX + "access_monitoring_rules_broken",
            "Access monitoring rules whose condition cannot be parsed or evaluated (skipped)",
            value=n.rules_broken,
        )
        yield _labelled(
            CounterMetricFamily,
            "rejected_records",
            "Records from Teleport refused or not storable (quarantined), by kind",
            "kind",
            n.rejected_by_kind,
        )


def make_registry(ready: Callable[[], bool] | None = None) -> CollectorRegistry:
    """A registry of our own (not prometheus_client's global one): the numbers plus the
    usual process_* metrics of this process."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NumbersCollector(ready))
    ProcessCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The exposition text; raises if the database cannot be read."""
    return generate_latest(registry)
