"""SIGTERM / SIGINT for runwatcher, as the Go plugin: stop gracefully, forced after a
while; a second SIGINT forces at once.

The handlers write no log line themselves. A Python signal handler runs in the main
thread between two bytecodes, which can be in the middle of the main thread's own log
write, or of the first handler's when a second signal arrives (a supervisor signalling
the process and then its group): writing to the same stream again from there fails
("reentrant call inside BufferedWriter") and loses the line, with a traceback on stderr.
So each handler only records the signal and hands the rest to a new thread, which waits
for the log's lock like any other writer.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger("bridge.service")


class StopSignals:
    """Installs the stop handlers; `stop` runs once, in a thread of its own."""

    def __init__(
        self,
        *,
        stop: Callable[[], None],
        force: Callable[[], None],
        forced_after: float,
    ) -> None:
        self._stop = stop
        self._force = force  # kills the tree and leaves the process: never returns
        self.forced_after = forced_after
        # Stop signals received so far (only the main thread runs signal handlers, so the
        # set needs no lock).
        self.received: set[int] = set()
        self.timer: threading.Timer | None = None  # the forced stop, once armed

    def install(self, signums: Iterable[int]) -> None:
        for signum in signums:
            signal.signal(signum, self.handler)

    def handler(self, signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if signum == signal.SIGINT and signal.SIGINT in self.received:
            _in_thread("forced-stop", self._force_now)
            return
        first = not self.received
        self.received.add(signum)
        if not first:
            _in_thread("signal-log", lambda: log.info("Got %s, already shutting down", name))
            return
        _in_thread("shutdown", lambda: self._shutdown(name))
        self.timer = threading.Timer(self.forced_after, self._force_late)
        self.timer.daemon = True
        self.timer.start()

    def _shutdown(self, name: str) -> None:
        log.info("Got %s, shutting down", name)
        self._stop()

    def _force_now(self) -> None:
        log.warning("Got SIGINT again, forcing shutdown")
        self._force()

    def _force_late(self) -> None:
        log.warning("Graceful shutdown took over %ss, forcing it", f"{self.forced_after:g}")
        self._force()


def _in_thread(name: str, target: Callable[[], None]) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()
