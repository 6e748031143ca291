"""The Proxy's connection upgrade (`GET /webapi/connectionupgrade`) as a byte stream.

Behind an L7 load balancer the TLS session to :443 ends at the balancer, so ALPN routing
never reaches Teleport. Teleport's answer is a WebSocket (subprotocol `alpn`) whose binary
frames carry the very same routed TLS session. RFC 6455 framing is small enough to write
here with the stdlib (no new dependency, and it runs on the bridge's event loop).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import ssl
import struct

from teleportbridge.teleport.proxy.streams import TcpStream, open_tcp

UPGRADE_PATH = "/webapi/connectionupgrade"
SUBPROTOCOL = "alpn"
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_OP_CONT, _OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0, 1, 2, 8, 9, 10


class UpgradeRefused(ConnectionError):
    """The Proxy (or whatever answered) did not switch protocols."""


def encode_frame(opcode: int, payload: bytes, *, mask: bool = True) -> bytes:
    """One final frame; clients must mask (RFC 6455 5.3), servers must not."""
    head = bytes([0x80 | opcode])
    bit = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head += bytes([bit | n])
    elif n < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + _xor(payload, key)


def _xor(data: bytes, key: bytes) -> bytes:
    if not data:
        return data
    repeated = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(data), "big"
    )


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(opcode, payload) of the next frame; IncompleteReadError at end of stream."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    key = await reader.readexactly(4) if b1 & 0x80 else b""
    payload = await reader.readexactly(n)
    return b0 & 0x0F, _xor(payload, key) if key else payload


class WebSocketStream:
    """Binary WebSocket messages as a plain byte stream; answers pings itself."""

    def __init__(self, tcp: TcpStream) -> None:
        self._tcp = tcp
        self._closed = False

    async def read(self) -> bytes:
        while not self._closed:
            try:
                opcode, payload = await read_frame(self._tcp.reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return b""
            if opcode in (_OP_BINARY, _OP_CONT, _OP_TEXT) and payload:
                return payload
            if opcode == _OP_PING:
                await self._tcp.write(encode_frame(_OP_PONG, payload))
            elif opcode == _OP_CLOSE:
                self.close()
        return b""

    async def write(self, data: bytes) -> None:
        await self._tcp.write(encode_frame(_OP_BINARY, data))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            # Already gone: nothing to tell the peer.
            with contextlib.suppress(ConnectionError, RuntimeError):
                self._tcp.writer.write(encode_frame(_OP_CLOSE, struct.pack("!H", 1000)))
        self._tcp.close()


async def open_upgrade(
    host: str, port: int, public_ctx: ssl.SSLContext, timeout: float
) -> WebSocketStream:
    """TLS to the Proxy's public address, then switch the connection to a WebSocket."""
    tcp = await open_tcp(host, port, timeout)
    try:
        await asyncio.wait_for(tcp.writer.start_tls(public_ctx, server_hostname=host), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {UPGRADE_PATH} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n"
        )
        await tcp.write(request.encode())
        head = await asyncio.wait_for(tcp.reader.readuntil(b"\r\n\r\n"), timeout)
        status, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in header_lines if line)
        }
        if len(status.split()) < 2 or status.split()[1] != "101":
            raise UpgradeRefused(f"{UPGRADE_PATH} answered {status.strip()!r}")
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()  # noqa: S324
        if headers.get("sec-websocket-accept") != accept:
            raise UpgradeRefused(f"{UPGRADE_PATH} answered with a wrong Sec-WebSocket-Accept")
    except BaseException:
        tcp.close()
        raise
    return WebSocketStream(tcp)
