"""The button context and its MAC: what Mattermost stores and sends back on a click.

Mattermost keeps a button's context server-side (clients never see it), but it sits in the
Mattermost database and its exports, so it carries a MAC and never a key. Canonical form:
"v|kid|rid|act|ch|n|exp", HMAC-SHA256, base64url without padding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

VERSION = 1
ACTIONS = ("approve", "deny")
#: The context's fields, in the order the MAC covers them.
FIELDS = ("v", "kid", "rid", "act", "ch", "n", "exp")


def new_nonce() -> str:
    """128 random bits, hex."""
    return secrets.token_hex(16)


def _canonical(ctx: dict[str, Any]) -> bytes:
    return "|".join(str(ctx[f]) for f in FIELDS).encode()


def _mac(key: bytes, ctx: dict[str, Any]) -> str:
    digest = hmac.new(key, _canonical(ctx), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(
    key: bytes, *, kid: str, request_id: str, action: str, channel_id: str, nonce: str, exp: int
) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "v": VERSION,
        "kid": kid,
        "rid": request_id,
        "act": action,
        "ch": channel_id,
        "n": nonce,
        "exp": exp,
    }
    ctx["sig"] = _mac(key, ctx)
    return ctx


def well_formed(ctx: Any) -> bool:
    """Exactly the signed fields plus sig, with the expected types (checked before the MAC)."""
    if not isinstance(ctx, dict) or set(ctx) != {*FIELDS, "sig"}:
        return False
    if ctx["v"] != VERSION or not isinstance(ctx["exp"], int) or isinstance(ctx["exp"], bool):
        return False
    return all(isinstance(ctx[f], str) and 0 < len(ctx[f]) <= 128 for f in FIELDS[1:-1]) and (
        # ASCII only: hmac.compare_digest refuses (TypeError) a str with other characters.
        isinstance(ctx["sig"], str) and len(ctx["sig"]) <= 64 and ctx["sig"].isascii()
    )


def mac_ok(keys: dict[str, bytes], ctx: dict[str, Any]) -> bool:
    """Known kid and a matching MAC, compared in constant time."""
    key = keys.get(ctx["kid"])
    if key is None:
        # Still compute a MAC so an unknown kid costs the same time as a bad signature.
        hmac.compare_digest(_mac(b"\0" * 32, ctx), ctx["sig"])
        return False
    return hmac.compare_digest(_mac(key, ctx), ctx["sig"])
