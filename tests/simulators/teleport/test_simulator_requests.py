"""Access-request RPCs of the Teleport simulator: listing, reviews, state changes, RBAC denials."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest

from teleportbridge.teleport.proto import authservice_pb2, types_pb2
from tests.simulators.teleport.grpc_helpers import watch

UTC = dt.UTC

# The shared fixtures, bound here so pytest finds them (``pki`` must be this module's cluster,
# not the session-wide one from tests/conftest.py).


def test_list_access_requests_paging_and_filters(teleport, auth):
    base = dt.datetime(2025, 1, 1, tzinfo=UTC)
    ids = [
        teleport.create_request(user=f"u{i}", created=base + dt.timedelta(minutes=i))
        for i in range(5)
    ]
    teleport.approve(ids[1])
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


def test_list_access_requests_unimplemented(teleport, auth):
    teleport.list_access_requests_unimplemented = True
    with pytest.raises(grpc.RpcError) as exc:
        auth.ListAccessRequests(authservice_pb2.ListAccessRequestsRequest())
    assert exc.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_permission_denied_message(teleport, auth):
    teleport.deny("list", "access_request")
    with pytest.raises(grpc.RpcError) as exc:
        auth.ListAccessRequests(authservice_pb2.ListAccessRequestsRequest())
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert exc.value.details() == 'access denied to perform action "list" on "access_request"'
    # With partial success the forbidden kind is just left out of INIT.
    stream = watch(auth, kinds=("access_request", "access_monitoring_rule"))
    assert [k.Kind for k in stream.next().WatchStatus.Spec.Kinds] == ["access_monitoring_rule"]


def test_submit_review_and_set_state_rpcs(teleport, auth):
    rid = teleport.create_request()
    review = types_pb2.AccessReview(Author="carol", ProposedState=types_pb2.DENIED, Reason="no")
    result = auth.SubmitAccessReview(types_pb2.AccessReviewSubmission(RequestID=rid, Review=review))
    assert result.Spec.State == types_pb2.DENIED
    other = teleport.create_request()
    auth.SetAccessRequestState(
        authservice_pb2.RequestStateSetter(ID=other, State=types_pb2.APPROVED, Reason="fine")
    )
    assert teleport.get_request(other).Spec.ResolveReason == "fine"


def test_deny_dispatches_on_its_first_argument(teleport):
    rid = teleport.create_request()
    assert teleport.deny(rid, "not today").Spec.State == types_pb2.DENIED
    assert teleport.deny("read", "access_plugin_data") is None
    assert not teleport.rbac.is_allowed("read", "access_plugin_data")
    teleport.allow("read", "access_plugin_data")
    assert teleport.rbac.is_allowed("read", "access_plugin_data")
