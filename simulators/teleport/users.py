"""Users and their login states, as far as the plugin reads them: traits for `user.traits`.

A login state (teleport.userloginstate.v1) is what Teleport computes at login (access lists,
login rules); a user without one is read from the user resource, as upstream's
GetUserOrLoginState does. Both lookups answer NotFound for an unknown name.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from simulators.teleport.errors import NotFound
from teleportbridge.teleport.proto import (
    header_pb2,
    trait_pb2,
    types_pb2,
    userloginstate_pb2,
    wrappers_pb2,
)


class UserStore:
    """User name -> traits, and the subset of users that have a login state; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards _traits and _login_states
        self._traits: dict[str, dict[str, list[str]]] = {}
        self._login_states: dict[str, dict[str, list[str]]] = {}

    def put(
        self,
        name: str,
        traits: Mapping[str, Sequence[str]] = (),  # type: ignore[assignment]
        *,
        login_state_traits: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        with self._lock:
            self._traits[name] = {k: list(v) for k, v in dict(traits).items()}
            if login_state_traits is None:
                self._login_states.pop(name, None)
            else:
                self._login_states[name] = {k: list(v) for k, v in login_state_traits.items()}

    def user(self, name: str) -> types_pb2.UserV2:
        with self._lock:
            if name not in self._traits:
                raise NotFound(f'user "{name}" is not found')
            traits = self._traits[name]
            values = {k: wrappers_pb2.StringValues(Values=v) for k, v in traits.items()}
        return types_pb2.UserV2(
            Kind="user",
            Version="v2",
            Metadata=types_pb2.Metadata(Name=name),
            Spec=types_pb2.UserSpecV2(Traits=wrappers_pb2.LabelValues(Values=values)),
        )

    def login_state(self, name: str) -> userloginstate_pb2.UserLoginState:
        with self._lock:
            if name not in self._login_states:
                raise NotFound(f'user_login_state "{name}" is not found')
            traits = self._login_states[name]
        return userloginstate_pb2.UserLoginState(
            header=header_pb2.ResourceHeader(
                kind="user_login_state", version="v1", metadata=header_pb2.Metadata(name=name)
            ),
            spec=userloginstate_pb2.Spec(
                traits=[trait_pb2.Trait(key=k, values=v) for k, v in sorted(traits.items())]
            ),
        )
