"""The bridge's own TOML keys (none of them in the Go plugin): every feature is off by default.

`[mattermost] notify_requester / notify_requester_on_post / requester_trait / show_reviewers`,
`[reminders]`, `[audit]` and `[web]`. Kept apart from config.py, which mirrors the Go plugin's
keys and messages; parse_config calls `parse_features` after its own checks. A bad value is
one ConfigError line naming the key, never silently read as a default.
"""

from __future__ import annotations

import dataclasses
import re
import zoneinfo
from datetime import time, timedelta
from typing import Any
from urllib.parse import urlsplit

FEATURE_KEYS = {
    "mattermost": {
        "notify_requester",
        "notify_requester_on_post",
        "requester_trait",
        "show_reviewers",
    },
    "reminders": {
        "after",
        "every",
        "max",
        "escalate_to",
        "escalate_after",
        "quiet_hours",
        "timezone",
    },
    "audit": {"alert_channel", "alert_recipients", "digest_at", "timezone"},
    "web": {"public_url"},
}

DEFAULT_REQUESTER_TRAIT = "mattermost_username"
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclasses.dataclass(frozen=True)
class RequesterConfig:
    notify: bool = False  # a DM on approve/deny/promote/expire
    notify_on_post: bool = False  # a DM when the request is first posted
    trait: str = DEFAULT_REQUESTER_TRAIT  # Teleport user trait holding a Mattermost user name


@dataclasses.dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, at: time) -> bool:
        if self.start <= self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end  # across midnight, e.g. 22:00-07:00


@dataclasses.dataclass(frozen=True)
class RemindersConfig:
    after: timedelta | None = None  # None: reminders off
    every: timedelta | None = None  # None: one reminder only
    max: int = 1
    escalate_to: tuple[str, ...] = ()
    escalate_after: timedelta | None = None
    quiet_hours: QuietHours | None = None
    timezone: str = "UTC"

    @property
    def enabled(self) -> bool:
        return self.after is not None or bool(self.escalate_to)


@dataclasses.dataclass(frozen=True)
class AlertsConfig:
    channel: str = ""  # "team/channel"; "" means no security alerts
    recipients: tuple[str, ...] = ()  # extra direct messages (emails)
    digest_at: time | None = None
    timezone: str = "UTC"

    @property
    def enabled(self) -> bool:
        return bool(self.channel or self.recipients)

    @property
    def handles(self) -> tuple[str, ...]:
        return ((self.channel,) if self.channel else ()) + self.recipients


@dataclasses.dataclass(frozen=True)
class FeaturesConfig:
    requester: RequesterConfig = dataclasses.field(default_factory=RequesterConfig)
    show_reviewers: bool = False
    reminders: RemindersConfig = dataclasses.field(default_factory=RemindersConfig)
    alerts: AlertsConfig = dataclasses.field(default_factory=AlertsConfig)
    public_url: str = ""  # the dashboard's address, for links in alerts


class FeatureError(ValueError):
    """One line naming the key; config.py turns it into a ConfigError."""


def _bool(section: dict, key: str, prefix: str) -> bool:
    value = section.get(key, False)
    if not isinstance(value, bool):
        raise FeatureError(f"{prefix}.{key} must be true or false")
    return value


def _text(section: dict, key: str, prefix: str, default: str = "") -> str:
    value = section.get(key, default)
    if not isinstance(value, str):
        raise FeatureError(f"{prefix}.{key} must be a string")
    return value.strip()


def _handles(section: dict, key: str, prefix: str) -> tuple[str, ...]:
    value = section.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise FeatureError(f"{prefix}.{key} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _clock(text: str, key: str) -> time:
    match = _CLOCK.match(text)
    if match is None:
        raise FeatureError(f'{key} must be a time of day "HH:MM" (24 h), got "{text}"')
    return time(int(match.group(1)), int(match.group(2)))


def _zone(text: str, key: str) -> str:
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise FeatureError(f'{key}: unknown time zone "{text}"') from None
    return text


def _positive(section: dict, key: str, prefix: str, parse_duration) -> timedelta | None:
    raw = _text(section, key, prefix)
    if not raw:
        return None
    value = parse_duration(raw, f"{prefix}.{key}")
    if value <= timedelta(0):
        raise FeatureError(f'{prefix}.{key} must be a positive duration, got "{raw}"')
    return value


def _reminders(rm: dict, parse_duration) -> RemindersConfig:
    after = _positive(rm, "after", "reminders", parse_duration)
    every = _positive(rm, "every", "reminders", parse_duration)
    count = rm.get("max", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 100:
        raise FeatureError("reminders.max must be a whole number from 0 to 100")
    if every is not None and after is None:
        raise FeatureError("reminders.every requires reminders.after")
    escalate_to = _handles(rm, "escalate_to", "reminders")
    escalate_after = _positive(rm, "escalate_after", "reminders", parse_duration)
    if escalate_to and escalate_after is None:
        raise FeatureError("reminders.escalate_to requires reminders.escalate_after")
    if escalate_after is not None and not escalate_to:
        raise FeatureError("reminders.escalate_after requires reminders.escalate_to")
    quiet = None
    quiet_raw = _text(rm, "quiet_hours", "reminders")
    if quiet_raw:
        start, sep, end = quiet_raw.partition("-")
        if not sep:
            raise FeatureError(f'reminders.quiet_hours must be "HH:MM-HH:MM", got "{quiet_raw}"')
        quiet = QuietHours(
            _clock(start.strip(), "reminders.quiet_hours"),
            _clock(end.strip(), "reminders.quiet_hours"),
        )
        if quiet.start == quiet.end:
            raise FeatureError("reminders.quiet_hours must not start and end at the same time")
    return RemindersConfig(
        after=after,
        every=every,
        max=count,
        escalate_to=escalate_to,
        escalate_after=escalate_after,
        quiet_hours=quiet,
        timezone=_zone(_text(rm, "timezone", "reminders", "UTC") or "UTC", "reminders.timezone"),
    )


def _alerts(au: dict) -> AlertsConfig:
    channel = _text(au, "alert_channel", "audit")
    if channel and channel.count("/") != 1:
        raise FeatureError(f'audit.alert_channel must be "team/channel", got "{channel}"')
    digest_raw = _text(au, "digest_at", "audit")
    alerts = AlertsConfig(
        channel=channel,
        recipients=_handles(au, "alert_recipients", "audit"),
        digest_at=_clock(digest_raw, "audit.digest_at") if digest_raw else None,
        timezone=_zone(_text(au, "timezone", "audit", "UTC") or "UTC", "audit.timezone"),
    )
    if alerts.digest_at is not None and not alerts.enabled:
        raise FeatureError("audit.digest_at requires audit.alert_channel or audit.alert_recipients")
    return alerts


def _public_url(web: dict) -> str:
    url = _text(web, "public_url", "web").rstrip("/")
    if url:
        parts = urlsplit(url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or any(c.isspace() or ord(c) < 32 for c in url)
        ):
            raise FeatureError(f'web.public_url must be an http(s) URL, got "{url}"')
    return url


def parse_features(data: dict[str, Any], parse_duration) -> FeaturesConfig:
    """The feature keys of an already-parsed TOML document (sections known to be tables)."""
    mm = data.get("mattermost", {})
    trait = _text(mm, "requester_trait", "mattermost", DEFAULT_REQUESTER_TRAIT)
    return FeaturesConfig(
        requester=RequesterConfig(
            notify=_bool(mm, "notify_requester", "mattermost"),
            notify_on_post=_bool(mm, "notify_requester_on_post", "mattermost"),
            trait=trait,
        ),
        show_reviewers=_bool(mm, "show_reviewers", "mattermost"),
        reminders=_reminders(data.get("reminders", {}), parse_duration),
        alerts=_alerts(data.get("audit", {})),
        public_url=_public_url(data.get("web", {})),
    )
