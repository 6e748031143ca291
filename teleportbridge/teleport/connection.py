"""How we reach Teleport's Auth API: a gRPC channel plus the path it took.

The rest of the code only sees a `Connection` (a grpcio channel); whether bytes go
straight to Auth (port 3025) or through a Proxy's TLS routing is decided here, by trying.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import grpc

from teleportbridge.teleport.identity import Credentials

log = logging.getLogger(__name__)

API_SERVER_NAME = "teleport.cluster.local"
MAX_RECEIVE_BYTES = 64 * 1024 * 1024

# Keepalive values Teleport's server tolerates (MinTime 60 s): pinging faster earns a
# GOAWAY too_many_pings. max_pings_without_data=0 keeps an idle watch stream pinged.
CHANNEL_OPTIONS: list[tuple[str, int | str]] = [
    ("grpc.keepalive_time_ms", 120_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 1000),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.min_reconnect_backoff_ms", 1000),
    # Reconnects are ours (with logging and resync); one channel per connection attempt.
    ("grpc.enable_retries", 0),
]


@dataclasses.dataclass
class Connection:
    """A live channel and a description of the route, logged once per connect."""

    channel: grpc.Channel
    path: str
    _closers: list[Callable[[], None]] = dataclasses.field(default_factory=list)

    def close(self) -> None:
        self.channel.close()
        for closer in self._closers:
            closer()
        self._closers.clear()


def direct_channel(addr: str, creds: Credentials) -> grpc.Channel:
    """mTLS straight to the Auth Service, verifying it as teleport.cluster.local."""
    tls = grpc.ssl_channel_credentials(
        root_certificates=creds.ca_pem,
        private_key=creds.key_pem,
        certificate_chain=creds.cert_pem,
    )
    options = [*CHANNEL_OPTIONS, ("grpc.ssl_target_name_override", API_SERVER_NAME)]
    return grpc.secure_channel(addr, tls, options=options)


def unix_channel(socket_path: str) -> grpc.Channel:
    """Plain HTTP/2 to a local bridge socket (the bridge carries the real mTLS session)."""
    options = [*CHANNEL_OPTIONS, ("grpc.default_authority", API_SERVER_NAME)]
    return grpc.insecure_channel(f"unix:{socket_path}", options=options)


def connect_direct(addr: str, creds: Credentials) -> Connection:
    return Connection(channel=direct_channel(addr, creds), path="direct to Auth")
