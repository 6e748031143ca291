"""Shared fixtures and helpers of the Teleport simulator tests (tests/teleport/test_simulator_*.py).

A module rather than conftest.py additions: ``pki`` here is a fresh cluster per test module,
which must not replace the session-wide ``pki`` the other tests in this folder use.
"""

from __future__ import annotations

import queue
import threading

import grpc
import pytest

from simulators.teleport import API_DOMAIN, ClientCreds, TeleportSimulator, make_cluster
from teleportbridge.teleport.proto import authservice_pb2, authservice_pb2_grpc, types_pb2


@pytest.fixture(scope="module")
def pki():
    return make_cluster("sim.example.com")


@pytest.fixture
def sim(pki):
    with TeleportSimulator(pki) as simulator:
        yield simulator


def open_channel(sim: TeleportSimulator, creds: ClientCreds) -> grpc.Channel:
    return grpc.secure_channel(
        sim.address,
        creds.channel_credentials(),
        options=[("grpc.ssl_target_name_override", API_DOMAIN)],
    )


@pytest.fixture
def channel(sim):
    ch = open_channel(sim, sim.pki.issue_client())
    yield ch
    ch.close()


@pytest.fixture
def auth(channel):
    return authservice_pb2_grpc.AuthServiceStub(channel)


class StreamReader:
    """Consumes a server stream on a thread so the test can poll received messages."""

    def __init__(self, call):
        self.call = call
        self.items: queue.SimpleQueue = queue.SimpleQueue()
        self.error: grpc.RpcError | None = None
        self.done = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            for item in self.call:
                self.items.put(item)
        except grpc.RpcError as err:
            self.error = err
        finally:
            self.done.set()

    def next(self, timeout: float = 5.0):
        return self.items.get(timeout=timeout)


def watch(auth, kinds=("access_request",), partial=True) -> StreamReader:
    request = authservice_pb2.Watch(
        Kinds=[types_pb2.WatchKind(Kind=k) for k in kinds], AllowPartialSuccess=partial
    )
    return StreamReader(auth.WatchEvents(request))
