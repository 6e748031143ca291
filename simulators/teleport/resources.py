"""Resources a request can name (nodes, user groups), with labels, for ListResources.

Only the slice the plugin reads: a name predicate (`resource.metadata.name == "x" || ...`, the
form the Go plugins send), search-as/preview-as flags (accepted, not modelled: the plugin user
sees everything it may list), and Teleport's RBAC text for a refusal.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping

from simulators.teleport.errors import BadParameter
from teleportbridge.teleport.proto import authservice_pb2, types_pb2

KINDS = ("node", "user_group")
_NAME_TERM = re.compile(r'\s*resource\.metadata\.name\s*==\s*("(?:[^"\\]|\\.)*")\s*')


def names_in(predicate: str) -> set[str] | None:
    """The names a `name == "a" || name == "b"` predicate selects; None for no predicate."""
    if not predicate.strip():
        return None
    names = set()
    for term in predicate.split("||"):
        m = _NAME_TERM.fullmatch(term)
        if not m:
            raise BadParameter(f"unsupported predicate expression {predicate!r}")
        names.add(json.loads(m.group(1)))
    return names


class ResourceStore:
    """kind -> name -> (hostname, labels, description); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards _items
        self._items: dict[str, dict[str, tuple[str, dict[str, str], str]]] = {}

    def put(
        self,
        kind: str,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        hostname: str = "",
        description: str = "",
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"the simulator serves {KINDS}, not {kind!r}")
        with self._lock:
            self._items.setdefault(kind, {})[name] = (hostname, dict(labels or {}), description)

    def list(self, kind: str, predicate: str) -> list[authservice_pb2.PaginatedResource]:
        if kind not in KINDS:
            raise BadParameter(f"unsupported resource type {kind!r}")
        wanted = names_in(predicate)
        with self._lock:
            items = sorted(self._items.get(kind, {}).items())
        out = []
        for name, (hostname, labels, description) in items:
            if wanted is not None and name not in wanted:
                continue
            meta = types_pb2.Metadata(Name=name, Labels=labels, Description=description)
            if kind == "node":
                out.append(
                    authservice_pb2.PaginatedResource(
                        Node=types_pb2.ServerV2(
                            Kind="node",
                            Version="v2",
                            Metadata=meta,
                            Spec=types_pb2.ServerSpecV2(Hostname=hostname),
                        )
                    )
                )
            else:
                out.append(
                    authservice_pb2.PaginatedResource(
                        UserGroup=types_pb2.UserGroupV1(Kind=kind, Version="v1", Metadata=meta)
                    )
                )
        return out
