"""What an access monitoring rule condition may read about a request (RequestFacts).

Most of it is stored on the AccessRequest; `user.traits` comes from Teleport (the user's login
state, else the user resource: TeleportClient.login_traits) with the plugin's own
credentials, fetched only when a rule reads it and reused for AMR_TRAITS_CACHE_SECONDS per
user (one request burst from one user means one lookup). Without permission to read users the
traits are empty, which is documented in the README: a rule on `user.traits` then matches as
if the user had none, and the missing role rule is named once in the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from django.conf import settings

from notifications import runtime
from teleportbridge.amr.values import EPOCH, RequestFacts
from teleportbridge.models import AccessRequest
from teleportbridge.sanitize import shown
from teleportbridge.teleport.errors import NotFound, PermissionDenied, TeleportError

log = logging.getLogger(__name__)

# user -> (monotonic expiry, traits). The lock guards the dict only: two workers missing
# the cache for the same user at once both ask Teleport, which is harmless.
_traits_cache: dict[str, tuple[float, dict[str, tuple[str, ...]]]] = {}
_traits_lock = threading.Lock()
_denied_logged = False


def clear_traits_cache() -> None:
    global _denied_logged
    with _traits_lock:
        _traits_cache.clear()
        _denied_logged = False


def user_traits(user: str) -> dict[str, tuple[str, ...]]:
    """The user's traits, or {} when they cannot be read (never raises)."""
    global _denied_logged
    now = time.monotonic()
    with _traits_lock:
        hit = _traits_cache.get(user)
        if hit is not None and hit[0] > now:
            return hit[1]
    client = runtime.teleport()
    if client is None:
        return {}
    try:
        raw = client.login_traits(user)
    except NotFound:
        raw = {}
    except PermissionDenied as exc:
        with _traits_lock:
            first, _denied_logged = not _denied_logged, True
        if first:
            log.warning(
                "Cannot read user traits for access monitoring rules (evaluating them with "
                "no traits): add `user_login_state: [read]` and `user: [read]` to the "
                "plugin's role: %s",
                exc,
            )
        raw = {}
    except TeleportError as exc:
        # Not cached: the next request tries again.
        log.warning(
            "Cannot read the traits of user %s (evaluating with none): %s", shown(user), exc
        )
        return {}
    traits = {k: tuple(v) for k, v in raw.items()}
    with _traits_lock:
        _traits_cache[user] = (now + settings.AMR_TRAITS_CACHE_SECONDS, traits)
    return traits


def facts_for(
    request: AccessRequest,
    *,
    traits: Mapping[str, tuple[str, ...]] | None = None,
    resource_labels: tuple[Mapping[str, str], ...] = (),
) -> RequestFacts:
    return RequestFacts(
        roles=tuple(request.roles),
        suggested_reviewers=tuple(request.suggested_reviewers),
        annotations={k: tuple(v) for k, v in (request.system_annotations or {}).items()},
        user=request.user,
        reason=request.reason,
        creation_time=request.created_at or EPOCH,
        expiry=request.expires_at or EPOCH,
        resources=resource_labels,
        traits=traits or {},
        timezone=settings.AMR_TIMEZONE,
    )
