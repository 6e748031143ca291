"""Mattermost REST client: one pooled session, two error types, no hidden retries."""

from notifications.mattermost.client import Attempt, MattermostClient
from notifications.mattermost.errors import (
    MattermostError,
    PermanentError,
    TransientError,
    classify,
)

__all__ = [
    "Attempt",
    "MattermostClient",
    "MattermostError",
    "PermanentError",
    "TransientError",
    "classify",
]
