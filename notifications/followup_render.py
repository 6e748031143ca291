"""Texts of the bridge-only follow-ups: requester DMs, reminders, the reviews line, alerts.

None of these exist in the Go plugin, so there is no byte-exact template to copy; they use
the same escaping as the hardened root posts: names through `safe_inline`, free text
through `escape_reason(safe=True)`, sizes through `fit_message`. User text can therefore
neither mention, link nor format.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from notifications.escaping import escape_reason, fit_message, safe_inline
from teleportbridge.sanitize import is_request_id

STATE_EMOJI = {"APPROVED": "✅", "DENIED": "❌", "PROMOTED": "⤴️", "EXPIRED": "⌛"}


def human_age(delta: timedelta) -> str:
    """ "30 minutes", "1 hour 5 minutes", "2 days 3 hours" (or "5 seconds"): how old."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:  # only with very short `after` settings (the demo's)
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = seconds // 60
    days, rem = divmod(minutes, 24 * 60)
    hours, mins = divmod(rem, 60)

    def unit(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    if days:
        return unit(days, "day") + (f" {unit(hours, 'hour')}" if hours else "")
    if hours:
        return unit(hours, "hour") + (f" {unit(mins, 'minute')}" if mins else "")
    return unit(mins, "minute")


def _roles(roles: Sequence[str]) -> str:
    return ", ".join(safe_inline(r) for r in roles)


def requester_posted(request_id: str, roles: Sequence[str], channels: int) -> str:
    """The optional DM when the request is first posted."""
    where = "1 channel" if channels == 1 else f"{channels} channels"
    return fit_message(
        f"Your access request `{request_id}` for {_roles(roles)} was sent to {where} for review."
    )


def requester_resolved(
    *,
    request_id: str,
    state: str,
    roles: Sequence[str],
    resolved_by: Sequence[str],
    reason: str,
    logins: Sequence[str],
    link: str | None,
) -> str:
    """The DM when the request is approved, denied, promoted or expires."""
    emoji = STATE_EMOJI.get(state, "")
    lines = [f"{emoji} Your access request `{request_id}` was **{state}**."]
    if resolved_by:
        lines.append(f"**By**: {', '.join(safe_inline(a) for a in resolved_by)}")
    lines.append(f"**Roles**: {_roles(roles)}")
    if reason:
        lines.append(f"**Reason**: {escape_reason(reason, safe=True)}")
    if state == "APPROVED":
        if logins:
            lines.append(f"**Logins**: {', '.join(safe_inline(x) for x in logins)}")
        lines.append(f"**Use it**: `tsh login --request-id={request_id}`")
    if link:
        lines.append(f"**Link**: [{link}]({link})")
    return fit_message("\n".join(lines))


def reminder(age: timedelta, number: int, total: int) -> str:
    """The thread reply of one reminder slot (number counts from 1)."""
    tail = f" (reminder {number} of {total})" if total > 1 else ""
    return f"⏰ Still waiting for review: this request is {human_age(age)} old{tail}."


def reviews_line(reviews: Iterable[tuple[str, str]]) -> str:
    """`**Reviews**: ✅ bob, ❌ carol` for (author, proposed state) pairs; "" when none."""
    shown = [f"{STATE_EMOJI.get(state, '')} {safe_inline(author)}" for author, state in reviews]
    return f"**Reviews**: {', '.join(shown)}\n" if shown else ""


ALERT_TITLES = {
    "review_without_notification": "a review of a request we never notified",
    "notification_failed": "a notification that failed",
    "resolution_without_review": "a resolution without any review",
    "late_review": "a late review",
}


def alert(kind: str, request_id: str, detail: str, link: str | None) -> str:
    """One security alert: what, which request, why, and the dashboard timeline."""
    lines = [f"🚨 **Access request anomaly**: {ALERT_TITLES.get(kind, safe_inline(kind))}"]
    if request_id:
        # Review anomalies carry whatever id the audit log named: code-quoted only when it
        # is an id the watcher accepts, else escaped as plain text.
        shown = f"`{request_id}`" if is_request_id(request_id) else safe_inline(request_id)
        lines.append(f"**Request ID**: {shown}")
    if detail:
        lines.append(f"**Detail**: {escape_reason(detail, safe=True)}")
    if link:
        lines.append(f"**Timeline**: [{link}]({link})")
    return fit_message("\n".join(lines))


def digest(
    day: str,
    by_state: dict[str, int],
    median_first_review: timedelta | None,
    failed: int,
    anomalies: int,
    link: str | None,
) -> str:
    """The daily summary of the last 24 hours."""
    states = ", ".join(f"{k.lower()} {v}" for k, v in sorted(by_state.items())) or "none"
    median = human_age(median_first_review) if median_first_review is not None else "n/a"
    lines = [
        f"📋 **Access requests, last 24 hours** ({day})",
        f"**Requests**: {sum(by_state.values())} ({states})",
        f"**Median time to first review**: {median}",
        f"**Failed deliveries**: {failed}",
        f"**Anomalies**: {anomalies}",
    ]
    if link:
        lines.append(f"**Dashboard**: [{link}]({link})")
    return fit_message("\n".join(lines))
