"""Post creation and editing rules of the simulator, split into steps.

Creating a post is ``begin_create`` (permission, de-duplication key marked in flight) →
the handler may wait (latency, paused posts) without holding the lock → ``finish_create``
(validation, root rules, commit) or ``abort_create`` on error. The gap is what lets tests
observe the server's "same key while in flight → 500 pending" behaviour deterministically.
"""

from __future__ import annotations

import copy
from typing import Any

from simulators.mattermost.state import (
    _IN_FLIGHT,
    DEDUP_TTL_SECONDS,
    ApiError,
    PendingPost,
    SimState,
    forbidden,
    new_id,
)

MESSAGE_LENGTH_ERROR = "api.post.create_post.message_length.app_error"  # id (unverified)


def _bad_body(field: str) -> ApiError:
    return ApiError(
        400, "api.context.invalid_body_param.app_error", f"Invalid or missing {field} in body."
    )


def begin_create(state: SimState, caller: str, body: Any) -> PendingPost:
    """Permission check and de-duplication, in the server's order.

    Returns a PendingPost; if ``existing`` is set the handler answers with that post.
    """
    if not isinstance(body, dict):
        raise _bad_body("post")
    channel_id = body.get("channel_id") or ""
    if not isinstance(channel_id, str):
        raise _bad_body("channel_id")
    key = body.get("pending_post_id") or ""
    with state.lock:
        # Permission check runs first, so an empty channel_id is a 403, not a 400.
        if not channel_id or not state._can_post(caller, channel_id):
            raise forbidden()
        pending = PendingPost(user_id=caller, channel_id=channel_id, body=body)
        if not key:
            return pending
        # Idempotency key: pending_post_id, global (not per channel/user), TTL 30 s.
        now = state.now()
        entry = state.dedup.get(key)
        if entry is not None and entry[1] <= now:
            entry = None  # expired
        if entry is None:
            state.dedup[key] = (_IN_FLIGHT, now + DEDUP_TTL_SECONDS)
            pending.dedup_key = key
            return pending
        if entry[0] == _IN_FLIGHT:
            raise ApiError(
                500,
                "api.post.deduplicate_create_post.pending",
                "Post rejected by server. Try again later.",
            )
        post = state.posts.get(entry[0])
        if post is None or post["delete_at"]:
            raise ApiError(
                500,
                "api.post.deduplicate_create_post.failed_to_get",
                "Failed to fetch previous post when deduplicating.",
            )
        pending.dedup_key = key
        if post["user_id"] != caller:
            # Not the caller's post: the server ignores the key and creates a new post.
            return pending
        pending.existing = copy.deepcopy(post)
        # A returned duplicate re-sets the entry with a fresh TTL, like a success.
        state.dedup[key] = (post["id"], now + DEDUP_TTL_SECONDS)
        return pending


def abort_create(state: SimState, pending: PendingPost) -> None:
    """On failure the server forgets the key so a retry may create the post."""
    if pending.dedup_key and pending.existing is None:
        with state.lock:
            state.dedup.pop(pending.dedup_key, None)


def _check_message(state: SimState, message: Any) -> str:
    if not isinstance(message, str):
        raise _bad_body("message")
    if len(message) > state.max_post_runes:  # Python str length counts runes
        raise ApiError(
            400,
            MESSAGE_LENGTH_ERROR,
            f"Message is longer than the maximum of {state.max_post_runes} characters.",
        )
    return message


def _props(value: Any, user: dict[str, Any]) -> dict[str, Any]:
    if value is not None and not isinstance(value, dict):
        raise _bad_body("props")
    props = dict(value or {})
    if user["is_bot"]:
        props["from_bot"] = "true"  # the server adds this for bot accounts
    return props


def finish_create(state: SimState, pending: PendingPost) -> dict[str, Any]:
    """Validate and commit the post; the dedup key then maps to it for 30 s."""
    if pending.existing is not None:
        return pending.existing
    body = pending.body
    message = _check_message(state, body.get("message", ""))
    root_id = body.get("root_id") or ""
    if not isinstance(root_id, str):
        raise _bad_body("root_id")
    with state.lock:
        user = state.users[pending.user_id]
        props = _props(body.get("props"), user)
        if root_id:
            root = state.posts.get(root_id)
            if root is None or root["delete_at"]:
                raise ApiError(
                    400, "api.post.create_post.root_id.app_error", "Invalid RootId parameter."
                )
            if root["channel_id"] != pending.channel_id:
                raise ApiError(
                    400,
                    "api.post.create_post.channel_root_id.app_error",
                    "Invalid ChannelId for RootId parameter.",
                )
            if root["root_id"]:
                raise ApiError(
                    400, "api.post.create_post.root_id.app_error", "Invalid RootId parameter."
                )
        now = state.now_ms()
        post_id = new_id()
        post: dict[str, Any] = {
            "id": post_id,
            "create_at": now,
            "update_at": now,
            "edit_at": 0,
            "delete_at": 0,
            "is_pinned": False,
            "user_id": pending.user_id,
            "channel_id": pending.channel_id,
            "root_id": root_id,
            "original_id": "",
            "message": message,
            "type": "",
            "props": props,
            "hashtags": "",
            "pending_post_id": pending.dedup_key,
            "reply_count": 0,
            "metadata": {},
        }
        state.posts[post["id"]] = post
        if root_id:
            state.posts[root_id]["reply_count"] += 1
        channel = state.channels[pending.channel_id]
        channel["last_post_at"] = now
        channel["total_msg_count"] += 1
        if pending.dedup_key:
            state.dedup[pending.dedup_key] = (post["id"], state.now() + DEDUP_TTL_SECONDS)
        return copy.deepcopy(post)


def _editable(state: SimState, caller: str, post_id: str) -> dict[str, Any]:
    post = state.posts.get(post_id)
    if post is None or post["delete_at"]:
        raise ApiError(404, "app.post.get.app_error", "Unable to get the post.")
    if post["user_id"] != caller or not state._can_post(caller, post["channel_id"]):
        raise forbidden()
    return post


def _apply_edit(state: SimState, post: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    now = state.now_ms()
    post.update(changes)
    post["edit_at"] = now
    post["update_at"] = now
    return copy.deepcopy(post)


def update_post(state: SimState, caller: str, post_id: str, body: Any) -> dict[str, Any]:
    """PUT /posts/{id}: editable fields are replaced; omitted ones become blank."""
    if not isinstance(body, dict) or body.get("id") != post_id:
        raise ApiError(400, "api.context.invalid_param.app_error", "Invalid id parameter.")
    message = _check_message(state, body.get("message", ""))
    with state.lock:
        post = _editable(state, caller, post_id)
        changes = {
            "message": message,
            # props: null clears user props; from_bot is server-managed and kept (unverified).
            "props": _props(body.get("props"), state.users[caller]),
            "is_pinned": bool(body.get("is_pinned", False)),
        }
        return _apply_edit(state, post, changes)


def patch_post(state: SimState, caller: str, post_id: str, body: Any) -> dict[str, Any]:
    """PUT /posts/{id}/patch: only the fields given change."""
    if not isinstance(body, dict):
        raise _bad_body("patch")
    changes: dict[str, Any] = {}
    if "message" in body:
        changes["message"] = _check_message(state, body["message"])
    if "is_pinned" in body:
        changes["is_pinned"] = bool(body["is_pinned"])
    with state.lock:
        post = _editable(state, caller, post_id)
        if "props" in body:
            changes["props"] = _props(body["props"], state.users[caller])
        return _apply_edit(state, post, changes)
