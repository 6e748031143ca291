"""Plugin data RPCs of the Teleport simulator: compare-and-swap updates and errors."""

from __future__ import annotations

import grpc
import pytest

from teleportbridge.teleport.proto import types_pb2

# The shared fixtures, bound here so pytest finds them (``pki`` must be this module's cluster,
# not the session-wide one from tests/conftest.py).


def _update(auth, rid, set_, expect=None, kind="access_request"):
    auth.UpdatePluginData(
        types_pb2.PluginDataUpdateParams(
            Kind=kind, Resource=rid, Plugin="mattermost", Set=set_, Expect=expect or {}
        )
    )


def test_plugin_data_cas(teleport, auth):
    rid = teleport.create_request()
    empty = auth.GetPluginData(types_pb2.PluginDataFilter(Kind="access_request", Resource=rid))
    assert list(empty.PluginData) == []
    _update(auth, rid, {"user": "alice", "messages": "c1/p1"}, {"user": "", "messages": ""})
    assert teleport.plugin_data(rid) == {"user": "alice", "messages": "c1/p1"}

    with pytest.raises(grpc.RpcError) as exc:
        _update(auth, rid, {"messages": "c1/p2"}, {"messages": "stale"})
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f'plugin data for "{rid}" has been modified' in exc.value.details()

    _update(auth, rid, {"messages": ""}, {"messages": "c1/p1"})  # "" deletes the key
    seq = auth.GetPluginData(
        types_pb2.PluginDataFilter(Kind="access_request", Resource=rid, Plugin="mattermost")
    )
    assert seq.PluginData[0].Metadata.Name == rid
    assert dict(seq.PluginData[0].Spec.Entries["mattermost"].Data) == {"user": "alice"}


def test_plugin_data_errors(teleport, auth):
    with pytest.raises(grpc.RpcError) as exc:
        auth.GetPluginData(types_pb2.PluginDataFilter(Resource="x"))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unsupported resource kind" in exc.value.details()
    with pytest.raises(grpc.RpcError) as exc:
        _update(auth, "missing", {"a": "b"})
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
