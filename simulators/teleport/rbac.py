"""RBAC simulation: tests switch individual (verb, resource) permissions off.

Teleport checks role rules per RPC; the plugin user normally holds the preset ``access-plugin``
role, so everything is allowed until a test calls :meth:`Rbac.deny`. The message text matches
Teleport's so the bridge's error reporting can be checked verbatim.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from simulators.teleport.errors import AccessDenied

VERBS = frozenset({"list", "read", "create", "update", "delete"})


class Rbac:
    """A set of denied (verb, resource) pairs; thread-safe."""

    def __init__(self) -> None:
        # Guards _denied: tests flip permissions while server threads check them.
        self._lock = threading.Lock()
        self._denied: set[tuple[str, str]] = set()

    def deny(self, verb: str, resource: str) -> None:
        """Make every RPC needing ``verb`` on ``resource`` fail with PERMISSION_DENIED."""
        if verb not in VERBS:
            raise ValueError(f"unknown verb {verb!r}; expected one of {sorted(VERBS)}")
        with self._lock:
            self._denied.add((verb, resource))

    def allow(self, verb: str, resource: str) -> None:
        """Undo :meth:`deny` (e.g. to test that the bridge recovers once access is granted)."""
        with self._lock:
            self._denied.discard((verb, resource))

    def reset(self) -> None:
        """Allow everything again."""
        with self._lock:
            self._denied.clear()

    def is_allowed(self, verb: str, resource: str) -> bool:
        with self._lock:
            return (verb, resource) not in self._denied

    def check(self, resource: str, verbs: Iterable[str]) -> None:
        """Raise AccessDenied for the first denied verb, with Teleport's message text."""
        for verb in verbs:
            if not self.is_allowed(verb, resource):
                raise AccessDenied(f'access denied to perform action "{verb}" on "{resource}"')
