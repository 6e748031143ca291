"""``MattermostSimulator``: a real HTTP server speaking the Mattermost API subset we use.

Built on ``http.server.ThreadingHTTPServer`` so the client under test goes through real
sockets, keep-alive, timeouts and dropped connections, not mocks.
"""

from __future__ import annotations

import contextlib
import copy
import socket
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Any

import requests

from simulators.base import SimulatorServer
from simulators.mattermost.actions import TriggerSigner
from simulators.mattermost.faults import Faults, rule
from simulators.mattermost.handlers import RequestHandler
from simulators.mattermost.ratelimit import Decision, GcraLimiter
from simulators.mattermost.state import SimState


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # restart on the same port right after stop()
    # socketserver listens with a backlog of 5: 16 clients connecting at once on a busy
    # machine overflowed it and some saw "connection reset by peer"
    # (test_concurrent_posts_share_the_pool, flaky under load). Mattermost's Go server
    # listens with the system's maximum.
    request_queue_size = socket.SOMAXCONN

    def __init__(self, address: tuple[str, int], handler: type[RequestHandler]) -> None:
        super().__init__(address, handler)
        # Open client sockets, so stop() can cut keep-alive connections: otherwise a pooled
        # connection would keep talking to a "stopped" server. Guarded by _conn_lock.
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout tests) or a cut connection is expected here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def cut_connections(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)


class MattermostSimulator(SimulatorServer):
    """A Mattermost server in a thread. State survives ``stop()``/``start()``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        bot_token: str = "sim-bot-token",  # noqa: S107 - a test fixture, not a secret
        max_post_runes: int = 16383,
    ) -> None:
        super().__init__(host, port)
        self.state = SimState(bot_token=bot_token, max_post_runes=max_post_runes)
        self.faults = Faults()
        self.signer = TriggerSigner()  # signs trigger_id; public key in /config/client
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()  # interrupts latency/pause waits on stop()
        # Guards request_log and the in-flight counter.
        self._log_lock = threading.Lock()
        self._request_log: list[tuple[str, str, int]] = []
        self._inflight = 0
        # Mattermost's own limiter (RateLimitSettings), off by default as in Mattermost.
        self.limiter: GcraLimiter | None = None

    def __repr__(self) -> str:
        return f"MattermostSimulator(url={self.url!r})"

    # ------------------------------------------------------------------ lifecycle

    def _open(self, port: int) -> tuple[_Server, int]:
        self._stopping.clear()
        handler = type("Handler", (RequestHandler,), {"sim": self})
        server = _Server((self.host, port), handler)
        bound = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"mattermost-sim:{bound}",
            daemon=True,
        )
        self._thread.start()
        return server, bound

    def _close(self, server: _Server) -> None:
        self._stopping.set()
        server.shutdown()
        server.cut_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def bot_token(self) -> str:
        return self.state.bot_token

    @property
    def bot_id(self) -> str:
        return self.state.bot_id

    # ------------------------------------------------------------------ setup

    @property
    def hide_emails(self) -> bool:
        return self.state.hide_emails

    @hide_emails.setter
    def hide_emails(self, value: bool) -> None:
        self.state.hide_emails = value

    @property
    def post_all(self) -> bool:
        return self.state.post_all

    @post_all.setter
    def post_all(self, value: bool) -> None:
        self.state.post_all = value

    def add_user(self, email: str, username: str) -> str:
        return self.state.add_user(email, username)

    def add_bot(self, email: str, username: str) -> str:
        return self.state.add_bot(email, username)

    def deactivate_user(self, user_id: str) -> None:
        self.state.deactivate_user(user_id)

    def user_token(self, user_id: str) -> str:
        return self.state.user_token(user_id)

    def click(self, post_id: str, action_id: str, user_id: str) -> requests.Response:
        """Click a button as `user_id`, over HTTP like a Mattermost client."""
        return requests.post(
            f"{self.url}/api/v4/posts/{post_id}/actions/{action_id}",
            headers={"Authorization": f"Bearer {self.user_token(user_id)}"},
            json={},
            timeout=self.state.integration_timeout + 10,
        )

    def ephemerals(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral texts shown, in order (optionally to one user)."""
        with self.state.lock:
            return [
                dict(e) for e in self.state.ephemerals if user_id is None or e["user_id"] == user_id
            ]

    @property
    def action_log(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(a) for a in self.state.action_log]

    def touch_user(self, user_id: str) -> None:
        self.state.touch_user(user_id)

    def add_team(self, name: str, display_name: str = "") -> str:
        return self.state.add_team(name, display_name or name)

    def add_channel(
        self,
        team_name: str,
        name: str,
        display_name: str = "",
        type: str = "O",  # Mattermost's field name: O public, P private
        *,
        bot_member: bool = True,
    ) -> str:
        """Add a channel; the bot joins it unless ``bot_member=False`` (Teleport's docs say
        to add the bot, so that is the common case)."""
        return self.state.add_channel(
            team_name, name, display_name or name, type, bot_member=bot_member
        )

    def add_member(self, channel_id: str, user_id: str) -> None:
        self.state.add_member(channel_id, user_id)

    def advance_clock(self, seconds: float) -> None:
        """Move the simulator's clock (de-duplication TTL, timestamps) forward."""
        self.state.advance_clock(seconds)

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        path_prefix: str = "/api/v4/posts",
        method: str = "POST",
        message: str = "",
    ) -> None:
        """The next ``n`` matching requests fail with a JSON error, without side effects.

        ``message`` replaces the error's text, e.g. to echo what a careless proxy echoes.
        """
        failure = rule(n, method=method, path_prefix=path_prefix, status=status, message=message)
        self.faults.add("failures", failure)

    def rate_limit_next(self, n: int = 1, retry_after: float = 1, path_prefix: str = "") -> None:
        """The next ``n`` requests get 429 with Mattermost's plain-text body and headers."""
        self.faults.add("rate_limits", rule(n, path_prefix=path_prefix, retry_after=retry_after))

    def set_rate_limit(self, per_sec: float | None, max_burst: int = 100) -> None:
        """Turn on Mattermost's GCRA limiter per token (``None`` turns it off)."""
        self.limiter = GcraLimiter(per_sec, max_burst) if per_sec else None

    def rate_check(self, key: str) -> Decision | None:
        limiter = self.limiter
        return limiter.check(key) if limiter is not None else None

    def drop_response_next(
        self, n: int = 1, path_prefix: str = "/api/v4/posts", method: str = "POST"
    ) -> None:
        """Process the next ``n`` matching requests, then close without answering."""
        self.faults.add("drops", rule(n, method=method, path_prefix=path_prefix))

    def set_latency(self, seconds: float) -> None:
        with self.faults.lock:
            self.faults.latency = seconds

    def pause_posts(self) -> None:
        """Hold POST /posts after the de-duplication check until ``resume_posts()``."""
        self.faults.posts_open.clear()

    def resume_posts(self) -> None:
        self.faults.posts_open.set()

    def reset_faults(self) -> None:
        self.faults.reset()

    # ------------------------------------------------------------------ handler hooks

    def wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wait_for_posts(self) -> None:
        while not self.faults.posts_open.wait(0.05):
            if self._stopping.is_set():
                return

    def inflight_changed(self, delta: int) -> None:
        with self._log_lock:
            self._inflight += delta

    def log_request(self, method: str, path: str, status: int) -> None:
        with self._log_lock:
            self._request_log.append((method, path, status))

    # ------------------------------------------------------------------ inspection

    @property
    def inflight_posts(self) -> int:
        """POST /posts requests currently held between de-duplication and commit."""
        with self._log_lock:
            return self._inflight

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """(method, path without query, status) per request; status 0 = dropped response."""
        with self._log_lock:
            return list(self._request_log)

    def clear_request_log(self) -> None:
        with self._log_lock:
            self._request_log.clear()

    def posts(self, channel_id: str | None = None) -> list[dict[str, Any]]:
        """All posts in creation order, optionally for one channel (copies)."""
        with self.state.lock:
            return [
                copy.deepcopy(p)
                for p in self.state.posts.values()
                if channel_id is None or p["channel_id"] == channel_id
            ]

    def root_posts(self, channel_id: str | None = None) -> list[dict[str, Any]]:
        return [p for p in self.posts(channel_id) if not p["root_id"]]

    def replies(self, root_id: str) -> list[dict[str, Any]]:
        return [p for p in self.posts() if p["root_id"] == root_id]

    def channel(self, channel_id: str) -> dict[str, Any]:
        with self.state.lock:
            return copy.deepcopy(self.state.channels[channel_id])
