"""Who clicked: the Mattermost user, and the one Teleport user they are.

Mapping is by a Teleport user trait holding the Mattermost user id (default
`mattermost_uid`): exactly one user must carry it. The email fallback, only when configured
and only when no user carries the trait, needs a non-empty Mattermost email equal to an
existing Teleport username. Results are cached for 10 minutes per process; an entry is
dropped when Teleport refuses a review for it. Nothing here is ever shown in chat.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from notifications.chatreview.config import ReviewConfig
from notifications.mattermost.client import MattermostClient
from notifications.mattermost.errors import MattermostError
from teleportbridge.teleport.client import TeleportClient
from teleportbridge.teleport.errors import NotFound

CACHE_SECONDS = 600.0


class Refused(Exception):
    """A check failed; `check` names it for the ReviewAttempt row (never shown in chat)."""

    def __init__(self, check: str) -> None:
        super().__init__(check)
        self.check = check


@dataclass(frozen=True)
class Mapping:
    teleport_user: str
    method: str  # "trait" or "email"


# mm user id -> (mapping, monotonic time stored). Guarded by _lock: gunicorn threads share it.
_cache: dict[str, tuple[Mapping, float]] = {}
_lock = threading.Lock()


def forget(mm_user_id: str) -> None:
    with _lock:
        _cache.pop(mm_user_id, None)


def forget_all() -> None:
    with _lock:
        _cache.clear()


def mattermost_user(client: MattermostClient, user_id: str) -> dict:
    """The clicking user; bots and deactivated users are refused."""
    try:
        user = client.get_user(user_id)
    except MattermostError:
        raise Refused("mattermost_user_lookup") from None
    if user.get("is_bot"):
        raise Refused("mattermost_user_is_bot")
    if user.get("delete_at"):
        raise Refused("mattermost_user_deactivated")
    return user


def teleport_user(
    cfg: ReviewConfig, teleport: TeleportClient, mm_user: dict, *, timeout: float
) -> Mapping:
    mm_id = str(mm_user.get("id") or "")
    now = time.monotonic()
    with _lock:
        hit = _cache.get(mm_id)
    if hit is not None and now - hit[1] < CACHE_SECONDS:
        return hit[0]
    found: list[str] = []
    if cfg.user_id_trait:
        for user in teleport.list_users(timeout=timeout):
            values = user.Spec.Traits.Values.get(cfg.user_id_trait)
            if values is not None and mm_id in values.Values:
                found.append(user.Metadata.Name)
    if len(found) > 1:
        raise Refused("teleport_user_ambiguous")
    if found:
        mapping = Mapping(found[0], "trait")
    elif cfg.email_fallback == "when_no_trait":
        email = str(mm_user.get("email") or "").strip()
        if not email:
            raise Refused("teleport_user_unmapped")
        try:
            teleport.get_user(email, timeout=timeout)
        except NotFound:
            raise Refused("teleport_user_unmapped") from None
        mapping = Mapping(email, "email")
    else:
        raise Refused("teleport_user_unmapped")
    with _lock:
        _cache[mm_id] = (mapping, now)
    return mapping
