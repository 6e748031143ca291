"""HTTP request handler: routing, auth, faults and the Mattermost error shape."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from simulators.mattermost import posts
from simulators.mattermost.state import ApiError, SimState, new_id

if TYPE_CHECKING:
    from simulators.mattermost.server import MattermostSimulator

# (status, JSON body, extra headers)
Result = tuple[int, Any, dict[str, str]]
Route = Callable[["RequestHandler", list[str]], Result]

_SEG = "([^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"/api/v4/system/ping"), "ping"),
    ("GET", re.compile(r"/api/v4/users/me"), "get_me"),
    ("GET", re.compile(rf"/api/v4/users/email/{_SEG}"), "get_user_by_email"),
    ("GET", re.compile(rf"/api/v4/users/username/{_SEG}"), "get_user_by_username"),
    ("POST", re.compile(r"/api/v4/channels/direct"), "create_direct"),
    ("GET", re.compile(rf"/api/v4/teams/name/{_SEG}/channels/name/{_SEG}"), "channel_by_name"),
    ("GET", re.compile(rf"/api/v4/channels/{_SEG}/posts"), "channel_posts"),
    ("POST", re.compile(r"/api/v4/posts"), "create_post"),
    ("PUT", re.compile(rf"/api/v4/posts/{_SEG}/patch"), "patch_post"),
    ("PUT", re.compile(rf"/api/v4/posts/{_SEG}"), "update_post"),
    ("GET", re.compile(rf"/api/v4/posts/{_SEG}"), "get_post"),
]
_NO_AUTH = {"ping"}


class _DropResponse(Exception):
    """Close the connection without answering (the work has been done)."""


def error_body(err: ApiError) -> dict[str, Any]:
    return {
        "id": err.error_id,
        "message": err.message,
        "detailed_error": "",
        "request_id": new_id(),
        "status_code": err.status,
        "is_oauth": False,
    }


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool is exercised
    disable_nagle_algorithm = True  # headers and body go out separately: avoid 40 ms stalls
    server_version = "MattermostSimulator/1.0"
    sim: MattermostSimulator  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet tests; request_log keeps the useful part

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------------ plumbing

    @property
    def state(self) -> SimState:
        return self.sim.state

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        path, self.query = split.path, parse_qs(split.query)
        length = int(self.headers.get("Content-Length") or 0)
        self.raw_body = self.rfile.read(length) if length else b""
        faults = self.sim.faults
        # Keyed by token (VaryByUser), else by the client's address, as Mattermost does.
        key = self.headers.get("Authorization") or self.client_address[0]
        decision = self.sim.rate_check(key)
        self.limit_headers = decision.headers if decision is not None else {}
        if decision is not None and not decision.allowed:
            self.sim.log_request(method, path, 429)
            self._send(429, b"limit exceeded\n", self._limited_headers(decision.headers))
            return
        try:
            limited = faults.take("rate_limits", method, path)
            if limited is not None:
                self._send_rate_limited(method, path, limited.retry_after)
                return
            failure = faults.take("failures", method, path)
            if failure is not None:
                message = failure.message or "Injected failure."
                raise ApiError(int(failure.status), "sim.injected_failure", message)
            route, params = self._route(method, path)
            if route not in _NO_AUTH:
                self.caller = self._authenticate()
            if route != "create_post":  # create_post waits after its dedup check instead
                self._wait(faults.latency)
            status, body, headers = getattr(self, "r_" + route)(params)
            if faults.take("drops", method, path) is not None:
                raise _DropResponse
        except _DropResponse:
            self.sim.log_request(method, path, 0)
            self.close_connection = True
            return
        except ApiError as err:
            status, body, headers = err.status, error_body(err), {}
        self._send_json(method, path, status, body, headers)

    def _wait(self, seconds: float) -> None:
        """Injected latency; a server stopping meanwhile drops the request unprocessed."""
        self.sim.wait(seconds)
        if self.sim.stopping:
            raise _DropResponse

    def _route(self, method: str, path: str) -> tuple[str, list[str]]:
        allowed = False
        for route_method, pattern, name in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                return name, [unquote(g) for g in match.groups()]
            allowed = True
        if allowed:
            raise ApiError(405, "api.context.405.app_error", "Method not allowed.")
        raise ApiError(404, "api.context.404.app_error", "Sorry, we could not find the page.")

    def _authenticate(self) -> str:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        # The scheme is case-insensitive: Teleport sends "BEARER".
        if scheme.lower() != "bearer" or token.strip() != self.state.bot_token:
            raise ApiError(
                401,
                "api.context.session_expired.app_error",
                "Invalid or expired session, please login again.",
            )
        return self.state.bot_id

    def _json(self) -> Any:
        try:
            return json.loads(self.raw_body or b"null")
        except ValueError:
            raise ApiError(
                400, "api.context.invalid_body_param.app_error", "Invalid JSON body."
            ) from None

    def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _send_json(
        self, method: str, path: str, status: int, body: Any, headers: dict[str, str]
    ) -> None:
        self.sim.log_request(method, path, status)
        data = b"" if status == 304 else json.dumps(body).encode()
        extra = {**getattr(self, "limit_headers", {}), **headers}
        self._send(status, data, {"Content-Type": "application/json", **extra})

    @staticmethod
    def _limited_headers(limit_headers: dict[str, str]) -> dict[str, str]:
        return {"Content-Type": "text/plain; charset=utf-8", **limit_headers}

    def _send_rate_limited(self, method: str, path: str, retry_after: float) -> None:
        self.sim.log_request(method, path, 429)
        seconds = str(max(0, round(retry_after)))
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Retry-After": seconds,
            "X-RateLimit-Limit": "101",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": seconds,
        }
        self._send(429, b"limit exceeded\n", headers)

    def _etagged(self, body: dict[str, Any], etag: str) -> Result:
        if etag and self.headers.get("If-None-Match") == etag:
            return 304, None, {"ETag": etag}
        return 200, body, {"ETag": etag}

    # ------------------------------------------------------------------ routes

    def r_ping(self, params: list[str]) -> Result:
        return 200, {"status": "OK", "ActiveSearchBackend": "database"}, {}

    def r_get_me(self, params: list[str]) -> Result:
        return self._etagged(*self.state.get_me(self.caller))

    def r_get_user_by_email(self, params: list[str]) -> Result:
        return self._etagged(*self.state.get_user_by_email(params[0]))

    def r_get_user_by_username(self, params: list[str]) -> Result:
        return self._etagged(*self.state.get_user_by_username(params[0]))

    def r_create_direct(self, params: list[str]) -> Result:
        return 201, self.state.create_direct_channel(self.caller, self._json()), {}

    def r_channel_by_name(self, params: list[str]) -> Result:
        return self._etagged(*self.state.get_channel_by_name(self.caller, *params))

    def r_channel_posts(self, params: list[str]) -> Result:
        def number(name: str, default: int) -> int:
            try:
                return int(self.query.get(name, [default])[0])
            except ValueError:
                raise ApiError(
                    400, "api.context.invalid_url_param.app_error", f"Invalid {name}."
                ) from None

        since = number("since", 0) or None
        page_list = self.state.channel_posts(
            self.caller, params[0], number("page", 0), number("per_page", 60), since
        )
        return 200, page_list, {}

    def r_create_post(self, params: list[str]) -> Result:
        pending = posts.begin_create(self.state, self.caller, self._json())
        try:
            self.sim.inflight_changed(+1)
            try:
                self._wait(self.sim.faults.latency)
                self.sim.wait_for_posts()
                self._wait(0)
            finally:
                self.sim.inflight_changed(-1)
            post = posts.finish_create(self.state, pending)
        except BaseException:
            posts.abort_create(self.state, pending)
            raise
        return 201, post, {}

    def r_update_post(self, params: list[str]) -> Result:
        return 200, posts.update_post(self.state, self.caller, params[0], self._json()), {}

    def r_patch_post(self, params: list[str]) -> Result:
        return 200, posts.patch_post(self.state, self.caller, params[0], self._json()), {}

    def r_get_post(self, params: list[str]) -> Result:
        return 200, self.state.get_post(self.caller, params[0]), {}
