"""Roles, as far as the plugin reads them: GetRole for a role's allowed logins."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from simulators.teleport.errors import NotFound
from teleportbridge.teleport.proto import types_pb2


class RoleStore:
    """Role name -> allowed logins; thread-safe (tests edit roles while the server reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards _logins
        self._logins: dict[str, list[str]] = {}

    def put(self, name: str, logins: Sequence[str] = ()) -> None:
        with self._lock:
            self._logins[name] = list(logins)

    def get(self, name: str) -> types_pb2.RoleV6:
        """The role as GetRole returns it; NotFound, like Teleport, for an unknown name."""
        with self._lock:
            if name not in self._logins:
                raise NotFound(f"role {name} is not found")
            logins = list(self._logins[name])
        return types_pb2.RoleV6(
            Kind="role",
            Version="v7",
            Metadata=types_pb2.Metadata(Name=name),
            Spec=types_pb2.RoleSpecV6(Allow=types_pb2.RoleConditions(Logins=logins)),
        )
