"""Plugin data: small per-request key/value maps that plugins update by compare-and-swap.

Semantics follow Teleport's UpdatePluginData: setting a key to ""
deletes it, an ``expect`` value of "" means "key must be absent", a plugin entry with no keys
disappears, and any mismatch is CompareFailed (FAILED_PRECONDITION) with nothing written.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from simulators.teleport.errors import BadParameter, CompareFailed
from teleportbridge.teleport.proto import authservice_pb2, types_pb2

#: Resource kinds whose plugin data the simulator stores (Teleport also has access_list).
SUPPORTED_KINDS = frozenset({"access_request"})


def check_kind(kind: str) -> None:
    """Teleport refuses an empty or unknown Kind on both plugin-data RPCs."""
    if kind not in SUPPORTED_KINDS:
        raise BadParameter(f'unsupported resource kind "{kind}"')


class PluginDataStore:
    """resource id -> plugin name -> {key: value}. Existence of the resource is checked by
    the caller (the cluster state), which holds its own lock around both."""

    def __init__(self) -> None:
        # Guards _data; makes each compare-and-swap atomic against concurrent writers.
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, dict[str, str]]] = {}

    def get(self, resource: str, plugin: str = "") -> authservice_pb2.PluginDataSeq:
        """A PluginDataSeq with one PluginDataV3 (entries filtered by ``plugin`` if given),
        or an empty sequence when the resource has no (matching) data."""
        seq = authservice_pb2.PluginDataSeq()
        with self._lock:
            entries = {
                name: dict(values)
                for name, values in self._data.get(resource, {}).items()
                if values and (not plugin or name == plugin)
            }
        if not entries:
            return seq
        item = seq.PluginData.add()
        item.Kind = "plugin_data"
        item.Version = "v3"
        item.Metadata.Name = resource
        for name, values in entries.items():
            item.Spec.Entries[name].Data.update(values)
        return seq

    def snapshot(self, resource: str, plugin: str) -> dict[str, str]:
        """Plain-dict view for tests."""
        with self._lock:
            return dict(self._data.get(resource, {}).get(plugin, {}))

    def update(
        self,
        resource: str,
        plugin: str,
        set_: Mapping[str, str],
        expect: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Apply ``set_`` if every ``expect`` key matches; returns the new data."""
        with self._lock:
            current = self._data.setdefault(resource, {}).setdefault(plugin, {})
            for key, want in (expect or {}).items():
                have = current.get(key, "")
                if have != want:
                    raise CompareFailed(
                        f'plugin data for "{resource}" has been modified '
                        f'(key "{key}": expected "{want}", found "{have}")'
                    )
            for key, value in set_.items():
                if value == "":
                    current.pop(key, None)
                else:
                    current[key] = value
            result = dict(current)
            if not current:
                del self._data[resource][plugin]
            if not self._data[resource]:
                del self._data[resource]
            return result

    def delete_resource(self, resource: str) -> None:
        """Forget all data of a deleted request."""
        with self._lock:
            self._data.pop(resource, None)


def plugin_data_v3(resource: str, plugin: str, data: Mapping[str, str]) -> types_pb2.PluginDataV3:
    """Build a PluginDataV3 message (helper for tests that craft expected values)."""
    item = types_pb2.PluginDataV3(Kind="plugin_data", Version="v3")
    item.Metadata.Name = resource
    item.Spec.Entries[plugin].Data.update(data)
    return item
