"""Async byte streams the proxy path is built from: TCP (optionally via HTTPS_PROXY) and TLS.

The end-to-end TLS session with Auth runs on `ssl.SSLObject` over memory BIOs instead of
asyncio's own TLS, because the same session must run over two carriers: a raw TCP socket
(TLS routing) and WebSocket frames (connection upgrade behind an L7 load balancer).
Everything here runs on the bridge's single event-loop thread, so no locks are needed.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import urllib.parse
import urllib.request
from typing import Protocol

READ_SIZE = 64 * 1024


class ByteStream(Protocol):
    """What the bridge pipes through: read() returns b"" at end of stream."""

    async def read(self) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class TcpStream:
    """An asyncio reader/writer pair (plain TCP, or TLS terminated by asyncio)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read(self) -> bytes:
        try:
            return await self.reader.read(READ_SIZE)
        except ConnectionError:
            return b""

    async def write(self, data: bytes) -> None:
        # The synchronous write() keeps byte order even when two tasks write: only drain awaits.
        self.writer.write(data)
        await self.writer.drain()

    def close(self) -> None:
        self.writer.close()


def split_addr(addr: str, default_port: int = 443) -> tuple[str, int]:
    """host:port, [v6]:port or a bare host."""
    parsed = urllib.parse.urlsplit(f"//{addr}")
    return parsed.hostname or addr, parsed.port or default_port


def https_proxy_for(host: str) -> urllib.parse.SplitResult | None:
    """The HTTPS_PROXY URL to tunnel through, unless NO_PROXY exempts `host` (Go's rules)."""
    proxies = urllib.request.getproxies_environment()
    url = proxies.get("https")
    # proxy_bypass_environment is public in CPython but missing from typeshed.
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not url or bypass(host, proxies):
        return None
    return urllib.parse.urlsplit(url if "//" in url else f"http://{url}")


def join_host_port(host: str, port: str | int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def connect_request(proxy: urllib.parse.SplitResult, target: str) -> bytes:
    """The HTTP CONNECT request for `target`, with Basic credentials from the proxy URL."""
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.username:
        user = urllib.parse.unquote(proxy.username)
        userinfo = f"{user}:{urllib.parse.unquote(proxy.password or '')}"
        lines.append("Proxy-Authorization: Basic " + base64.b64encode(userinfo.encode()).decode())
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def open_tcp(host: str, port: int, timeout: float) -> TcpStream:
    """TCP to host:port, through an HTTP CONNECT tunnel when HTTPS_PROXY says so (an
    http:// or https:// proxy, with Basic credentials from the URL)."""
    proxy = https_proxy_for(host)
    if proxy is None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        return TcpStream(reader, writer)
    tls = None
    if proxy.scheme == "https":
        # TLS to the forward proxy itself (Go's ProxyFromEnvironment accepts https://),
        # verified with the same trust as /webapi/find.
        from teleportbridge.teleport.proxy.find import public_ssl_context, public_trust

        tls = public_ssl_context(public_trust())
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            proxy.hostname,
            proxy.port or (443 if tls else 80),
            ssl=tls,
            server_hostname=proxy.hostname if tls else None,
        ),
        timeout,
    )
    target = join_host_port(host, port)
    writer.write(connect_request(proxy, target))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if len(status.split()) < 2 or status.split()[1] != "200":
        writer.close()
        raise ConnectionError(f"HTTPS_PROXY {proxy.hostname} refused CONNECT {target}: {status}")
    return TcpStream(reader, writer)


class TlsStream:
    """A TLS client session over any ByteStream (memory BIOs, pumped by hand)."""

    def __init__(self, carrier: ByteStream, ctx: ssl.SSLContext, server_hostname: str) -> None:
        self._carrier = carrier
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = ctx.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname)

    @property
    def selected_alpn(self) -> str | None:
        return self._tls.selected_alpn_protocol()

    def peer_certificate_der(self) -> bytes | None:
        return self._tls.getpeercert(binary_form=True)

    async def _flush(self) -> None:
        # read() and the carrier's synchronous write happen with no await between them, so
        # records from the reading and the writing task can never be reordered.
        data = self._outgoing.read()
        if data:
            await self._carrier.write(data)

    async def _fill(self) -> None:
        data = await self._carrier.read()
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()  # the next SSLObject call raises SSLEOFError / returns

    async def handshake(self, timeout: float) -> None:
        async def run() -> None:
            while True:
                try:
                    self._tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    await self._flush()
                    if self._incoming.eof:
                        raise ssl.SSLEOFError("the peer closed the connection") from None
                    await self._fill()
            await self._flush()

        await asyncio.wait_for(run(), timeout)

    async def read(self) -> bytes:
        while True:
            try:
                return self._tls.read(READ_SIZE)
            except ssl.SSLWantReadError:
                await self._flush()  # TLS 1.3 may answer a KeyUpdate while reading
                if self._incoming.eof:
                    return b""
                await self._fill()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

    async def write(self, data: bytes) -> None:
        self._tls.write(data)
        await self._flush()

    def close(self) -> None:
        self._carrier.close()
