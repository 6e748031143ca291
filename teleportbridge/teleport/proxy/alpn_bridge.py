"""A local unix socket that grpcio dials in plain HTTP/2; each connection becomes a fresh
end-to-end TLS session with Auth through the Proxy.

Why a bridge and not grpclib: grpcio always offers exactly ALPN `h2`, and TLS routing needs
`teleport-auth@<hex cluster>.teleport.cluster.local` first. A bridge keeps grpcio, the
generated stubs, keepalive, deadlines and the typed error mapping used by the direct path
unchanged (the rest of the code cannot tell the paths apart); grpclib would mean a second
set of stubs and a second error model. The cost is one extra local hop.

All connection work runs on one private asyncio loop thread: the TLS objects are only ever
touched from that thread, which is what makes concurrent reading and writing safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from teleportbridge.teleport.proxy.streams import ByteStream

log = logging.getLogger(__name__)
T = TypeVar("T")
Opener = Callable[[], Awaitable[ByteStream]]


class AlpnBridge:
    """unix socket → `open_upstream()` per accepted connection, bytes piped both ways."""

    def __init__(self, open_upstream: Opener, description: str) -> None:
        self._open_upstream = open_upstream
        self.description = description
        # mkdtemp is 0700: only this user can reach the socket, which carries an
        # authenticated session (anyone connecting would act with the plugin's identity).
        self._dir = tempfile.mkdtemp(prefix="tpb-")
        self.socket_path = os.path.join(self._dir, "auth.sock")
        # Written on the loop thread, read by the caller after a failed call. A plain
        # attribute assignment is atomic in CPython; a stale value only makes a message vaguer.
        self.last_error: BaseException | None = None
        self._last_logged = ""
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="teleport-proxy-bridge", daemon=True
        )
        self._thread.start()
        try:
            self._server = self.run(
                asyncio.start_unix_server(self._accept, path=self.socket_path), timeout=10
            )
        except BaseException:
            self.close()
            raise

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the bridge loop from another thread and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # loop thread only: no lock
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            # close() cancels live connections. Ending normally keeps 3.11's stream callback
            # from logging the cancellation as an error; the loop is stopping anyway.
            pass
        finally:
            self._tasks.discard(task)

    def _note_failure(self, exc: BaseException) -> None:
        self.last_error = exc
        text = f"{type(exc).__name__}: {exc}"
        # grpcio redials every second or two while Auth is away: log each new reason once.
        if text != self._last_logged:
            self._last_logged = text
            log.warning("Teleport %s: upstream connection failed: %s", self.description, text)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream = await self._open_upstream()
        except Exception as exc:
            self._note_failure(exc)
            writer.close()
            return
        self.last_error = None
        self._last_logged = ""

        async def downstream_to_upstream() -> None:
            while data := await reader.read(64 * 1024):
                await upstream.write(data)

        async def upstream_to_downstream() -> None:
            while data := await upstream.read():
                writer.write(data)
                await writer.drain()

        tasks = [
            asyncio.ensure_future(downstream_to_upstream()),
            asyncio.ensure_future(upstream_to_downstream()),
        ]
        try:
            # gRPC never half-closes a connection: when either side ends, end both.
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in done:
                failure = task.exception()
                if failure is not None and not isinstance(failure, ConnectionError):
                    self._note_failure(failure)
        finally:
            for task in tasks:
                task.cancel()
            upstream.close()
            writer.close()

    def close(self) -> None:
        """Stop accepting, drop every piped connection, stop the loop, remove the socket."""
        if self._closed:
            return
        self._closed = True

        async def shutdown() -> None:
            server = getattr(self, "_server", None)
            if server is not None:
                server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if self._loop.is_running():
            with contextlib.suppress(Exception):
                self.run(shutdown(), timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()
        shutil.rmtree(self._dir, ignore_errors=True)
