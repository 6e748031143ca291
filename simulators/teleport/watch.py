"""Fan-out of resource events to open WatchEvents streams.

Every stream gets its own queue, so a slow client never blocks the control API or other
streams; the gRPC handler thread drains its queue. Streams are registered *before* INIT is
sent, so an event published while INIT is held back (``pause_init``) is delivered right after
INIT, as Teleport's buffered watchers do.
"""

from __future__ import annotations

import enum
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from teleportbridge.teleport.proto import authservice_pb2


class Signal(enum.Enum):
    """Out-of-band items a stream's queue can carry besides events."""

    CLOSED = "closed"  # the RPC ended (client cancel or server stop): finish quietly
    DROPPED = "dropped"  # drop_streams(): end the RPC with UNAVAILABLE


@dataclass(eq=False)
class Subscription:
    """One open WatchEvents stream: the kinds it accepted and its private queue."""

    kinds: frozenset[str]
    queue: queue.SimpleQueue[authservice_pb2.Event | Signal] = field(
        default_factory=queue.SimpleQueue
    )
    closed: bool = False

    def get(self) -> authservice_pb2.Event | Signal:
        """Block until the next event or signal (no timeout: closing always enqueues one)."""
        return self.queue.get()


class WatchHub:
    """Registry of open streams plus the INIT gate."""

    def __init__(self) -> None:
        # One condition guards _subs and _init_paused, and wakes waiters when either changes
        # (wait_for_streams, handlers held before INIT).
        self._cond = threading.Condition()
        self._subs: list[Subscription] = []
        self._init_paused = False

    # -- registry ---------------------------------------------------------------------------

    def subscribe(self, kinds: Iterable[str]) -> Subscription:
        sub = Subscription(kinds=frozenset(kinds))
        with self._cond:
            self._subs.append(sub)
            self._cond.notify_all()
        return sub

    def unsubscribe(self, sub: Subscription, signal: Signal = Signal.CLOSED) -> None:
        """Remove ``sub`` and wake its handler; idempotent (called from several paths)."""
        with self._cond:
            if sub in self._subs:
                self._subs.remove(sub)
            already = sub.closed
            sub.closed = True
            self._cond.notify_all()
        if not already:
            sub.queue.put(signal)

    def drop_all(self) -> int:
        """End every open stream with UNAVAILABLE; returns how many were dropped."""
        with self._cond:
            subs = list(self._subs)
        for sub in subs:
            self.unsubscribe(sub, Signal.DROPPED)
        return len(subs)

    def close_all(self) -> None:
        """End every stream quietly (server shutdown)."""
        with self._cond:
            subs = list(self._subs)
        for sub in subs:
            self.unsubscribe(sub, Signal.CLOSED)

    @property
    def count(self) -> int:
        with self._cond:
            return len(self._subs)

    def wait_for_count(self, n: int, timeout: float) -> bool:
        """Wait until exactly ``n`` streams are open; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._subs) == n, timeout=timeout)

    # -- events -----------------------------------------------------------------------------

    def publish(self, kind: str, event: authservice_pb2.Event) -> int:
        """Queue ``event`` for every stream that accepted ``kind``; returns the receiver count.

        Each stream gets its own copy so handlers never share a mutable message.
        """
        with self._cond:
            targets = [s for s in self._subs if kind in s.kinds]
        for sub in targets:
            copy = authservice_pb2.Event()
            copy.CopyFrom(event)
            sub.queue.put(copy)
        return len(targets)

    # -- INIT gate --------------------------------------------------------------------------

    @property
    def init_paused(self) -> bool:
        with self._cond:
            return self._init_paused

    @init_paused.setter
    def init_paused(self, value: bool) -> None:
        with self._cond:
            self._init_paused = value
            self._cond.notify_all()

    def wait_init_allowed(self, sub: Subscription) -> bool:
        """Block while INIT is paused; False if the stream was closed meanwhile."""
        with self._cond:
            self._cond.wait_for(lambda: not self._init_paused or sub.closed)
            return not sub.closed
