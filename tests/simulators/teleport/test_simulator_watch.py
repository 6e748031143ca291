"""The Teleport simulator's WatchEvents stream: INIT, PUT/DELETE, fan-out, drops and restarts."""

from __future__ import annotations

import queue

import grpc
import pytest

from simulators.teleport import NotFound
from teleportbridge.teleport.proto import authservice_pb2, types_pb2
from tests.simulators.teleport.grpc_helpers import watch
from tests.waiting import wait_until

# The shared fixtures, bound here so pytest finds them (``pki`` must be this module's cluster,
# not the session-wide one from tests/conftest.py).


def test_watch_init_put_delete(teleport, auth):
    stream = watch(auth, kinds=("access_request", "access_monitoring_rule", "node"))
    init = stream.next()
    assert init.Type == authservice_pb2.INIT
    assert [k.Kind for k in init.WatchStatus.Spec.Kinds] == [
        "access_request",
        "access_monitoring_rule",
    ]
    teleport.wait_for_streams(1)

    rid = teleport.create_request(user="alice", roles=["editor"], reason="deploy")
    put = stream.next()
    assert put.Type == authservice_pb2.PUT
    assert put.AccessRequest.Metadata.Name == rid
    assert put.AccessRequest.Spec.State == types_pb2.PENDING
    assert put.AccessRequest.Spec.RequestReason == "deploy"

    teleport.put_rule("ops", recipients=["ops-channel"])
    assert stream.next().AccessMonitoringRule.spec.notification.recipients == ["ops-channel"]

    teleport.delete(rid)
    delete = stream.next()
    assert delete.Type == authservice_pb2.DELETE
    header = delete.ResourceHeader
    assert (header.Kind, header.Version, header.Metadata.Name) == ("access_request", "v3", rid)


def test_review_auto_resolves(teleport, auth):
    stream = watch(auth)
    stream.next()
    rid = teleport.create_request()
    stream.next()
    teleport.review(rid, "bob", "APPROVED", reason="ok")
    update = stream.next().AccessRequest
    assert update.Spec.State == types_pb2.APPROVED
    assert [r.Author for r in update.Spec.Reviews] == ["bob"]


def test_unsupported_kind_without_partial_success_fails(auth):
    stream = watch(auth, kinds=("access_request", "node"), partial=False)
    wait_until(stream.done.is_set)
    assert stream.error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_init_without_status_and_paused_init(teleport, auth):
    teleport.init_without_status = True
    teleport.pause_init = True
    stream = watch(auth)
    teleport.wait_for_streams(1)
    rid = teleport.create_request()
    with pytest.raises(queue.Empty):
        stream.next(timeout=0.2)
    teleport.pause_init = False
    init = stream.next()
    assert init.Type == authservice_pb2.INIT and init.WhichOneof("Resource") is None
    assert stream.next().AccessRequest.Metadata.Name == rid


def test_drop_streams_ends_the_stream(teleport, auth):
    stream = watch(auth)
    stream.next()
    teleport.wait_for_streams(1)
    assert teleport.drop_streams() == 1
    wait_until(stream.done.is_set)
    assert stream.error.code() == grpc.StatusCode.UNAVAILABLE
    teleport.wait_for_streams(0)
    again = watch(auth)
    assert again.next().Type == authservice_pb2.INIT
    teleport.wait_for_streams(1)


def test_restart_keeps_state(teleport, auth):
    rid = teleport.create_request()
    port = teleport.port
    teleport.stop()
    teleport.start(port=port)
    response = auth.ListAccessRequests(
        authservice_pb2.ListAccessRequestsRequest(), wait_for_ready=True, timeout=10
    )
    assert [r.Metadata.Name for r in response.AccessRequests] == [rid]


def test_fan_out_and_client_cancel(teleport, auth):
    streams = [watch(auth) for _ in range(3)]
    for stream in streams:
        stream.next()
    teleport.wait_for_streams(3)
    rid = teleport.create_request()
    assert all(s.next().AccessRequest.Metadata.Name == rid for s in streams)
    streams[0].call.cancel()
    teleport.wait_for_streams(2)


def test_stop_ends_open_streams_and_changes_while_disconnected_are_not_replayed(teleport, auth):
    stream = watch(auth)
    stream.next()
    port = teleport.port
    teleport.stop()
    wait_until(stream.done.is_set)
    assert stream.error is not None
    missed = teleport.create_request()  # nobody is watching: no event will ever carry this
    teleport.start(port=port)
    again = watch(auth)
    assert again.next().Type == authservice_pb2.INIT
    fresh = teleport.create_request()
    assert again.next().AccessRequest.Metadata.Name == fresh
    listed = auth.ListAccessRequests(authservice_pb2.ListAccessRequestsRequest())
    assert [r.Metadata.Name for r in listed.AccessRequests] == [missed, fresh]


def test_expire_sends_delete_and_audit_expire(teleport, auth):
    stream = watch(auth)
    stream.next()
    rid = teleport.create_request()
    stream.next()
    teleport.expire(rid)
    assert stream.next().ResourceHeader.Metadata.Name == rid
    assert teleport.audit.records[-1].event_type == "access_request.expire"
    with pytest.raises(NotFound):
        teleport.get_request(rid)
