"""Reaching Teleport's Auth API through a Proxy (Teleport Cloud, port 443/3080).

`find` asks the Proxy which cluster it serves; `route` opens the TLS-routing path (ALPN
`teleport-auth@<hex cluster>`), directly or inside a WebSocket connection upgrade when an
L7 load balancer sits in front; `alpn_bridge` exposes that path to grpcio as a unix socket.
Callers only ever see a `dial.Connection`.
"""
