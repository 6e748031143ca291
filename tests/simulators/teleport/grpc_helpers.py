"""Raw gRPC helpers for the Teleport simulator tests: a channel, a stream reader, a watch."""

from __future__ import annotations

import queue
import threading

import grpc

from simulators.teleport import API_DOMAIN, ClientCreds, TeleportSimulator
from teleportbridge.teleport.proto import authservice_pb2, types_pb2


def open_channel(teleport: TeleportSimulator, creds: ClientCreds) -> grpc.Channel:
    return grpc.secure_channel(
        teleport.address,
        creds.channel_credentials(),
        options=[("grpc.ssl_target_name_override", API_DOMAIN)],
    )


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
