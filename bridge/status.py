"""The status listener `runwatcher --status-addr` opens: /healthz, /readyz, /metrics.

Unauthenticated and read-only, for supervisors and scrapers (Docker HEALTHCHECK,
Kubernetes probes, Prometheus); bind it where only they reach it (default 127.0.0.1:8081).

* `GET /healthz`: 200 `ok` while the process serves at all (liveness).
* `GET /readyz`: 200 `ready` when the database answers a query and the watcher has
  received INIT since its last (re)connect; else 503 and one line saying why.
* `GET /metrics`: bridge/metrics.py (503 if the database cannot be read).

The socket is bound before anything else starts, so a taken port is a start-up error.
runwatcher forks afterwards (start-up checks, the django-q2 workers): the children close
their inherited copy of the socket at once (`_close_in_child`), so only this process
ever holds the port and it is free again the moment runwatcher ends.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import close_old_connections, connection, connections

from bridge.metrics import CONTENT_TYPE, make_registry, render
from bridge.startup import StartupError

log = logging.getLogger(__name__)

DEFAULT_ADDR = "127.0.0.1:8081"
#: Answers the readiness callback can give; None means ready.
ReadinessFn = Callable[[], str | None]

_open_servers: weakref.WeakSet[ThreadingHTTPServer] = weakref.WeakSet()


def _close_in_child() -> None:
    """After a fork: the child never serves, so it must not keep the port open either."""
    for server in list(_open_servers):
        server.socket.close()


os.register_at_fork(after_in_child=_close_in_child)


def parse_addr(addr: str) -> tuple[str, int]:
    """HOST:PORT ([v6]:PORT too); port 0 picks a free port (tests)."""
    host, sep, port = addr.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise StartupError(
            f"--status-addr: expected HOST:PORT (e.g. {DEFAULT_ADDR}), got {addr!r}",
            hint='hint: --status-addr "" turns the status listener off',
        )
    return host, int(port)


class _Handler(BaseHTTPRequestHandler):
    server: StatusServer
    # A client that connects and says nothing must not hold a thread for long.
    timeout = 10
    server_version = "teleport-mattermost-bridge"
    sys_version = ""

    def do_GET(self) -> None:
        try:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._answer(200, b"ok\n")
            elif path == "/readyz":
                reason = self.server.not_ready_reason()
                if reason is None:
                    self._answer(200, b"ready\n")
                else:
                    self._answer(503, f"not ready: {reason}\n".encode())
            elif path == "/metrics":
                self._metrics()
            else:
                self._answer(404, b"not found: try /healthz, /readyz or /metrics\n")
        finally:
            # This thread ends after the request; its database connection must not linger.
            connections.close_all()

    def _metrics(self) -> None:
        close_old_connections()
        try:
            body = render(self.server.registry)
        except Exception as exc:
            log.warning("/metrics: cannot read the numbers: %s", " ".join(str(exc).split()))
            self._answer(503, b"metrics unavailable: the database cannot be read\n")
            return
        self._answer(200, body, CONTENT_TYPE)

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Probes arrive every few seconds: logging each would drown the plugin's log.
        pass


class StatusServer(ThreadingHTTPServer):
    """Serves in a daemon thread; `readiness()` says why the process is not ready."""

    daemon_threads = True

    def __init__(self, addr: str, readiness: ReadinessFn, *, ready_watcher: Callable[[], bool]):
        host, port = parse_addr(addr)
        self.readiness = readiness
        self.registry = make_registry(ready_watcher)
        try:
            super().__init__((host, port), _Handler)
        except OSError as exc:
            raise StartupError(
                f"--status-addr {addr}: cannot listen: {exc.strerror or exc}",
                hint='hint: pick a free HOST:PORT, or --status-addr "" to turn it off',
            ) from None
        _open_servers.add(self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> StatusServer:
        self._thread = threading.Thread(target=self.serve_forever, name="status", daemon=True)
        self._thread.start()
        log.info("Status listener on %s (/healthz, /readyz, /metrics)", self.url)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=2)
        self.server_close()
        _open_servers.discard(self)

    def not_ready_reason(self) -> str | None:
        """Why /readyz is 503 (None: ready). The database first: nothing works without it."""
        try:
            close_old_connections()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as exc:
            return "the database does not answer: " + " ".join(str(exc).split())[:200]
        return self.readiness()
