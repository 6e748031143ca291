"""In-memory Mattermost state for the simulator: users, channels, posts, de-duplication.

All mutable state sits behind one lock (``SimState.lock``) because the HTTP server runs a
thread per connection. Methods take the lock for short, I/O-free sections only; the
request handler waits (latency, paused posts) *outside* it, so a slow request never blocks
the others, just like a real server.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

# Mattermost ids: 26 characters from this base32 alphabet (lower case letters and digits).
_ID_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"

# pending_post_id cache TTL on real servers (app/post.go PendingPostIDsCacheTTL).
DEDUP_TTL_SECONDS = 30.0
_IN_FLIGHT = ""  # cache value while the first request with a key is still being processed


def new_id() -> str:
    """A random id shaped like Mattermost's ``model.NewId()``."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(26))


class ApiError(Exception):
    """A Mattermost JSON error response (status + i18n id)."""

    def __init__(self, status: int, error_id: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message


def forbidden() -> ApiError:
    return ApiError(
        403,
        "api.context.permissions.app_error",
        "You do not have the appropriate permissions.",
    )


@dataclass
class PendingPost:
    """A POST /posts between its de-duplication check and its commit."""

    user_id: str
    channel_id: str
    body: dict[str, Any]
    dedup_key: str = ""
    existing: dict[str, Any] | None = None  # set when the key resolved to an earlier post


@dataclass
class SimState:
    bot_token: str
    max_post_runes: int = 16383
    # Privacy › Show Email Address off: users/email answers 403 before any lookup.
    hide_emails: bool = False
    # The bot holds post:all: it may post to channels it is not a member of.
    post_all: bool = False
    # Guards every dict/list below (and the clock offset). Never held while waiting.
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)  # by team name
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id
    members: dict[str, set[str]] = field(default_factory=dict)  # channel id -> user ids
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)  # insertion = post order
    # Idempotency key store: pending_post_id -> (post id or _IN_FLIGHT, expires at).
    # Global and unscoped, exactly like the server's cache.
    dedup: dict[str, tuple[str, float]] = field(default_factory=dict)
    clock_offset: float = 0.0
    bot_id: str = ""

    def __post_init__(self) -> None:
        self.bot_id = self._insert_user("teleport@bots.local", "teleport", is_bot=True)

    # ------------------------------------------------------------------ clock

    def now(self) -> float:
        """Seconds since the epoch, shifted by ``advance_clock`` (TTL tests need no sleep)."""
        return time.time() + self.clock_offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    # ------------------------------------------------------------------ setup

    def _insert_user(self, email: str, username: str, *, is_bot: bool = False) -> str:
        user_id = new_id()
        now = self.now_ms()
        self.users[user_id] = {
            "id": user_id,
            "create_at": now,
            "update_at": now,
            "delete_at": 0,
            "username": username,
            "email": email.lower(),
            "nickname": "",
            "first_name": "",
            "last_name": "",
            "roles": "system_user",
            "locale": "en",
            "is_bot": is_bot,
        }
        return user_id

    def add_user(self, email: str, username: str) -> str:
        with self.lock:
            return self._insert_user(email, username)

    def touch_user(self, user_id: str) -> None:
        """Bump update_at so the user's ETag changes."""
        with self.lock:
            self.users[user_id]["update_at"] = self.now_ms() + 1

    def add_team(self, name: str, display_name: str) -> str:
        with self.lock:
            team_id = new_id()
            self.teams[name] = {"id": team_id, "name": name, "display_name": display_name}
            return team_id

    def _insert_channel(self, team_id: str, name: str, display_name: str, type_: str) -> str:
        channel_id = new_id()
        now = self.now_ms()
        self.channels[channel_id] = {
            "id": channel_id,
            "create_at": now,
            "update_at": now,
            "delete_at": 0,
            "team_id": team_id,
            "type": type_,
            "display_name": display_name,
            "name": name,
            "header": "",
            "purpose": "",
            "last_post_at": 0,
            "total_msg_count": 0,
            "creator_id": "",
        }
        self.members[channel_id] = set()
        return channel_id

    def add_channel(
        self, team_name: str, name: str, display_name: str, type_: str = "O", *, bot_member: bool
    ) -> str:
        with self.lock:
            team = self.teams[team_name]
            channel_id = self._insert_channel(team["id"], name, display_name, type_)
            if bot_member:
                self.members[channel_id].add(self.bot_id)
            return channel_id

    def add_member(self, channel_id: str, user_id: str) -> None:
        with self.lock:
            self.members[channel_id].add(user_id)

    def advance_clock(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset += seconds

    # ------------------------------------------------------------------ reads

    def _user_etag(self, user: dict[str, Any]) -> str:
        return f"{user['update_at']}.{int(self.hide_emails)}"

    def get_me(self, caller: str) -> tuple[dict[str, Any], str]:
        with self.lock:
            user = self.users[caller]
            return copy.deepcopy(user), self._user_etag(user)

    def get_user_by_email(self, email: str) -> tuple[dict[str, Any], str]:
        email = email.lower()
        if "@" not in email or any(c.isspace() for c in email):
            raise ApiError(400, "api.context.invalid_url_param.app_error", "Invalid email.")
        with self.lock:
            if self.hide_emails:  # checked before any lookup, like the server
                raise ApiError(
                    403,
                    "api.user.get_user_by_email.permissions.app_error",
                    "Unable to get user by email.",
                )
            for user in self.users.values():
                if user["email"] == email:
                    return copy.deepcopy(user), self._user_etag(user)
        raise ApiError(404, "store.sql_user.missing_account.const", "Unable to find the user.")

    def get_user_by_username(self, username: str) -> tuple[dict[str, Any], str]:
        """GET /users/username/{username}: user names are stored lower case, like the server."""
        username = username.lower()
        with self.lock:
            for user in self.users.values():
                if user["username"] == username:
                    return copy.deepcopy(user), self._user_etag(user)
        raise ApiError(404, "store.sql_user.missing_account.const", "Unable to find the user.")

    def _can_post(self, user_id: str, channel_id: str) -> bool:
        return user_id in self.members.get(channel_id, set()) or (
            self.post_all and channel_id in self.channels
        )

    def get_channel_by_name(
        self, caller: str, team_name: str, channel_name: str
    ) -> tuple[dict[str, Any], str]:
        not_found = ApiError(
            404, "app.channel.get_by_name.missing.app_error", "Channel does not exist."
        )
        with self.lock:
            team = self.teams.get(team_name)
            if team is None:
                raise ApiError(404, "app.team.get_by_name.missing.app_error", "Team not found.")
            for channel in self.channels.values():
                # Handles (URL names) only: a display name never matches.
                if channel["team_id"] == team["id"] and channel["name"] == channel_name:
                    if channel["type"] == "P" and not self._can_post(caller, channel["id"]):
                        raise forbidden()  # read_channel is needed for private channels
                    return copy.deepcopy(channel), f"{channel['update_at']}"
        raise not_found

    def create_direct_channel(self, caller: str, user_ids: Any) -> dict[str, Any]:
        if (
            not isinstance(user_ids, list)
            or len(user_ids) != 2
            or not all(isinstance(u, str) for u in user_ids)
        ):
            raise ApiError(400, "api.context.invalid_body_param.app_error", "Invalid user ids.")
        if caller not in user_ids:
            raise forbidden()
        with self.lock:
            if any(u not in self.users for u in user_ids):
                raise ApiError(
                    400, "api.channel.create_direct_channel.invalid_user.app_error", "Bad user."
                )
            name = "__".join(sorted(user_ids))
            for channel in self.channels.values():
                if channel["type"] == "D" and channel["name"] == name:
                    return copy.deepcopy(channel)  # idempotent: the existing DM channel
            channel_id = self._insert_channel("", name, "", "D")
            self.members[channel_id].update(user_ids)
            return copy.deepcopy(self.channels[channel_id])

    def get_post(self, caller: str, post_id: str) -> dict[str, Any]:
        with self.lock:
            post = self.posts.get(post_id)
            if post is None or post["delete_at"]:
                raise ApiError(404, "app.post.get.app_error", "Unable to get the post.")
            if not self._can_post(caller, post["channel_id"]):
                raise forbidden()
            return copy.deepcopy(post)

    def channel_posts(
        self, caller: str, channel_id: str, page: int, per_page: int, since: int | None
    ) -> dict[str, Any]:
        with self.lock:
            if channel_id not in self.channels:
                raise ApiError(404, "app.channel.get.existing.app_error", "Channel not found.")
            if not self._can_post(caller, channel_id):
                raise forbidden()
            posts = [p for p in self.posts.values() if p["channel_id"] == channel_id]
            posts.reverse()  # newest first; dict order is creation order
            if since is not None:
                # Server semantics: paging is ignored, everything modified after `since`.
                selected = [p for p in posts if p["update_at"] > since]
            else:
                per_page = max(1, min(per_page, 200))
                selected = posts[page * per_page : (page + 1) * per_page]
            return {
                "order": [p["id"] for p in selected],
                "posts": {p["id"]: copy.deepcopy(p) for p in selected},
                "next_post_id": "",
                "prev_post_id": "",
                "has_next": False,
            }
