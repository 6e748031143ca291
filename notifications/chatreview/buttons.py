"""Which root posts show Approve/Deny, and the props that draw them.

Reconcile asks `wanted_buttons()` for every root (level-triggered: a request that stops
being PENDING, expires, or a feature alert all give "" and the next edit removes the
buttons). Delivery asks `props_for()` when it sends the post. The message text above the
buttons is untouched, so it stays byte-exact with the Go plugin's.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError
from django.db.models import F, Q
from django.utils import timezone

from notifications.chatreview import config as review_config
from notifications.chatreview import signing
from notifications.chatreview.models import ButtonNonce, ReviewFeatureState
from teleportbridge.models import AccessRequest, RequestState, WatcherState
from teleportbridge.teleport.version import at_least

log = logging.getLogger(__name__)

PROPS_BUTTONS = "teleport_bridge_buttons"
LONG_TERM = "LONG_TERM"


def feature_usable() -> str:
    """ "" when buttons may be shown, else why not (for the health page too)."""
    cfg = review_config.get()
    if cfg is None:
        return review_config.problem() or "off"
    blocked = ReviewFeatureState.blocked()
    if blocked:
        return f"blocked: {blocked}"
    version = WatcherState.get().server_version
    try:
        ok = bool(version) and at_least(version, cfg.min_server_version)
    except ValueError:
        ok = False
    if not ok:
        return f"Teleport {version or '(unknown version)'} is older than {cfg.min_server_version}"
    return ""


def _eligible(request: AccessRequest, recipient: str) -> bool:
    now = timezone.now()
    if request.state != RequestState.PENDING or request.deleted_at is not None:
        return False
    if request.request_kind == LONG_TERM:
        return False  # access-list promotion: Auth would accept a short-term approval
    if request.expires_at is not None and request.expires_at <= now:
        return False
    # Never in the requester's own DM: a self-review always fails.
    return recipient.strip().lower() != request.user.strip().lower()


def wanted_buttons(request: AccessRequest, root: Any) -> str:
    """The nonce of the button set this root should show now, creating one if needed; ""."""
    if not _eligible(request, root.recipient) or feature_usable():
        return ""
    cfg = review_config.get()
    assert cfg is not None  # feature_usable() checked it
    now = timezone.now()
    current = (
        ButtonNonce.objects.filter(nonce=root.buttons_wanted, post=root).first()
        if root.buttons_wanted
        else None
    )
    # Re-sign when a quarter of the TTL is left, so a button is never shown already expired.
    margin = timedelta(seconds=cfg.button_ttl / 4)
    limit = now + timedelta(seconds=cfg.button_ttl)
    if request.expires_at is not None:
        limit = min(limit, request.expires_at)
    fresh = current is not None and (
        current.expires_at - now > margin or current.expires_at >= limit
    )
    if current is not None and fresh and current.kid == cfg.active_kid:
        return current.nonce
    try:
        row = ButtonNonce.objects.create(
            nonce=signing.new_nonce(),
            request=request,
            post=root,
            channel_id=root.channel_id,
            kid=cfg.active_kid,
            expires_at=limit,
        )
    except IntegrityError:  # a 128-bit collision: show none this round rather than reuse
        return ""
    return row.nonce


def expiring(now: datetime) -> set[str]:
    """Requests whose shown buttons need a redraw: re-signable ones near their expiry, and
    any whose signature has run out (the redraw then removes them). For the sweeper:
    reconcile runs on changes, and a long-lived pending request may have none for a day."""
    cfg = review_config.get()
    if cfg is None:
        return set()
    from notifications.models import Post

    soon = now + timedelta(seconds=cfg.button_ttl / 4)
    stale = ButtonNonce.objects.filter(
        Q(expires_at__lte=now)
        | Q(expires_at__lte=soon)
        & (Q(request__expires_at__isnull=True) | Q(request__expires_at__gt=F("expires_at")))
    ).values("nonce")
    shown = Post.objects.filter(buttons_sent__in=stale, buttons_wanted=F("buttons_sent"))
    return set(shown.values_list("request_id", flat=True))


def props_for(post: Any) -> dict[str, Any]:
    """Props that draw the buttons of `post.buttons_wanted` (legacy attachment actions)."""
    if not post.buttons_wanted:
        return {}
    cfg = review_config.get()
    row = ButtonNonce.objects.filter(nonce=post.buttons_wanted).first()
    if cfg is None or row is None or row.kid not in cfg.keys:
        return {}
    exp = int(row.expires_at.timestamp())

    def action(action_id: str, name: str, style: str) -> dict[str, Any]:
        ctx = signing.sign(
            cfg.keys[row.kid],
            kid=row.kid,
            request_id=row.request_id,
            action=action_id,
            channel_id=row.channel_id,
            nonce=row.nonce,
            exp=exp,
        )
        return {
            "id": action_id,
            "type": "button",
            "name": name,
            "style": style,
            "integration": {"url": cfg.action_url, "context": ctx},
        }

    return {
        PROPS_BUTTONS: row.nonce,
        "attachments": [
            {
                "fallback": "Approve or deny this request in Teleport",
                "actions": [
                    action("approve", "Approve", "primary"),
                    action("deny", "Deny", "danger"),
                ],
            }
        ],
    }
