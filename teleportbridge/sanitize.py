"""What may be stored from Teleport, and in what shape: the ingest boundary.

Teleport is trusted to be Teleport, not to send only tidy values: a reason may hold a NUL,
a user name may be 100,000 characters, an id may not be a UUID. PostgreSQL refuses the
first two and SQLite stores them, and an id with "/" breaks every URL built from it. So
values are normalised here the same way for both databases (NUL removed, long values cut
with a visible marker to what their column holds), ids are checked, and a record that
still cannot be stored is quarantined (models.RejectedEvent) instead of being retried in a
loop in front of every record after it.
"""

from __future__ import annotations

import re
from typing import Any

from common.request_log import escape_controls

#: Shown where a value was cut to fit its column; the original length follows it.
CUT_MARKER = "…"

# Teleport names access requests with uuid.New(). We accept the shape of an id, not only a
# UUID: letters, digits and hyphens, at most 64 (the column), starting with a letter or
# digit. That is safe in a URL path, a Mattermost post and a log line as it is, while an
# id with "/", spaces or markdown is refused at the boundary instead of escaped everywhere.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


def is_request_id(value: str) -> bool:
    """Shaped like a Teleport access request id (see above), nothing around it."""
    return _REQUEST_ID.fullmatch(value) is not None


def text(value: str) -> str:
    """Free text as both databases can hold it: NUL removed (PostgreSQL refuses it)."""
    return value.replace("\x00", "") if "\x00" in value else value


def fit(value: str, max_length: int) -> str:
    """`text(value)`, cut to `max_length` characters with a marker naming the original size."""
    value = text(value)
    if len(value) <= max_length:
        return value
    tail = f"{CUT_MARKER}[{len(value)} chars]"
    return value[: max(max_length - len(tail), 0)] + tail


def texts(values: list[str]) -> list[str]:
    return [text(v) for v in values]


def json_value(value: Any) -> Any:
    """A JSON value with NUL removed from every string, keys included (JSONB refuses it)."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {text(str(k)): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def shown(value: str, limit: int = 120) -> str:
    """An outside value safe for a log line or an admin list: control characters escaped
    as the text log formatter does (common.request_log), one line, and short."""
    escaped = escape_controls(value)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + CUT_MARKER
