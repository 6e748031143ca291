"""Access-request RPCs of the Teleport simulator: listing, reviews, state changes, RBAC denials."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest

from teleportbridge.teleport.proto import authservice_pb2, types_pb2
from tests.teleport import simulator_support as support
from tests.teleport.simulator_support import watch

UTC = dt.UTC

# The shared fixtures, bound here so pytest finds them (``pki`` must be this module's cluster,
# not the session-wide one from tests/conftest.py).
pki, sim, channel, auth = support.pki, support.sim, support.channel, support.auth


def test_list_access_requests_paging_and_filters(sim, auth):
    base = dt.datetime(2025, 1, 1, tzinfo=UTC)
    ids = [
        sim.create_request(user=f"u{i}", created=base + dt.timedelta(minutes=i)) for i in range(5)
    ]
    sim.approve(ids[1])
    seen, key = [], ""
    while True:
        page = auth.ListAccessRequests(
            authservice_pb2.ListAccessRequestsRequest(Limit=2, StartKey=key)
        )
        seen += [r.Metadata.Name for r in page.AccessRequests]
        key = page.NextKey
        if not key:
            break
        assert key == ids[len(seen)]
    assert seen == ids
    approved = auth.ListAccessRequests(
        authservice_pb2.ListAccessRequestsRequest(
            Filter=types_pb2.AccessRequestFilter(State=types_pb2.APPROVED)
        )
    )
    assert [r.Metadata.Name for r in approved.AccessRequests] == [ids[1]]
    one = list(auth.GetAccessRequestsV2(types_pb2.AccessRequestFilter(ID=ids[3])))
    assert [r.Spec.User for r in one] == ["u3"]


def test_list_access_requests_unimplemented(sim, auth):
    sim.list_access_requests_unimplemented = True
    with pytest.raises(grpc.RpcError) as exc:
        auth.ListAccessRequests(authservice_pb2.ListAccessRequestsRequest())
    assert exc.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_permission_denied_message(sim, auth):
    sim.deny("list", "access_request")
    with pytest.raises(grpc.RpcError) as exc:
        auth.ListAccessRequests(authservice_pb2.ListAccessRequestsRequest())
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert exc.value.details() == 'access denied to perform action "list" on "access_request"'
    # With partial success the forbidden kind is just left out of INIT.
    stream = watch(auth, kinds=("access_request", "access_monitoring_rule"))
    assert [k.Kind for k in stream.next().WatchStatus.Spec.Kinds] == ["access_monitoring_rule"]


def test_submit_review_and_set_state_rpcs(sim, auth):
    rid = sim.create_request()
    review = types_pb2.AccessReview(Author="carol", ProposedState=types_pb2.DENIED, Reason="no")
    result = auth.SubmitAccessReview(types_pb2.AccessReviewSubmission(RequestID=rid, Review=review))
    assert result.Spec.State == types_pb2.DENIED
    other = sim.create_request()
    auth.SetAccessRequestState(
        authservice_pb2.RequestStateSetter(ID=other, State=types_pb2.APPROVED, Reason="fine")
    )
    assert sim.get_request(other).Spec.ResolveReason == "fine"


def test_deny_dispatches_on_its_first_argument(sim):
    rid = sim.create_request()
    assert sim.deny(rid, "not today").Spec.State == types_pb2.DENIED
    assert sim.deny("read", "access_plugin_data") is None
    assert not sim.rbac.is_allowed("read", "access_plugin_data")
    sim.allow("read", "access_plugin_data")
    assert sim.rbac.is_allowed("read", "access_plugin_data")
