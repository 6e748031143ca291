"""Fixtures of the Teleport simulator tests: a raw gRPC channel and stub.

The simulator itself (``teleport``) and the cluster PKI (``pki``) come from tests/conftest.py.
"""

from __future__ import annotations

import pytest

from teleportbridge.teleport.proto import authservice_pb2_grpc
from tests.simulators.teleport.grpc_helpers import open_channel


@pytest.fixture
def channel(teleport):
    ch = open_channel(teleport, teleport.pki.issue_client())
    yield ch
    ch.close()


@pytest.fixture
def auth(channel):
    return authservice_pb2_grpc.AuthServiceStub(channel)
