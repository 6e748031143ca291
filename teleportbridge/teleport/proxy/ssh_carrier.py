"""How an SSH connection to a Teleport Proxy reaches it: plain TCP, HTTP CONNECT through
HTTPS_PROXY, and TLS with ALPN teleport-reversetunnel on a TLS-routing Proxy.

asyncssh takes a `tunnel` object with `create_connection()`; ours hands it a connected socket
(wrapped in TLS by asyncio when asked), so the SSH banner the server sends first is never
read by anyone but asyncssh.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import urllib.parse
from typing import Any

from teleportbridge.teleport.errors import TeleportUnavailable
from teleportbridge.teleport.proxy.streams import connect_request, https_proxy_for, join_host_port


async def _connect_socket(host: str, port: int, timeout: float) -> socket.socket:
    """A connected non-blocking socket to host:port, through HTTPS_PROXY's HTTP CONNECT
    when it applies (the Go tunnel dialer honours it too)."""
    loop = asyncio.get_running_loop()
    proxy = https_proxy_for(host)
    target_host, target_port = (host, port) if proxy is None else (proxy.hostname, proxy.port)
    if proxy is not None and proxy.scheme == "https":
        raise TeleportUnavailable(
            "HTTPS_PROXY is an https:// forward proxy; the SSH reverse tunnel path can only "
            "go through an http:// one"
        )
    infos = await loop.getaddrinfo(target_host, target_port or 80, type=socket.SOCK_STREAM)
    last: OSError = OSError(f"cannot resolve {target_host}")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, address), timeout)
            break
        except (OSError, TimeoutError) as exc:
            sock.close()
            last = exc if isinstance(exc, OSError) else OSError(f"timed out after {timeout:g}s")
    else:
        raise last
    if proxy is None:
        return sock
    try:
        await _http_connect(sock, host, port, proxy, timeout)
    except BaseException:
        sock.close()
        raise
    return sock


async def _http_connect(
    sock: socket.socket, host: str, port: int, proxy: urllib.parse.SplitResult, timeout: float
) -> None:
    loop = asyncio.get_running_loop()
    target = join_host_port(host, port)
    await loop.sock_sendall(sock, connect_request(proxy, target))

    async def read_head() -> bytes:
        # One byte at a time: the SSH server speaks first, and its banner must stay in the
        # socket for asyncssh, so we may not read past the end of the CONNECT answer.
        data = b""
        while not data.endswith(b"\r\n\r\n"):
            chunk = await loop.sock_recv(sock, 1)
            if not chunk or len(data) > 16384:
                raise ConnectionError(f"HTTPS_PROXY {proxy.hostname} closed during CONNECT")
            data += chunk
        return data

    head = await asyncio.wait_for(read_head(), timeout)
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if len(status.split()) < 2 or status.split()[1] != "200":
        raise ConnectionError(f"HTTPS_PROXY {proxy.hostname} refused CONNECT {target}: {status}")


class Carrier:
    """The asyncssh `tunnel` hook: how the SSH connection's bytes reach the Proxy (plain
    TCP, HTTP CONNECT, and TLS with ALPN teleport-reversetunnel when `tls` is set)."""

    def __init__(self, tls: ssl.SSLContext | None, timeout: float) -> None:
        self.tls = tls
        self.timeout = timeout

    async def create_connection(self, session_factory: Any, host: str, port: int) -> Any:
        sock = await _connect_socket(host, port, self.timeout)
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.create_connection(
                    session_factory,
                    sock=sock,
                    ssl=self.tls,
                    server_hostname=host if self.tls else None,
                ),
                self.timeout,
            )
        except BaseException:
            sock.close()
            raise
