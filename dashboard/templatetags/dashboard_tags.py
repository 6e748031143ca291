"""Formatting shared by every dashboard page: UTC timestamps with relative times,
short durations, secret redaction, links to requests and the server-rendered SVG bar
chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil

from dashboard.correlation import format_duration
from notifications.mattermost.redaction import redact
from teleportbridge.sanitize import is_request_id

register = template.Library()


@register.filter
def redacted(text: str) -> str:
    return redact(text)


def relative(dt: datetime, now: datetime | None = None) -> str:
    """'3 hours ago' / 'in 5 minutes' / 'just now', one unit only so tables stay narrow."""
    now = now or timezone.now()
    if abs((now - dt).total_seconds()) < 60:
        return "just now"
    # timesince() joins number and unit with a no-break space; plain text copies better.
    if dt <= now:
        return f"{timesince(dt, now, depth=1)} ago".replace("\xa0", " ")
    return f"in {timeuntil(dt, now, depth=1)}".replace("\xa0", " ")


@register.filter
def utc(dt: datetime | None) -> SafeString | str:
    """`2026-11-25 14:07:03 UTC (3 hours ago)` in a <time> element (machine-readable too)."""
    if not dt:
        return "—"
    dt = dt.astimezone(UTC)
    return format_html(
        '<time datetime="{}">{} UTC <span class="rel">({})</span></time>',
        dt.isoformat(),
        dt.strftime("%Y-%m-%d %H:%M:%S"),
        relative(dt),
    )


def is_linkable_id(request_id: str) -> bool:
    """Only an id the watcher would accept today (teleportbridge.sanitize: letters, digits,
    hyphens) becomes a link. Anything else an older row may hold ("a/b", "../../admin/",
    "..", a space, a NUL) could not be reversed, would resolve to another page, or would be
    normalised away by the browser: it is shown as text and stays searchable."""
    return is_request_id(request_id)


@register.filter
def request_link(request_id: str) -> SafeString:
    """The request id in <code>, linked to its timeline when the id is a safe path segment."""
    if not is_linkable_id(request_id):
        return format_html("<code>{}</code>", request_id)
    url = reverse("dashboard:request", args=[request_id])
    return format_html('<a href="{}"><code>{}</code></a>', url, request_id)


@register.filter
def seconds(value: float | None) -> str:
    """An age in seconds as the health page shows it (— when nothing was measured)."""
    return "—" if value is None else f"{value:.0f} s"


@register.filter
def duration(delta: timedelta | None) -> str:
    return "—" if delta is None else format_duration(delta)


@register.inclusion_tag("dashboard/_svg_bars.html")
def svg_bars(bars: list, height: int = 120, bar_width: int = 28, gap: int = 6) -> dict:
    """A vertical bar chart as inline SVG: no JavaScript, no external assets."""
    label_h = 16
    plot_h = height - 2 * label_h
    items = []
    for i, bar in enumerate(bars):
        h = round(plot_h * bar.pct / 100) if bar.count else 0
        x = i * (bar_width + gap)
        items.append(
            {
                "bar": bar,
                "x": x,
                "cx": x + bar_width / 2,
                "y": label_h + plot_h - h,
                "h": h,
                "count_y": label_h + plot_h - h - 3,
            }
        )
    return {
        "items": items,
        "width": max(len(bars) * (bar_width + gap) - gap, 1),
        "height": height,
        "bar_width": bar_width,
        "label_y": height - 3,
    }
