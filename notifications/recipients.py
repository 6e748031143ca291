"""Who hears about a request: TOML routing, suggested reviewers, monitoring rules, admin.

Precedence mirrors the official plugin: when
matching access monitoring rules name recipients, they replace the TOML routing and the
suggested reviewers. Admin-managed recipients are our addition and always apply.
Resolution turns each handle into a Mattermost channel id; a failed lookup skips that
recipient (with a hint for the classic display-name mistake), never the whole request.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from common.ttl_cache import TTLCache
from notifications import runtime
from notifications.mattermost.errors import PermanentError
from notifications.models import ChannelLookup, Recipient
from notifications.recipient_handles import display_name_hint, is_email, parse_handle
from notifications.request_facts import facts_for, user_traits
from teleportbridge.amr import rules as amr_rules
from teleportbridge.amr.rules import RuleResult, applicable_rules
from teleportbridge.config import Config
from teleportbridge.models import AccessRequest
from teleportbridge.sanitize import shown

log = logging.getLogger(__name__)

LOOKUP_TTL = timedelta(minutes=10)

#: Seconds a process keeps the admin recipients and resolved channels without asking
#: the database again (common.ttl_cache). An edit in the admin clears this process's
#: copy at once (signals below); other processes see it within this many seconds, i.e.
#: for requests planned after that.
SETTINGS_TTL = 5.0
_admins: TTLCache[list[tuple[str, str]]] = TTLCache(SETTINGS_TTL)
# handle -> channel id, only successful lookups; a row deleted or re-checked by another
# process is seen within CHANNEL_TTL (never later than its DB row's own LOOKUP_TTL).
CHANNEL_TTL = 60.0
_channels: TTLCache[str] = TTLCache(CHANNEL_TTL)


@receiver([post_save, post_delete], sender=Recipient)
def _settings_changed(**_kwargs: object) -> None:
    _admins.clear()


@receiver([post_save, post_delete], sender=ChannelLookup)
def _lookup_changed(instance: ChannelLookup, **_kwargs: object) -> None:
    _channels.discard(instance.handle)


def _admin_recipients() -> list[tuple[str, str]]:
    """(handle, role pattern) of the enabled admin recipients."""
    return _admins.get(
        "enabled",
        lambda: list(Recipient.objects.filter(enabled=True).values_list("handle", "role_pattern")),
    )


# ChannelLookup.handle and Post.recipient hold this much; RFC 5321 caps an address at 254.
HANDLE_MAX = 255


@dataclasses.dataclass
class Wanted:
    handle: str
    source: str  # "rule:<name>", "config", "suggested", "admin"
    skipped: str = ""  # why this one is not looked up (recorded on the plan)


@dataclasses.dataclass
class Resolved:
    handle: str
    source: str
    channel_id: str = ""
    error: str = ""

    def as_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def rule_results(
    request: AccessRequest,
    *,
    record: bool = True,
    resource_labels: tuple[Mapping[str, str], ...] = (),
) -> list[RuleResult]:
    """Evaluate the plugin's access monitoring rules for this request, recording their
    health unless `record` is False (amr-test). Traits are only fetched when some rule
    reads `user.traits`."""
    rules = applicable_rules()
    if not rules:
        return []
    traits = None
    if any("user.traits" in r.condition for r in rules):
        traits = user_traits(request.user)
    facts = facts_for(request, traits=traits, resource_labels=resource_labels)
    return amr_rules.route(facts) if record else amr_rules.evaluate(rules, facts)


def route_request(
    request: AccessRequest,
    cfg: Config,
    *,
    use_rules: bool = True,
    record: bool = True,
    resource_labels: tuple[Mapping[str, str], ...] = (),
) -> tuple[list[Wanted], list[RuleResult]]:
    """Raw recipient handles, de-duplicated, with where each came from, and the rules' verdicts.

    With `use_rules=False` the TOML routing and suggested reviewers apply whatever the rules
    say (the caller's fallback when no rule recipient resolves to a channel).
    """
    results = (
        rule_results(request, record=record, resource_labels=resource_labels) if use_rules else []
    )
    wanted = [Wanted(h, f"rule:{r.name}") for r in results if r.matched for h in r.recipients]
    if not wanted:
        wanted = [Wanted(h, "config") for h in cfg.recipients_for_roles(request.roles)]
        wanted += _suggested(request.suggested_reviewers)
    for handle, role_pattern in _admin_recipients():
        pattern = role_pattern.strip()
        if not pattern or any(fnmatch.fnmatchcase(role, pattern) for role in request.roles):
            wanted.append(Wanted(handle, "admin"))
    seen: set[str] = set()
    unique = []
    for w in wanted:
        if w.handle not in seen:
            seen.add(w.handle)
            unique.append(w)
    return unique, results


def wanted_recipients(request: AccessRequest, cfg: Config) -> list[Wanted]:
    """Raw recipient handles for a request (see route_request)."""
    return route_request(request, cfg)[0]


def _suggested(reviewers: list[str]) -> list[Wanted]:
    """Suggested reviewers with a valid email, at most NOTIFY_MAX_SUGGESTED_REVIEWERS of them
    (300 names must not mean 300 lookups and 300 DMs); the rest are kept as skipped."""
    limit = getattr(settings, "NOTIFY_MAX_SUGGESTED_REVIEWERS", 20)
    out: list[Wanted] = []
    valid = 0
    for reviewer in reviewers:
        if not is_email(reviewer):
            log.warning(
                "Failed to notify a suggested reviewer with an invalid email address: %s",
                shown(reviewer),
            )
        elif valid >= limit:
            out.append(
                Wanted(
                    reviewer, "suggested", skipped=f"over the limit of {limit} suggested reviewers"
                )
            )
        else:
            valid += 1
            out.append(Wanted(reviewer, "suggested"))
    over = len(out) - valid
    if over:
        log.warning(
            "Not notifying %d suggested reviewer(s) past the first %d "
            "(NOTIFY_MAX_SUGGESTED_REVIEWERS)",
            over,
            limit,
        )
    return out


def _lookup(handle: str) -> str:
    """Channel id for one handle; PermanentError when Mattermost says it does not exist."""
    client = runtime.mattermost()
    parsed = parse_handle(handle)
    if parsed.kind == "email":
        user = client.get_user_by_email(parsed.email)
        bot = client.get_me()
        return str(client.create_direct_channel(bot["id"], user["id"])["id"])
    return str(client.get_channel_by_name(parsed.team, parsed.channel)["id"])


def resolve(handle: str) -> str:
    """Resolve with a short-lived cache; raises ValueError/PermanentError/TransientError."""
    if len(handle) > HANDLE_MAX:
        # No Mattermost email or team/channel name is this long, and the lookup cache's key
        # could not hold it: refuse it here rather than fail the whole request's plan.
        raise PermanentError(f"recipient is longer than {HANDLE_MAX} characters", status=None)
    # _stored_lookup caches what it finds itself (with the row's remaining lifetime).
    known = _channels.get(handle, lambda: _stored_lookup(handle), keep=lambda _: False)
    if known:
        return known
    try:
        channel_id = _lookup(handle)
    except (ValueError, PermanentError) as exc:
        error = str(exc)
        if isinstance(exc, PermanentError):
            error = f"{error} — {display_name_hint(parse_handle(handle))}"
        ChannelLookup.objects.update_or_create(
            handle=handle, defaults={"channel_id": "", "error": error}
        )
        Recipient.objects.filter(handle=handle).update(
            last_lookup_error=error, last_lookup_at=timezone.now()
        )
        raise PermanentError(error, status=getattr(exc, "status", None)) from None
    ChannelLookup.objects.update_or_create(
        handle=handle, defaults={"channel_id": channel_id, "error": ""}
    )
    Recipient.objects.filter(handle=handle).update(
        last_lookup_error="", last_lookup_at=timezone.now()
    )
    _channels.put(handle, channel_id)
    return channel_id


def _stored_lookup(handle: str) -> str:
    """The channel id a lookup stored less than LOOKUP_TTL ago, or ""."""
    now = timezone.now()
    cached = ChannelLookup.objects.filter(handle=handle, checked_at__gte=now - LOOKUP_TTL).first()
    if cached is None or not cached.channel_id:
        return ""
    left = (cached.checked_at + LOOKUP_TTL - now).total_seconds()
    _channels.put(handle, cached.channel_id, ttl=min(CHANNEL_TTL, left))
    return cached.channel_id


def resolve_all(wanted: list[Wanted]) -> list[Resolved]:
    """Resolve every handle; failures are kept (with the reason) for the record.

    A TransientError propagates: the plan is not final until Mattermost answered.
    """
    out: list[Resolved] = []
    for w in wanted:
        if w.skipped:
            out.append(Resolved(w.handle, w.source, error=f"skipped: {w.skipped}"))
            continue
        try:
            out.append(Resolved(w.handle, w.source, channel_id=resolve(w.handle)))
        except PermanentError as exc:
            log.warning(
                "Failure when fetching recipient %s, continuing anyway: %s", shown(w.handle), exc
            )
            out.append(Resolved(w.handle, w.source, error=str(exc)))
    return out
