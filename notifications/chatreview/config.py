"""The feature's settings, validated once: off unless every required piece is there.

A half-configured feature must not show buttons that cannot work, nor fail open: anything
wrong turns it off with one line saying why (shown on the health page and logged at start).
Keys are secrets and never appear in `repr`, logs or errors (only their ids do).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings

MIN_KEY_BYTES = 32
EMAIL_FALLBACK_CHOICES = ("never", "when_no_trait")


class ReviewConfigError(ValueError):
    """The feature is switched on but cannot run as configured (one line)."""


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


@dataclass(frozen=True)
class ReviewConfig:
    action_url: str
    active_kid: str
    keys: dict[str, bytes] = field(repr=False)
    user_id_trait: str
    email_fallback: str
    timeout: float
    button_ttl: int
    verify_trigger_id: bool
    min_server_version: str
    per_user: Rate
    per_request: Rate
    global_rate: Rate
    max_concurrent: int


def _rate(name: str, raw: str) -> Rate:
    count, sep, seconds = raw.partition("/")
    try:
        rate = Rate(int(count), int(seconds))
    except ValueError:
        rate = Rate(0, 0)
    if not sep or rate.count < 1 or rate.seconds < 1:
        raise ReviewConfigError(f'{name} must be "count/seconds" like "5/30", got {raw!r}')
    return rate


def _keys(raw: str) -> tuple[str, dict[str, bytes]]:
    keys: dict[str, bytes] = {}
    first = ""
    for item in filter(None, (p.strip() for p in raw.replace("\n", ",").split(","))):
        kid, sep, value = item.partition(":")
        kid = kid.strip()
        if not sep or not kid.isalnum() or len(kid) > 16:
            raise ReviewConfigError(
                "REVIEW_SIGNING_KEYS entries must be kid:base64key with a short alphanumeric kid"
            )
        try:
            key = base64.urlsafe_b64decode(value.strip() + "=" * (-len(value.strip()) % 4))
        except (binascii.Error, ValueError):
            raise ReviewConfigError(f"REVIEW_SIGNING_KEYS key {kid!r} is not base64") from None
        if len(key) < MIN_KEY_BYTES:
            raise ReviewConfigError(
                f"REVIEW_SIGNING_KEYS key {kid!r} is {len(key)} bytes; at least {MIN_KEY_BYTES}"
            )
        keys[kid] = key
        first = first or kid
    if not keys:
        raise ReviewConfigError("REVIEW_SIGNING_KEYS is empty")
    return first, keys


def build() -> ReviewConfig | None:
    """The config when the feature is on and valid; None when off; ReviewConfigError if broken."""
    if not settings.REVIEW_FROM_CHAT_ENABLED:
        return None
    if not settings.REVIEW_ACCEPT_MFA_BYPASS:
        raise ReviewConfigError(
            "REVIEW_ACCEPT_MFA_BYPASS must be true: reviews from chat skip the reviewer's "
            "MFA and Device Trust"
        )
    url = settings.REVIEW_ACTION_URL
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ReviewConfigError(
            "REVIEW_ACTION_URL must be the https URL of /mattermost/actions, without a query"
        )
    kid, keys = _keys(settings.REVIEW_SIGNING_KEYS)
    fallback = settings.REVIEW_EMAIL_FALLBACK
    if fallback not in EMAIL_FALLBACK_CHOICES:
        raise ReviewConfigError(
            f"REVIEW_EMAIL_FALLBACK must be one of {', '.join(EMAIL_FALLBACK_CHOICES)}"
        )
    if not settings.REVIEW_MM_USER_ID_TRAIT and fallback == "never":
        raise ReviewConfigError("REVIEW_MM_USER_ID_TRAIT is empty and the email fallback is off")
    return ReviewConfig(
        action_url=url,
        active_kid=kid,
        keys=keys,
        user_id_trait=settings.REVIEW_MM_USER_ID_TRAIT,
        email_fallback=fallback,
        timeout=settings.REVIEW_ACTION_TIMEOUT_S,
        button_ttl=settings.REVIEW_BUTTON_TTL_S,
        verify_trigger_id=settings.REVIEW_VERIFY_TRIGGER_ID,
        min_server_version=settings.REVIEW_MIN_SERVER_VERSION,
        per_user=_rate("REVIEW_RATE_PER_USER", settings.REVIEW_RATE_PER_USER),
        per_request=_rate("REVIEW_RATE_PER_REQUEST", settings.REVIEW_RATE_PER_REQUEST),
        global_rate=_rate("REVIEW_RATE_GLOBAL", settings.REVIEW_RATE_GLOBAL),
        max_concurrent=settings.REVIEW_MAX_CONCURRENT,
    )


@lru_cache(maxsize=1)
def _cached() -> tuple[ReviewConfig | None, str]:
    try:
        return build(), ""
    except ReviewConfigError as exc:
        return None, str(exc)


def get() -> ReviewConfig | None:
    """The active config, or None (off, or misconfigured: see `problem()`)."""
    return _cached()[0]


def problem() -> str:
    """Why the feature is off although switched on ("" when fine or simply off)."""
    return _cached()[1]


def reset() -> None:
    """Forget the cached config (tests that change settings; SIGHUP reload)."""
    _cached.cache_clear()
