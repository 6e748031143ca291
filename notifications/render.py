"""Text of the Mattermost posts: root posts, review replies, reason escaping, request links.

Two outputs exist on purpose:

* ``strict_compat=True`` is **identical to the Go plugin** (teleport-mattermost, current master):
  same template, same escaping quirks (byte-offset truncation, closing fence glued to the text,
  names inserted verbatim). The golden tests pin it byte for byte, because the product is a
  drop-in replacement and people grep, diff and screenshot these posts.
* ``strict_compat=False`` (the default) is the *hardened* output. The product requirement is
  that user-supplied text (reasons, user names, role names, review authors) can neither notify
  people (``@channel``, ``@all``, ``@here``, ``@someone``) nor render as links/markup outside
  the code spans, and that a post always fits Mattermost's size limit. For ordinary inputs
  (``alice``, ``bob@example.com``, ``editor``, a single-line reason such as
  ``need prod access``) it is byte-for-byte the strict output; it differs only where the
  strict output would let user text escape.

The escaping and size hardening live in :mod:`notifications.escaping`, the Go string
primitives in :mod:`notifications.gotext`; both are re-exported here.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from notifications.escaping import (
    MAX_POST_BYTES,
    MAX_POST_RUNES,
    escape_reason,
    fit_message,
    post_fits,
    safe_inline,
)
from notifications.gotext import go_escaped_path, go_path_escape

#: Root-post status line emoji. Anything not listed (PROMOTED, unknown tags) gets none,
#: which yields two spaces in ``**Status**:  PROMOTED`` exactly like the plugin.
STATUS_EMOJI: dict[str, str] = {
    "PENDING": "\u23f3",  # ⏳
    "APPROVED": "\u2705",  # ✅
    "DENIED": "\u274c",  # ❌
    "EXPIRED": "\u231b",  # ⌛
}

#: Review-reply emoji: only approve/deny have one in the plugin.
_REVIEW_EMOJI: dict[str, str] = {"APPROVED": "\u2705", "DENIED": "\u274c"}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --------------------------------------------------------------------------------------------
# Root post
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RootPostData:
    """What the root post shows. ``status`` is the plugin-data resolution tag, ``""``
    (unresolved) being shown as ``PENDING``; ``link`` is :func:`request_link`'s result."""

    request_id: str
    user: str
    roles: Sequence[str] = field(default_factory=tuple)
    reason: str = ""
    status: str = "PENDING"
    resolve_reason: str = ""
    link: str | None = None
    # Friendly names of the requested resources; a line only when non-empty (the caller
    # passes them only with `[mattermost] show_resources = true`).
    resources: Sequence[str] = field(default_factory=tuple)


#: How many resource names the `**Resources**:` line lists before "and K more".
SHOWN_RESOURCES_MAX = 5


def resources_line(names: Sequence[str], safe: bool) -> str:
    shown = [safe_inline(n) if safe else n for n in names[:SHOWN_RESOURCES_MAX]]
    more = len(names) - len(shown)
    return "**Resources**: " + ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _render_root(data: RootPostData, user: str, roles: Sequence[str], safe: bool) -> str:
    status = data.status or "PENDING"
    # The watcher only stores ids made of letters, digits and hyphens; escaping here too
    # keeps a post safe whatever a future caller passes (an id is also in code spans).
    rid = safe_inline(data.request_id) if safe else data.request_id
    code_rid = _code_span_safe(data.request_id) if safe else data.request_id
    pending = status == "PENDING"
    reason = f"**Reason**: {escape_reason(data.reason, safe=safe)}" if data.reason else ""
    resolution = (
        f"**Resolution reason**: {escape_reason(data.resolve_reason, safe=safe)}"
        if data.resolve_reason
        else ""
    )
    lines = [
        "*You have new pending request to review!*" if pending else "",
        f"**User**: {user}",
        "**Roles**: " + ", ".join(roles),
        *([resources_line(list(data.resources), safe)] if data.resources else []),
        f"**Request ID**: {rid}",
        reason,
        f"**Status**: {STATUS_EMOJI.get(status, '')} {status}",
        resolution,
    ]
    text = "".join(line + "\n" for line in lines)
    if data.link:
        text += f"**Link**: [{data.link}]({data.link})\n"
    elif pending:
        text += (
            f"**Approve**: `tsh request review --approve {code_rid}`\n"
            f"**Deny**: `tsh request review --deny {code_rid}`"
        )
    return text


def render_root_post(
    data: RootPostData,
    *,
    strict_compat: bool = False,
    max_runes: int = MAX_POST_RUNES,
) -> str:
    """The root post text (the Go plugin's template): seven ``\\n``-terminated lines, then the tail.

    ``strict_compat=True`` is identical to the Go plugin, size included (an oversized post is
    what the plugin would send, and be refused). The default hardened output escapes names,
    guards reasons and keeps the post within ``max_runes`` (use :data:`MAX_POST_RUNES_V1` for
    servers on the old schema) by shortening the role list first, because the request id,
    status and link lines are what reviewers need most.
    """
    if strict_compat:
        return _render_root(data, data.user, list(data.roles), safe=False)

    def fits(text: str) -> bool:
        return post_fits(text, max_runes, MAX_POST_BYTES)

    def shortened(d: RootPostData, keep: int) -> str:
        roles = [safe_inline(role) for role in d.roles]
        more = [f"… (+{len(roles) - keep} more)"] if keep < len(roles) else []
        return _render_root(d, safe_inline(d.user), roles[:keep] + more, safe=True)

    def most_roles(d: RootPostData) -> int:
        """The largest number of roles that fits (monotonic, so bisection)."""
        low, high = 0, len(d.roles)
        while low < high:
            mid = (low + high + 1) // 2
            if fits(shortened(d, mid)):
                low = mid
            else:
                high = mid - 1
        return low

    text = shortened(data, len(data.roles))
    if fits(text):
        return text
    keep = most_roles(data)
    if fits(shortened(data, keep)):
        return shortened(data, keep)
    # Roles alone are not enough (a 100,000-character user name or reason): clip the free
    # text fields to the longest common length that fits, so the request id, status and
    # link (what a reviewer acts on) always survive; then give roles back what room is left.
    longest = max(len(data.user), len(data.reason), len(data.resolve_reason))
    low, high = 0, longest
    while low < high:
        mid = (low + high + 1) // 2
        if fits(shortened(_clipped(data, mid), keep)):
            low = mid
        else:
            high = mid - 1
    clipped = _clipped(data, low)
    return fit_message(shortened(clipped, most_roles(clipped)), max_runes)


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit] + f"… (+{len(value) - limit} chars)"


def _clipped(data: RootPostData, limit: int) -> RootPostData:
    """The free text fields (user, reason, resolution reason) cut to `limit` characters."""
    return dataclasses.replace(
        data,
        user=_clip(data.user, limit),
        reason=_clip(data.reason, limit),
        resolve_reason=_clip(data.resolve_reason, limit),
    )


def _code_span_safe(value: str) -> str:
    """Text that cannot leave the inline code span it is put in (no backtick, one line) nor
    mention anyone (a zero-width space after "@", as safe_inline does)."""
    return " ".join(value.replace("`", "'").replace("@", "@\u200b").split())


# --------------------------------------------------------------------------------------------
# Review reply
# --------------------------------------------------------------------------------------------


def _rfc822_utc(created: datetime | None) -> str:
    """Go ``time.RFC822`` (``02 Jan 06 15:04 MST``) of a UTC time; naive means UTC.

    ``None`` stands for Go's zero time, which an unset protobuf timestamp becomes.
    """
    if created is None:
        return "01 Jan 01 00:00 UTC"
    if created.tzinfo is not None:
        created = created.astimezone(UTC)
    return (
        f"{created.day:02d} {_MONTHS[created.month - 1]} {created.year % 100:02d} "
        f"{created.hour:02d}:{created.minute:02d} UTC"
    )


def render_review_reply(
    author: str,
    created: datetime | None,
    proposed_state: str,
    reason: str,
    *,
    strict_compat: bool = False,
) -> str:
    """The thread reply for one review (the Go plugin's template).

    ``<author> reviewed the request at <created>.\\nResolution: <emoji> <STATE>.\\n`` followed
    by ``Reason: <escaped>.`` only when the review has a reason (no trailing newline either
    way). ``proposed_state`` is the Go enum name (``APPROVED``, ``DENIED``, ``PROMOTED``...).
    """
    safe = not strict_compat
    shown_author = safe_inline(author) if safe else author
    emoji = _REVIEW_EMOJI.get(proposed_state, "")
    text = (
        f"{shown_author} reviewed the request at {_rfc822_utc(created)}.\n"
        f"Resolution: {emoji} {proposed_state}.\n"
    )
    if reason:
        text += f"Reason: {escape_reason(reason, safe=safe)}."
    return text if strict_compat else fit_message(text)


# --------------------------------------------------------------------------------------------
# Link
# --------------------------------------------------------------------------------------------

_PORT = re.compile(r":[0-9]*")


def _split_host_port(host: str) -> tuple[str, str]:
    """Go ``url.URL.Hostname()``/``Port()``: brackets of an IPv6 literal are removed."""
    name, port = host, ""
    colon = host.rfind(":")
    if colon != -1 and _PORT.fullmatch(host[colon:]):
        name, port = host[:colon], host[colon + 1 :]
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name, port


def request_link(proxy_public_addr: str, request_id: str) -> str | None:
    """The plugin's request URL: ``AddrToURL(proxy)`` with path ``/web/requests/<id>``.

    No scheme → ``https://`` is prepended (only a lowercase ``http://``/``https://`` prefix
    counts as a scheme, as in the plugin); ``:443`` is dropped for https, other ports kept.
    Returns None for an empty address (the plugin then shows the tsh commands instead).
    The id is ``PathEscape``d and the path escaped again on output, as Go's ``url.URL`` does
    (a no-op for Teleport's UUIDs). Raises ValueError where Go's ``url.Parse`` would fail
    (control characters, a non-numeric port), which stops the plugin at start-up.
    """
    if not proxy_public_addr:
        return None
    addr = proxy_public_addr
    if not addr.startswith(("http://", "https://")):
        addr = "https://" + addr
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in addr):
        raise ValueError(f"invalid control character in URL {addr!r}")
    addr, hash_mark, fragment = addr.partition("#")
    scheme, _, rest = addr.partition("://")
    rest, question, query = rest.partition("?")
    slash = rest.find("/")
    authority = rest if slash == -1 else rest[:slash]
    userinfo, at, host = authority.rpartition("@")
    if host.startswith("["):
        close = host.find("]")
        if close == -1 or not _PORT.fullmatch(host[close + 1 :] or ":"):
            raise ValueError(f"invalid host in URL {proxy_public_addr!r}")
    elif ":" in host and not _PORT.fullmatch(host[host.rfind(":") :]):
        raise ValueError(f"invalid port in URL {proxy_public_addr!r}")
    if scheme == "https" and _split_host_port(host)[1] == "443":
        host = _split_host_port(host)[0]

    segments = [s for s in ("web", "requests", go_path_escape(request_id)) if s]
    path = posixpath.normpath("/".join(segments))
    url = f"{scheme}://{userinfo}{at}{host}/{go_escaped_path(path)}"
    if query:
        url += question + query
    if fragment:
        url += hash_mark + fragment
    return url
