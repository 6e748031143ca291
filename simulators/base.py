"""The start/stop life cycle every simulator shares: start on a port (0 = any free one),
stop keeping state, restart on the same port (how tests simulate a server restart), and
`with` blocks. Subclasses only say how to open and close their own server."""

from __future__ import annotations

import threading
from typing import Any, Self


class SimulatorServer:
    """Base for the Teleport, Proxy and Mattermost simulators."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._port = port
        # Guards _serving/_port against concurrent start/stop (a test thread and a fixture).
        self._lifecycle_lock = threading.Lock()
        self._serving: Any = None

    # -- what a subclass provides ------------------------------------------------------------
    def _open(self, port: int) -> tuple[Any, int]:
        """Start serving on host:port; return (a handle for _close, the bound port)."""
        raise NotImplementedError

    def _close(self, handle: Any) -> None:
        """Stop serving and cut open connections; state stays for a restart."""
        raise NotImplementedError

    # -- the life cycle ----------------------------------------------------------------------
    def start(self, port: int | None = None) -> Self:
        """Serve on `port` (default: the last bound port, else any free one); returns self.
        Starting a running simulator does nothing."""
        with self._lifecycle_lock:
            if self._serving is None:
                self._serving, self._port = self._open(self._port if port is None else port)
        return self

    def stop(self) -> None:
        """Stop serving; state is kept, so `start()` again is a server restart."""
        with self._lifecycle_lock:
            handle, self._serving = self._serving, None
        if handle is not None:
            self._close(handle)

    def restart(self) -> None:
        self.stop()
        self.start(self._port)

    @property
    def running(self) -> bool:
        with self._lifecycle_lock:
            return self._serving is not None

    @property
    def port(self) -> int:
        """The bound port (kept after stop so a restart reuses it)."""
        return self._port

    @property
    def address(self) -> str:
        return f"{self.host}:{self._port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
