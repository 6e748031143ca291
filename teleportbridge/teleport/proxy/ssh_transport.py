"""The SSH half of the reverse tunnel path: the identity's SSH credentials for asyncssh, and
the `teleport-transport` channel dialled to `@remote-auth-server` as a ByteStream.

asyncssh has no public API for a custom channel type or channel request, so
`open_transport` uses internal methods of its channel class; asyncssh is pinned in
requirements.txt and the end-to-end tests cover this.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncssh
from asyncssh.packet import String

from teleportbridge.teleport.errors import CredentialsError
from teleportbridge.teleport.identity import Credentials

CHAN_TRANSPORT = "teleport-transport"
TRANSPORT_DIAL_REQUEST = "teleport-transport-dial"
REMOTE_AUTH_SERVER = "@remote-auth-server"


def ssh_ca_keys(lines: tuple[str, ...]) -> list[asyncssh.SSHKey]:
    """The public keys of `@cert-authority <hosts> <type> <base64> [options]` lines."""
    keys = []
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        try:
            keys.append(asyncssh.import_public_key(f"{fields[2]} {fields[3]}"))
        except (asyncssh.KeyImportError, ValueError):
            continue
    return keys


class SshCredentials:
    """asyncssh's view of one credential set: client key + certificate, host CA keys."""

    def __init__(self, creds: Credentials) -> None:
        if not creds.has_ssh:
            raise CredentialsError(
                f"{creds.source} has no SSH certificate and host CA (a TLS triple never "
                "has): the SSH reverse tunnel path needs an identity file from "
                "`tctl auth sign --format=file` or tbot"
            )
        try:
            key = asyncssh.import_private_key(creds.key_pem)
            cert: Any = asyncssh.import_certificate(creds.ssh_cert)  # an OpenSSH certificate
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise CredentialsError(
                f"identity file {creds.source}: the SSH certificate cannot be used ({exc})"
            ) from None
        self.client_keys = [(key, cert)]
        # Like the Go client: the first principal, else the key id.
        self.username = (cert.principals[0] if cert.principals else "") or cert.key_id
        self.ca_keys = ssh_ca_keys(creds.ssh_cas)
        if not self.ca_keys:
            raise CredentialsError(
                f"identity file {creds.source}: no usable @cert-authority line, so the "
                "Proxy's SSH host certificate could not be verified"
            )


class _ChannelSession(asyncssh.SSHTCPSession[bytes]):
    """Receives the transport channel's data into a queue; stderr is the Proxy's reason
    when it refuses the dial request."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.stderr = b""

    def data_received(self, data: bytes, datatype: int | None) -> None:
        if datatype == asyncssh.EXTENDED_DATA_STDERR:
            self.stderr += data
        else:
            self.queue.put_nowait(data)

    def eof_received(self) -> bool:
        self.queue.put_nowait(b"")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.queue.put_nowait(b"")


class DialRefused(Exception):
    """The Proxy answered `teleport-transport-dial` with a failure."""


class TransportStream:
    """One `teleport-transport` channel as a ByteStream; closing it ends the SSH connection
    too (one SSH connection per gRPC connection, like the Go client's exclusive ChConn)."""

    def __init__(self, conn: asyncssh.SSHClientConnection, chan: Any, session: _ChannelSession):
        self._conn = conn
        self._chan = chan
        self._session = session

    async def read(self) -> bytes:
        data = await self._session.queue.get()
        if not data:
            self._session.queue.put_nowait(b"")  # stay at end of stream for later reads
        return data

    async def write(self, data: bytes) -> None:
        # asyncssh queues what the SSH window cannot take yet; gRPC's own HTTP/2 flow
        # control bounds how much that can be, so no drain is needed here.
        self._chan.write(data)

    def close(self) -> None:
        self._chan.close()
        self._conn.close()


async def open_transport(conn: asyncssh.SSHClientConnection) -> TransportStream:
    """Open `teleport-transport` and ask it for `@remote-auth-server`."""
    chan = conn.create_tcp_channel()
    # Internal asyncssh API (see the module docstring): accept stderr on this channel (the
    # Proxy explains a refused dial there; a TCP channel would call it a protocol error),
    # open a channel of our own type and send a channel request that wants a reply.
    chan._read_datatypes = {asyncssh.EXTENDED_DATA_STDERR}
    session = await chan._open_forward(_ChannelSession, CHAN_TRANSPORT.encode())
    assert isinstance(session, _ChannelSession)
    payload = json.dumps({"address": REMOTE_AUTH_SERVER, "conn_type": "node"}).encode()
    ok = await chan._make_request(TRANSPORT_DIAL_REQUEST.encode(), String(payload))
    if not ok:
        await asyncio.sleep(0)  # let stderr sent before the failure reach the session
        reason = session.stderr.decode("utf-8", "replace").strip()
        chan.close()
        raise DialRefused(reason or f"failed connecting to {REMOTE_AUTH_SERVER}")
    return TransportStream(conn, chan, session)
