"""Codec for the plugin data the Go plugin stores in Teleport for each access request.

Byte compatibility matters here more than anywhere: the official plugin and this bridge must be
able to take over from each other, and every write is a compare-and-swap whose ``expect`` map
is the encoding of what was read. So ``encode`` writes exactly the keys the Go codec writes,
in the same formats (Go ``encoding/json`` bytes, RFC 3339, ``<channel>/<post>`` lists):

* always: ``user``, ``roles``, ``resources``, ``request_reason``, ``reviews_count``,
  ``resolution``, ``resolve_reason``, ``messages`` (``""`` when empty, which the server treats
  as "delete" in ``set`` and "must be absent" in ``expect``);
* only when set: ``max_duration``, ``system_annotations``, ``suggested_reviewers``,
  ``logins_by_role``. The Go encoder leaves these keys *out* of the map when empty, so a CAS
  neither checks nor deletes them; writing ``""`` instead would change the CAS semantics.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

__all__ = [
    "ALWAYS_KEYS",
    "OPTIONAL_KEYS",
    "PLUGIN_NAME",
    "Message",
    "PluginData",
    "PluginDataError",
    "decode",
    "empty_expect",
    "encode",
    "go_json",
]

#: Plugin name of the data entry (``GetPluginData``/``UpdatePluginData``).
PLUGIN_NAME = "mattermost"

#: Keys the Go encoder always writes, in its order.
ALWAYS_KEYS = (
    "user",
    "roles",
    "resources",
    "request_reason",
    "reviews_count",
    "resolution",
    "resolve_reason",
    "messages",
)
#: Keys the Go encoder writes only when the value is set/non-empty.
OPTIONAL_KEYS = ("max_duration", "system_annotations", "suggested_reviewers", "logins_by_role")


class PluginDataError(ValueError):
    """Stored plugin data the Go codec would also refuse (bad JSON, bad RFC 3339 time)."""


class Message(NamedTuple):
    """One posted root message; a plain ``(channel_id, post_id)`` tuple compares equal."""

    channel_id: str
    post_id: str


@dataclass
class PluginData:
    """Decoded plugin data. ``resolution`` is ``""`` (unresolved) or a resolution tag."""

    user: str = ""
    roles: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    request_reason: str = ""
    reviews_count: int = 0
    resolution: str = ""
    resolve_reason: str = ""
    max_duration: datetime | None = None
    system_annotations: dict[str, list[str]] = field(default_factory=dict)
    suggested_reviewers: list[str] = field(default_factory=list)
    logins_by_role: dict[str, list[str]] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Go encoding/json and time formats
# --------------------------------------------------------------------------------------------

_GO_HTML_SAFE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_GO_JSON_FIXUPS = re.compile("[<>&\u2028\u2029\ud800-\udfff]")


def go_json(value: object) -> str:
    """``json.Marshal`` bytes: compact, map keys sorted, UTF-8 kept, HTML-escaped.

    Go escapes ``<``, ``>``, ``&``, U+2028 and U+2029 by default and writes invalid UTF-8 as
    the escape ``\\ufffd``; Python's compact ``ensure_ascii=False`` output matches it otherwise
    (including the short ``\\b``/``\\f`` escapes Go has used since 1.22). Those characters can
    only occur inside JSON strings, so a textual fix-up of the output is safe.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return _GO_JSON_FIXUPS.sub(lambda m: _GO_HTML_SAFE.get(m.group(), "\\ufffd"), text)


def _format_rfc3339(moment: datetime) -> str:
    """Go ``time.RFC3339``: whole seconds, ``Z`` for a zero offset; naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.utcoffset() or timedelta(0)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if not offset:
        return base + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{base}{sign}{hours:02d}:{mins:02d}"


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})"
)


def _parse_rfc3339(text: str) -> datetime:
    match = _RFC3339.fullmatch(text)
    if not match:
        raise PluginDataError(f"max_duration is not RFC 3339: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if zone == "Z":
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError as exc:
        raise PluginDataError(f"max_duration is not RFC 3339: {text!r}") from exc


_INT64_MAX = 2**63 - 1
_SSCANF_INT = re.compile(r"[ \t]*([+-]?[0-9]+)")


def _sscanf_int(text: str) -> int:
    """``fmt.Sscanf(str, "%d", &n)``: a leading decimal integer, anything after ignored;
    0 when there is none or it overflows (Go leaves the variable untouched on error)."""
    match = _SSCANF_INT.match(text)
    if not match:
        return 0
    value = int(match.group(1))
    return value if -_INT64_MAX - 1 <= value <= _INT64_MAX else 0


# --------------------------------------------------------------------------------------------
# Codec
# --------------------------------------------------------------------------------------------


def encode(pd: PluginData) -> dict[str, str]:
    """The map the Go codec writes for ``pd`` (see the module docstring for the key set)."""
    result = {
        "user": pd.user,
        "roles": ",".join(pd.roles),
        "resources": go_json(list(pd.resources)) if pd.resources else "",
        "request_reason": pd.request_reason,
        "reviews_count": str(pd.reviews_count) if pd.reviews_count > 0 else "",
        "resolution": pd.resolution,
        "resolve_reason": pd.resolve_reason,
    }
    if pd.max_duration is not None:
        result["max_duration"] = _format_rfc3339(pd.max_duration)
    if pd.system_annotations:
        result["system_annotations"] = go_json(pd.system_annotations)
    if pd.suggested_reviewers:
        result["suggested_reviewers"] = go_json(list(pd.suggested_reviewers))
    if pd.logins_by_role:
        # A role without logins is a nil slice in Go, which json.Marshal writes as null.
        result["logins_by_role"] = go_json({k: (v or None) for k, v in pd.logins_by_role.items()})
    result["messages"] = ",".join(f"{channel}/{post}" for channel, post in pd.messages)
    return result


def empty_expect() -> dict[str, str]:
    """``expect`` for the initial create: the encoding of empty data, every key ``""``
    ("must be absent"). Like the plugin, only the always-written keys are listed."""
    return encode(PluginData())


def _json_field(data: dict[str, str], key: str, kind: type) -> object:
    raw = data.get(key, "")
    if not raw:  # absent (the server never stores ""); Go would fail on "", we are tolerant
        return kind()
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise PluginDataError(f"{key} is not valid JSON: {exc}") from exc
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise PluginDataError(f"{key} is not a JSON {kind.__name__}")
    return value


def _string_lists(value: dict, key: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, items in value.items():
        if items is None:
            items = []
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise PluginDataError(f"{key}[{name!r}] is not a list of strings")
        out[name] = items
    return out


def _strings(value: list, key: str) -> list[str]:
    if not all(isinstance(i, str) for i in value):
        raise PluginDataError(f"{key} is not a list of strings")
    return value


def decode(data: dict[str, str]) -> PluginData:
    """Read plugin data written by the Go plugin (or by :func:`encode`); missing keys are empty.

    Also reads Slack's legacy single-message form (``channel_id`` + ``timestamp``), which the
    shared Go codec accepts, before ``messages``; the old Mattermost ``postID`` key is not read,
    like current plugin versions. Malformed ``messages`` items (not exactly one ``/``) are
    skipped as in Go. Raises :class:`PluginDataError` where the Go codec returns an error.
    """
    pd = PluginData(
        user=data.get("user", ""),
        roles=data["roles"].split(",") if data.get("roles") else [],
        request_reason=data.get("request_reason", ""),
        reviews_count=_sscanf_int(data.get("reviews_count", "")),
        resolution=data.get("resolution", ""),
        resolve_reason=data.get("resolve_reason", ""),
    )
    if data.get("max_duration"):
        pd.max_duration = _parse_rfc3339(data["max_duration"])
    pd.resources = _strings(_json_field(data, "resources", list), "resources")  # type: ignore[arg-type]
    pd.system_annotations = _string_lists(
        _json_field(data, "system_annotations", dict),  # type: ignore[arg-type]
        "system_annotations",
    )
    pd.suggested_reviewers = _strings(
        _json_field(data, "suggested_reviewers", list),  # type: ignore[arg-type]
        "suggested_reviewers",
    )
    pd.logins_by_role = _string_lists(
        _json_field(data, "logins_by_role", dict),  # type: ignore[arg-type]
        "logins_by_role",
    )

    channel_id, timestamp = data.get("channel_id", ""), data.get("timestamp", "")
    if channel_id and timestamp:
        pd.messages.append(Message(channel_id, timestamp))
    for item in data["messages"].split(",") if data.get("messages") else []:
        parts = item.split("/")
        if len(parts) == 2:
            pd.messages.append(Message(parts[0], parts[1]))
    return pd
