"""The Teleport simulator's audit log over GetEvents: paging, order, type filter, limits."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from teleportbridge.teleport.proto import authservice_pb2

UTC = dt.UTC

# The shared fixtures, bound here so pytest finds them (``pki`` must be this module's cluster,
# not the session-wide one from tests/conftest.py).


def _ts(value: dt.datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def test_get_events_paging_and_order(teleport, auth):
    base = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    teleport.clock = iter(base + dt.timedelta(seconds=i) for i in range(100)).__next__
    rid = teleport.create_request()  # create
    teleport.review(rid, "bob", "APPROVED")  # review
    teleport.delete(rid)  # delete
    teleport.emit_unknown_audit_event()
    teleport.emit_audit_event(
        "access_request.review", "ghost", reviewer="eve", proposed_state="DENIED"
    )

    def fetch(order, types=(), limit=2):
        items, key = [], ""
        while True:
            resp = auth.GetEvents(
                authservice_pb2.GetEventsRequest(
                    StartDate=_ts(base),
                    EndDate=_ts(base + dt.timedelta(hours=2)),
                    EventTypes=list(types),
                    Limit=limit,
                    StartKey=key,
                    Order=order,
                )
            )
            items += resp.Items
            key = resp.LastKey
            if not key:
                return items

    oldest_first = fetch(0)
    kinds = [i.WhichOneof("Event") for i in oldest_first]
    assert kinds == [
        "AccessRequestCreate",
        "AccessRequestCreate",
        "AccessRequestDelete",
        None,
        "AccessRequestCreate",
    ]
    codes = [
        i.AccessRequestCreate.Metadata.Code
        for i in oldest_first
        if i.WhichOneof("Event") == "AccessRequestCreate"
    ]
    assert codes == ["T5000I", "T5002I", "T5002I"]
    newest_first = fetch(1)
    assert [i.SerializeToString() for i in newest_first] == [
        i.SerializeToString() for i in reversed(oldest_first)
    ]
    reviews = fetch(0, types=["access_request.review"], limit=0)
    assert [r.AccessRequestCreate.Reviewer for r in reviews] == ["bob", "eve"]
    ids = {
        i.AccessRequestCreate.Metadata.ID
        for i in oldest_first
        if i.WhichOneof("Event") == "AccessRequestCreate"
    }
    assert len(ids) == 3


def test_get_events_limit_too_large(auth):
    with pytest.raises(grpc.RpcError) as exc:
        auth.GetEvents(authservice_pb2.GetEventsRequest(Limit=10001))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
