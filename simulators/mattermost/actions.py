"""Interactive message buttons: what the Mattermost server does when a user clicks one.

A click (`POST /api/v4/posts/{post_id}/actions/{action_id}`, by a logged-in user) makes the
*server* POST a PostActionIntegrationRequest to the action's integration URL, with the
context it stored with the post (clients never see it: every read strips `integration`).
Rules copied from the reference (../shared/reference/review-from-chat.md 3.3-3.7): JSON in,
HTTP 200 with JSON or an empty body out (anything else is "Action failed to execute"), the
reply's `update` replaces the post's message and props, `ephemeral_text` is shown to the
clicker only, and `trigger_id` is signed with the server's P-256 key, whose public half is in
the client config.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import socket
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from simulators.mattermost.state import ApiError, new_id

if TYPE_CHECKING:
    from simulators.mattermost.state import SimState

#: ServiceSettings.OutgoingIntegrationRequestsTimeout's default (seconds).
INTEGRATION_TIMEOUT = 30.0
ACTION_FAILED = "api.post.do_action.action_integration.app_error"
#: The untrusted HTTP client's refused ranges (MM httpservice), unless allowed by config.
_RESERVED = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
]


def strip_integrations(post: dict[str, Any]) -> dict[str, Any]:
    """A copy of the post as clients see it: no action `integration` (URL and context)."""
    out = copy.deepcopy(post)
    for attachment in (out.get("props") or {}).get("attachments") or []:
        if isinstance(attachment, dict):
            for action in attachment.get("actions") or []:
                if isinstance(action, dict):
                    action.pop("integration", None)
    return out


class TriggerSigner:
    """The server's asymmetric signing key: signs trigger ids, publishes the public key."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key_b64(self) -> str:
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def trigger_id(self, user_id: str, *, millis: int | None = None, client_id: str = "") -> str:
        stamp = millis if millis is not None else int(time.time() * 1000)
        data = f"{client_id or new_id()}:{user_id}:{stamp}"
        sig = self._key.sign(data.encode(), ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(f"{data}:{base64.b64encode(sig).decode()}".encode()).decode()


def _address_allowed(url: str, allowed: list[str] | None) -> bool:
    """AllowedUntrustedInternalConnections: hostnames skip the check, CIDRs allow ranges."""
    if allowed is None:
        return True
    host = urlsplit(url).hostname or ""
    if host in allowed:
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if any(ip in net for net in _RESERVED) and not any(
            "/" in a and ip in ipaddress.ip_network(a, strict=False) for a in allowed
        ):
            return False
    return True


def _find_action(post: dict[str, Any], action_id: str) -> dict[str, Any]:
    for attachment in (post.get("props") or {}).get("attachments") or []:
        for action in attachment.get("actions") or []:
            if action.get("id") == action_id:
                return action
    raise ApiError(404, "api.post.do_action.action_id.app_error", "Unable to find action.")


def perform(state: SimState, signer: TriggerSigner, user_id: str, post_id: str, action_id: str):
    """Run one click as `user_id`; returns the client's answer ({"trigger_id": ...})."""
    with state.lock:
        post = state.posts.get(post_id)
        if post is None or post["delete_at"]:
            raise ApiError(404, "app.post.get.app_error", "Unable to get the post.")
        if user_id not in state.members.get(post["channel_id"], set()):
            raise ApiError(403, "api.context.permissions.app_error", "No permission.")
        action = copy.deepcopy(_find_action(post, action_id))
        channel = state.channels[post["channel_id"]]
        team = next((t for t in state.teams.values() if t["id"] == channel["team_id"]), None)
        user = state.users[user_id]
        allowed = state.allowed_untrusted_internal
    integration = action.get("integration") or {}
    url = integration.get("url") or ""
    trigger_id = signer.trigger_id(user_id)
    body = {
        "user_id": user_id,
        "user_name": user["username"],
        "channel_id": post["channel_id"],
        "channel_name": channel["name"],
        "team_id": team["id"] if team else "",
        "team_domain": team["name"] if team else "",
        "post_id": post_id,
        "trigger_id": trigger_id,
        "type": action.get("type") or "button",
        "data_source": action.get("data_source") or "",
        "context": integration.get("context") or {},
    }
    if not _address_allowed(url, allowed):
        state.record_action(user_id, post_id, action_id, status=0, error="address forbidden")
        raise ApiError(
            400,
            ACTION_FAILED,
            "address forbidden, you may need to set AllowedUntrustedInternalConnections "
            "to allow an integration access to your internal network",
        )
    if not url.startswith(("http://", "https://")):
        raise ApiError(400, ACTION_FAILED, "Action failed to execute.")
    try:
        response = requests.post(
            url,
            data=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": "Mattermost-Bot/1.1",
            },
            timeout=state.integration_timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        state.record_action(user_id, post_id, action_id, status=0, error=str(exc))
        raise ApiError(400, ACTION_FAILED, "Action failed to execute.") from None
    status, raw = response.status_code, response.content
    if status != 200:
        state.record_action(user_id, post_id, action_id, status=status, error=f"status={status}")
        raise ApiError(400, ACTION_FAILED, "Action failed to execute.")
    try:
        reply = json.loads(raw) if raw.strip() else {}
    except ValueError:
        state.record_action(user_id, post_id, action_id, status=status, error="bad json")
        raise ApiError(400, ACTION_FAILED, "Action failed to execute.") from None
    state.apply_action_reply(user_id, post_id, action_id, reply if isinstance(reply, dict) else {})
    return {"trigger_id": trigger_id}
