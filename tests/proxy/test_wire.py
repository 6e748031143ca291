"""The two wire formats we parse by hand: the ClientHello (simulated Proxy) and WebSocket
frames (client side), checked against what real libraries produce."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from simulators.teleport.proxy import parse_client_hello
from teleportbridge.teleport.proxy.route import auth_route
from teleportbridge.teleport.proxy.websocket import encode_frame, read_frame


def test_sni_and_alpn_are_read_from_an_openssl_client_hello():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_alpn_protocols([auth_route("example.com"), "h2"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="teleport.cluster.local")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    sni, alpn = parse_client_hello(outgoing.read())
    assert sni == "teleport.cluster.local"
    assert alpn == ["teleport-auth@6578616d706c652e636f6d.teleport.cluster.local", "h2"]
    assert parse_client_hello(b"GET / HTTP/1.1\r\n\r\n") is None


def test_websocket_frames_round_trip_masked_and_unmasked():
    async def decode(data: bytes) -> tuple[int, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        return await read_frame(reader)

    for size in (0, 5, 125, 126, 65535, 65536, 200_000):
        payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
        for mask in (True, False):
            frame = encode_frame(2, payload, mask=mask)
            assert bool(frame[1] & 0x80) is mask
            assert asyncio.run(decode(frame)) == (2, payload)
