"""Teleport-side records: access requests, reviews, monitoring rules, audit, watcher state."""

from teleportbridge.models.audit import AuditCursor, AuditEvent
from teleportbridge.models.rejected import RejectedEvent
from teleportbridge.models.requests import AccessRequest, RequestState, Review
from teleportbridge.models.rules import AccessMonitoringRule
from teleportbridge.models.watcher import WatcherState

__all__ = [
    "AccessMonitoringRule",
    "AccessRequest",
    "AuditCursor",
    "AuditEvent",
    "RejectedEvent",
    "RequestState",
    "Review",
    "WatcherState",
]
