"""Users, as far as the bridge reads them: GetUser for a user's traits (the chat handle)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from simulators.teleport.errors import NotFound
from teleportbridge.teleport.proto import types_pb2, wrappers_pb2


class UserStore:
    """User name -> traits; thread-safe (tests edit users while the server reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards _traits
        self._traits: dict[str, dict[str, list[str]]] = {}

    def put(self, name: str, traits: Mapping[str, Sequence[str]]) -> None:
        with self._lock:
            self._traits[name] = {k: list(v) for k, v in traits.items()}

    def get(self, name: str) -> types_pb2.UserV2:
        """The user as GetUser returns it; NotFound, like Teleport, for an unknown name."""
        with self._lock:
            if name not in self._traits:
                raise NotFound(f'user "{name}" is not found')
            traits = {k: list(v) for k, v in self._traits[name].items()}
        spec = types_pb2.UserSpecV2()
        for key, values in traits.items():
            spec.Traits.Values[key].CopyFrom(wrappers_pb2.StringValues(Values=values))
        return types_pb2.UserV2(
            Kind="user", Version="v2", Metadata=types_pb2.Metadata(Name=name), Spec=spec
        )

    def add(self, name: str, traits: Mapping[str, Sequence[str]] | None = None) -> None:
        """`put` with no traits by default (reviews from chat: a user to map to)."""
        self.put(name, traits or {})

    def all(self) -> list[types_pb2.UserV2]:
        """Every user, sorted by name, as the legacy GetUsers stream returns them."""
        with self._lock:
            names = sorted(self._traits)
        return [self.get(name) for name in names]
