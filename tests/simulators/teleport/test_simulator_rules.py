"""Access monitoring rule RPCs of the Teleport simulator: filtered paging and fallbacks."""

from __future__ import annotations

import grpc
import pytest

from teleportbridge.teleport.proto import accessmonitoringrules_pb2, accessmonitoringrules_pb2_grpc

# The shared fixtures, bound here so pytest finds them (``pki`` must be this module's cluster,
# not the session-wide one from tests/conftest.py).


def test_access_monitoring_rules(teleport, channel):
    stub = accessmonitoringrules_pb2_grpc.AccessMonitoringRulesServiceStub(channel)
    teleport.put_rule("a-mm", recipients=["town-square"])
    teleport.put_rule("b-slack", recipients=["#ops"], notification_name="slack")
    teleport.put_rule("c-mm", recipients=["alice@example.com"])
    request = accessmonitoringrules_pb2.ListAccessMonitoringRulesWithFilterRequest(
        page_size=1, subjects=["access_request"], notification_name="mattermost"
    )
    first = stub.ListAccessMonitoringRulesWithFilter(request)
    assert [r.metadata.name for r in first.rules] == ["a-mm"]
    request.page_token = first.next_page_token
    second = stub.ListAccessMonitoringRulesWithFilter(request)
    assert [r.metadata.name for r in second.rules] == ["c-mm"] and second.next_page_token == ""

    teleport.amr_filter_unimplemented = True
    with pytest.raises(grpc.RpcError) as exc:
        stub.ListAccessMonitoringRulesWithFilter(request)
    assert exc.value.code() == grpc.StatusCode.UNIMPLEMENTED
    everything = stub.ListAccessMonitoringRules(
        accessmonitoringrules_pb2.ListAccessMonitoringRulesRequest()
    )
    assert len(everything.rules) == 3
    teleport.amr_service_unimplemented = True
    with pytest.raises(grpc.RpcError) as exc:
        stub.ListAccessMonitoringRules(accessmonitoringrules_pb2.ListAccessMonitoringRulesRequest())
    assert "unknown service" in exc.value.details()
