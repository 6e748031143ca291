"""Inputs shared by the render and escaping tests: the invisible guards and ordinary names.

"Ordinary" inputs must come out of the hardened output byte-identical to the plugin's.
"""

from __future__ import annotations

F = "\ufeff"
Z = "\u200b"

ORDINARY_USERS = [
    "alice",
    "bob@example.com",
    "alice.smith@corp.example.com",
    "john_doe",
    "svc-ci",
    "Zoë",
    "user123",
    "first.last",
    "a+tag@example.org",
]
ORDINARY_ROLES = ["editor", "access", "auditor", "prod-ro", "db_admin", "k8s-admins", "dev.team"]
ORDINARY_REASONS = [
    "need prod access",
    "Investigating incident 1234 on db-1",
    "fix for ticket ABC-12, ETA 2h.",
    "rollback: deploy failed",
    "please email me at bob@example.com",
    "Zugriff für Wartung",
    "100% needed (urgent)",
    "3.5 GB of logs to check",
    "on-call; see runbook",
    "x",
]
