"""Mattermost REST API v4 client for the few calls the access-request plugin makes.

Design: one pooled ``requests.Session`` shared by all worker threads, a
default timeout on every call, **no hidden retries** (``max_retries=0``: a silently retried
POST could create a duplicate post; retry policy belongs to the caller, who records each
attempt and backs off). Every HTTP call, successful or not, is reported to ``on_attempt`` as
an :class:`Attempt` so the caller can store it; the client never touches the database.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter

from common.redaction import Redactor
from notifications.gotext import go_path_escape
from notifications.mattermost.errors import (
    MattermostError,
    TransientError,
    classify,
    retry_after_from,
)

logger = logging.getLogger(__name__)

ETAG_CACHE_SIZE = 1024


class Pacer(Protocol):
    """Paces calls to the server's rate limit (notifications.pacing): `before` may sleep,
    `after` sees every answer's status and headers. Neither may raise."""

    def before(self) -> None: ...

    def after(self, status: int, headers: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class Attempt:
    """One HTTP call as the caller should record it (no host, no token, no body)."""

    method: str
    path: str
    status_code: int | None
    ok: bool
    error_class: str | None
    error: str
    duration_ms: float
    retry_after: float | None = None


class MattermostClient:
    """Thread-safe client; share one instance per Mattermost server."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 10.0,
        pool_size: int = 32,
        on_attempt: Callable[[Attempt], None] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.pacer = pacer
        self._api = self.url + "/api/v4"
        self._redact = Redactor([token])
        self.timeout = timeout
        self.on_attempt = on_attempt
        self._session = requests.Session()
        # HTTPS_PROXY/NO_PROXY and REQUESTS_CA_BUNDLE are honoured, but read once here:
        # with trust_env on, requests re-read the environment (and ~/.netrc, whose basic
        # auth would replace our token) on every call, ~0.3 ms of CPU per post.
        self._session.proxies.update(requests.utils.get_environ_proxies(self.url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self._session.verify = bundle
        self._session.trust_env = False
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update(
            {
                # Teleport sends the scheme upper case; Mattermost accepts any case.
                "Authorization": f"BEARER {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
        )
        # ETag LRU: path -> (etag, parsed body). Guarded by _etag_lock because worker
        # threads share the client; the lock is never held during network I/O.
        self._etags: OrderedDict[str, tuple[str, Any]] = OrderedDict()
        self._etag_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MattermostClient(url={self.url!r}, timeout={self.timeout!r})"

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def __enter__(self) -> MattermostClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------- public API

    def get_me(self) -> dict[str, Any]:
        """The bot's own user: the cheapest check that URL and token work."""
        return self._call("GET", "/users/me", etag=True)

    def get_user(self, user_id: str) -> dict[str, Any]:
        """A user by id (who clicked a button): is_bot, delete_at, email when visible."""
        return self._call("GET", f"/users/{go_path_escape(user_id)}", etag=True)

    def get_client_config(self) -> dict[str, Any]:
        """The limited client config (no login needed): the trigger_id signing key."""
        return self._call("GET", "/config/client", params={"format": "old"})

    def get_user_by_email(self, email: str) -> dict[str, Any]:
        """Resolve an email recipient to a user (403 if the server hides emails from us)."""
        return self._call("GET", f"/users/email/{go_path_escape(email)}", etag=True)

    def get_user_by_username(self, username: str) -> dict[str, Any]:
        """A user by Mattermost user name (the requester's, from a Teleport trait)."""
        return self._call("GET", f"/users/username/{go_path_escape(username)}", etag=True)

    def create_direct_channel(self, user_a: str, user_b: str) -> dict[str, Any]:
        """Create or fetch (idempotent on the server) the DM channel between two users."""
        return self._call("POST", "/channels/direct", body=[user_a, user_b])

    def get_channel_by_name(self, team: str, channel: str) -> dict[str, Any]:
        """Resolve ``team/channel`` URL handles (not display names) to a channel."""
        path = f"/teams/name/{go_path_escape(team)}/channels/name/{go_path_escape(channel)}"
        return self._call("GET", path, etag=True)

    def create_post(
        self,
        channel_id: str,
        message: str,
        *,
        root_id: str = "",
        props: dict[str, Any] | None = None,
        pending_post_id: str = "",
    ) -> dict[str, Any]:
        """Create a post (a reply when ``root_id`` is set).

        ``pending_post_id`` is Mattermost's de-duplication key: a retry with the same key
        within 30 s of the first success returns the existing post instead of a new one.
        It narrows, but does not close, the crash window; callers still record intent first.
        """
        body: dict[str, Any] = {
            "channel_id": channel_id,
            "message": message,
            "root_id": root_id,
            "props": props,
        }
        if pending_post_id:
            body["pending_post_id"] = pending_post_id
        return self._call("POST", "/posts", body=body)

    def update_post(
        self,
        post_id: str,
        channel_id: str,
        message: str,
        *,
        root_id: str = "",
        props: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Full update (``PUT /posts/{id}``) with Teleport's body; omitted fields are blanked."""
        body = {
            "id": post_id,
            "channel_id": channel_id,
            "message": message,
            "root_id": root_id,
            "props": props,
        }
        return self._call("PUT", f"/posts/{go_path_escape(post_id)}", body=body)

    def get_post(self, post_id: str) -> dict[str, Any]:
        """Fetch one post, e.g. to check that a stored post still exists."""
        return self._call("GET", f"/posts/{go_path_escape(post_id)}")

    def get_channel_posts(
        self,
        channel_id: str,
        *,
        page: int = 0,
        per_page: int = 60,
        since_ms: int | None = None,
    ) -> dict[str, Any]:
        """A PostList ``{"order": [...], "posts": {...}}``, newest first.

        Used to find a post that Mattermost created although we never saw its id (crash or
        timeout after sending). With ``since_ms`` the server ignores paging.
        """
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if since_ms is not None:
            params["since"] = since_ms
        return self._call("GET", f"/channels/{go_path_escape(channel_id)}/posts", params=params)

    def ping(self) -> dict[str, Any]:
        """Liveness of the server (needs no session)."""
        return self._call("GET", "/system/ping")

    # ----------------------------------------------------------------- internals

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        etag: bool = False,
    ) -> Any:
        """One HTTP call, one Attempt; returns the parsed JSON or raises MattermostError."""
        rel_path = "/api/v4" + path + (f"?{urlencode(params)}" if params else "")
        headers: dict[str, str] = {}
        cached: tuple[str, Any] | None = None
        if etag:
            with self._etag_lock:
                cached = self._etags.get(path)
                if cached is not None:
                    self._etags.move_to_end(path)
            if cached is not None:
                headers["If-None-Match"] = cached[0]

        if self.pacer is not None:
            self.pacer.before()  # may wait for a slot in the token's shared budget
        started = time.monotonic()
        response: requests.Response | None = None
        try:
            response = self._session.request(
                method,
                self._api + path,
                params=params,
                json=body if method != "GET" else None,
                headers=headers,
                timeout=self.timeout,
            )
            if self.pacer is not None:
                self.pacer.after(response.status_code, response.headers)
            result = self._parse(response, path, cached, etag)
        except (requests.RequestException, ValueError, MattermostError) as exc:
            error = classify(exc, self._redact) if not isinstance(exc, MattermostError) else exc
            error = self._redacted(error)
            self._record(method, rel_path, response, started, error)
            raise error from None
        self._record(method, rel_path, response, started, None)
        return result

    def _parse(
        self,
        response: requests.Response,
        path: str,
        cached: tuple[str, Any] | None,
        etag: bool,
    ) -> Any:
        if response.status_code == 304:
            if cached is None:
                raise TransientError(
                    "Mattermost answered 304 to a request without If-None-Match", status=304
                )
            return cached[1]
        if not 200 <= response.status_code < 300:
            raise classify(response, self._redact)
        result = response.json()  # ValueError (not JSON) is classified by _call
        tag = response.headers.get("ETag")
        if etag and tag:
            with self._etag_lock:
                self._etags[path] = (tag, result)
                self._etags.move_to_end(path)
                while len(self._etags) > ETAG_CACHE_SIZE:
                    self._etags.popitem(last=False)
        return result

    def _redacted(self, error: MattermostError) -> MattermostError:
        """Belt and braces: classify() redacted what it took from outside; check the lot."""
        message = self._redact(error.message)
        if message != error.message:
            error.message = message
            error.args = (message,)
        return error

    def _record(
        self,
        method: str,
        path: str,
        response: requests.Response | None,
        started: float,
        error: MattermostError | None,
    ) -> None:
        if self.on_attempt is None:
            return
        status = response.status_code if response is not None else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is None and response is not None and status == 429:
            retry_after = retry_after_from(response)
        attempt = Attempt(
            method=method,
            path=path,
            status_code=status,
            ok=error is None,
            error_class=type(error).__name__ if error is not None else None,
            error=error.message if error is not None else "",
            duration_ms=round((time.monotonic() - started) * 1000, 3),
            retry_after=retry_after,
        )
        try:
            self.on_attempt(attempt)
        except Exception:
            # A failing recorder must not turn a created post into an apparent failure
            # (the caller would retry and post twice); log it loudly instead.
            logger.exception("on_attempt callback failed for %s %s", method, path)
