"""A small in-process cache whose entries expire: settings read on every request.

A worker reconciling a burst read the same few rows (watcher state, monitoring rules,
admin recipients, channel lookups) for every request: a third of its SQL statements.
These change rarely and a few seconds of staleness is harmless (a new recipient applies
to requests planned after it, as with a TOML edit), so each process keeps them for
`ttl` seconds. Writers in the same process call `clear()` for an immediate effect;
other processes see the change when the entry expires.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

#: Every cache, so tests (and a config reload) can empty them all at once.
_all: list[TTLCache] = []
_all_lock = threading.Lock()


class TTLCache(Generic[V]):
    """key -> value for `ttl` seconds. Thread-safe; the loader runs outside the lock (two
    threads may both load a missing key: harmless, the last one stays)."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()
        with _all_lock:
            _all.append(self)

    def get(self, key: Hashable, load: Callable[[], V], *, keep: Callable[[V], bool] | None = None):
        """The cached value, or `load()` (kept only when `keep(value)` says so)."""
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        if keep is None or keep(value):
            self.put(key, value)
        return value

    def put(self, key: Hashable, value: V, *, ttl: float | None = None) -> None:
        expires = time.monotonic() + (self.ttl if ttl is None else ttl)
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data.clear()  # crude but bounded; entries are cheap to reload
            self._data[key] = (expires, value)

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def clear_all() -> None:
    """Empty every cache of this process (tests switch databases and simulators)."""
    with _all_lock:
        caches = list(_all)
    for cache in caches:
        cache.clear()
