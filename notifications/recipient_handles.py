"""Recipient strings from the TOML / admin: an e-mail address or ``team/channel``.

The plugin decides with Go's ``net/mail.ParseAddress(s).Address == s`` and then
``strings.Split(s, "/")``. Python's ``email.utils`` is far more lenient (it happily "parses"
``a b@c.d``), and a recipient that the plugin would treat as a channel but we treat as an
e-mail (or vice versa) would DM the wrong place, so the Go rule is reimplemented here.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from notifications.gotext import go_runes, go_to_bytes

__all__ = [
    "RECIPIENT_FORMAT_ERROR",
    "Handle",
    "display_name_hint",
    "go_quote",
    "is_email",
    "parse_handle",
]

#: The plugin's error text (``trace.BadParameter``), with ``%s`` standing for Go's ``%q``.
RECIPIENT_FORMAT_ERROR = (
    'Recipient must be either a user email or a channel in the format "team/channel" but got %s'
)

# RFC 5322 3.2.3 specials: never atext.
_SPECIALS = frozenset('()<>[]:;@\\,"')


def _is_atext(ch: str, dot: bool) -> bool:
    if ch == ".":
        return dot
    if ch in _SPECIALS:
        return False
    code = ord(ch)
    # VCHAR, plus any non-ASCII character (RFC 6532), as Go's isVchar/isMultibyte.
    return 0x21 <= code <= 0x7E or code >= 0x80


def _valid_dot_atom(atom: str) -> bool:
    return (
        bool(atom)
        and all(_is_atext(ch, True) for ch in atom)
        and not atom.startswith(".")
        and not atom.endswith(".")
        and ".." not in atom
    )


def _valid_domain_literal(domain: str) -> bool:
    # "[" dtext* "]" whose dtext is an IP address for Go's net.ParseIP (no zone, no "IPv6:").
    if len(domain) < 2 or not domain.endswith("]"):
        return False
    dtext = domain[1:-1]
    if any(ch in "[]\\" or not (0x21 <= ord(ch) <= 0x7E or ord(ch) >= 0x80) for ch in dtext):
        return False
    if "%" in dtext:
        return False  # Python accepts IPv6 zones ("fe80::1%eth0"), net.ParseIP does not
    try:
        ipaddress.ip_address(dtext)
    except ValueError:
        return False
    return True


def is_email(s: str) -> bool:
    """Go ``mail.ParseAddress(s)`` succeeds and its ``Address`` equals ``s``.

    That means exactly a bare addr-spec: a dot-atom local part, ``@``, a dot-atom domain (no
    dot required: ``a@b`` is accepted) or a domain literal holding an IP (``a@[10.0.0.1]``).
    Display names, angle brackets, comments and surrounding spaces all make ``Address``
    differ from the input. A quoted local part (``"a b"@c.d``) parses, but Go stores it
    unquoted, so it never equals the input either: rejected, as in the plugin.
    """
    if not s or any(0xD800 <= ord(ch) <= 0xDFFF for ch in s):
        return False  # invalid UTF-8 in Go terms
    local, at, domain = s.partition("@")
    if not at or not _valid_dot_atom(local):
        return False
    if domain.startswith("["):
        return _valid_domain_literal(domain)
    return _valid_dot_atom(domain)


_GO_SHORT_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _go_is_print(ch: str) -> bool:
    # unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def go_quote(s: str | bytes) -> str:
    """Go ``strconv.Quote`` (what ``%q`` prints), so error texts match the plugin's."""
    data = go_to_bytes(s)
    out = ['"']
    for offset, width, ch in go_runes(data):
        if ch == "\ufffd" and width == 1:  # an invalid byte, not a real U+FFFD
            out.append(f"\\x{data[offset]:02x}")
        elif ch in '"\\':
            out.append("\\" + ch)
        elif _go_is_print(ch):
            out.append(ch)
        elif ch in _GO_SHORT_ESCAPES:
            out.append(_GO_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


@dataclass(frozen=True)
class Handle:
    """A parsed recipient: ``kind == "email"`` (DM) or ``"channel"`` (team and channel names)."""

    kind: Literal["email", "channel"]
    raw: str
    team: str = ""
    channel: str = ""
    email: str = ""


def parse_handle(s: str) -> Handle:
    """Classify a recipient string the way the plugin's ``FetchRecipient`` does.

    E-mail first (so ``a/b@c.d`` is an address), then exactly one ``/``. Unlike the plugin we
    also reject an empty team or channel (``team/``) here: the plugin would send a lookup that
    can only fail and then post to an empty channel id; the recipient is skipped either way.

    Raises ValueError with the plugin's exact message for anything else.
    """
    if is_email(s):
        return Handle(kind="email", raw=s, email=s)
    parts = s.split("/")
    if len(parts) == 2 and parts[0] and parts[1]:
        return Handle(kind="channel", raw=s, team=parts[0], channel=parts[1])
    raise ValueError(RECIPIENT_FORMAT_ERROR % go_quote(s))


def _url_name(display: str) -> str:
    """Best guess of the URL handle Mattermost derives from a display name."""
    decomposed = unicodedata.normalize("NFKD", display)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    dashed = re.sub(r"\s+", "-", ascii_only.strip())
    cleaned = re.sub(r"[^a-z0-9_-]", "", dashed)
    return re.sub(r"-{2,}", "-", cleaned).strip("-_")


_URL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def display_name_hint(handle: Handle) -> str:
    """A hint for the admin/log when looking up ``handle`` failed.

    The most common mistake is using display names ("Town Square") where Mattermost's API
    wants the URL handles ("town-square"); the second is a DM lookup refused because e-mail
    addresses are hidden from the bot.
    """
    if handle.kind == "email":
        return (
            f'no Mattermost user found for "{handle.email}": check the address, and that the '
            "bot may see e-mail addresses (System Console > Privacy > Show Email Address, "
            "or make the bot a system admin)"
        )
    team_ok = _URL_NAME.fullmatch(handle.team) is not None
    channel_ok = _URL_NAME.fullmatch(handle.channel) is not None
    if team_ok and channel_ok:
        return (
            f'"{handle.team}/{handle.channel}" was not found: check that the team and channel '
            "names are the ones in the channel URL and that the bot is a member of both"
        )
    suspect, what = (handle.channel, "channel") if not channel_ok else (handle.team, "team")
    team = handle.team if team_ok else _url_name(handle.team)
    channel = handle.channel if channel_ok else _url_name(handle.channel)
    hint = f'"{suspect}" looks like a display name: use the {what} name from the URL'
    if team and channel:
        hint += f', e.g. "{team}/{channel}"'
    return hint
