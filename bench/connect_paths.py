#!/usr/bin/env python
"""Connection paths: what each way to Auth costs, next to direct mTLS measured in the same run.

    .venv/bin/python bench/connect_paths.py [--pings 200] [--requests 300] [--rounds 5]

Starts the Teleport simulator, its Proxy (TLS routing, and separate listeners with the SSH
reverse tunnel), and for each path prints the median of --rounds: the first connect (path
discovery with its probes), a reconnect on the remembered path, one Ping round trip
(median of --pings), and listing --requests access requests. Ratios are against the direct
path (the floor: nothing between us and Auth).

Why a script and not a test: these are numbers to compare between versions and machines,
not pass/fail facts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from burst_common import ROOT

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bridge.settings")
os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pings", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    from simulators.teleport.certs import make_cluster, write_identity_file
    from simulators.teleport.proxy import ProxySimulator
    from simulators.teleport.server import TeleportSimulator
    from simulators.teleport.ssh_tunnel import ReverseTunnelSimulator
    from teleportbridge.config import TeleportConfig
    from teleportbridge.teleport.client import TeleportClient
    from teleportbridge.teleport.dialer import Dialer
    from teleportbridge.teleport.identity import CredentialSource

    pki = make_cluster("bench.example.com")
    auth = TeleportSimulator(pki).start()
    for i in range(args.requests):
        auth.create_request(user=f"user{i}", roles=["editor"], reason=f"ticket {i}")
    # One Proxy (each simulator instance has its own public CA), switched between modes.
    proxy = ProxySimulator(auth.address, pki).start()
    tunnel = ReverseTunnelSimulator(auth.address, pki).start()
    proxy.tunnel_port, proxy.reverse_tunnel_addr = tunnel.port, tunnel.address
    tmp = Path(tempfile.mkdtemp(prefix="bench-paths-"))
    identity = write_identity_file(tmp / "identity", pki.issue_client(), pki.cluster_name)
    os.environ["REQUESTS_CA_BUNDLE"] = str(proxy.write_public_ca(tmp / "public-ca.pem"))

    def mode(tls_routing: bool, auth_routing: bool) -> Callable[[], None]:
        def apply() -> None:
            proxy.tls_routing, proxy.auth_routing = tls_routing, auth_routing

        return apply

    paths = [
        ("direct (floor)", auth.address, mode(True, True)),
        ("TLS routing", proxy.address, mode(True, True)),
        ("SSH tunnel over TLS routing", proxy.address, mode(True, False)),
        ("SSH tunnel via web address", proxy.address, mode(False, True)),
        ("SSH tunnel port", tunnel.address, mode(True, True)),
    ]
    rows = []
    for name, addr, apply in paths:
        apply()
        cfg = TeleportConfig(addr=addr, identity=str(identity))
        first, again, ping, listing = [], [], [], []
        for _ in range(args.rounds):
            dialer = Dialer(cfg, CredentialSource(cfg), probe_timeout=5)
            holder: list = []
            first.append(timed(lambda d=dialer, h=holder: h.append(d.connect()[0])))
            holder[0].close()
            again.append(timed(lambda d=dialer, h=holder: h.append(d.connect()[0])))
            client = TeleportClient(holder[-1])
            samples = [timed(lambda c=client: c.ping(timeout=10)) for _ in range(args.pings)]
            ping.append(statistics.median(samples))
            listing.append(timed(lambda c=client: c.list_access_requests()))
            holder[-1].close()
        rows.append((name, *(statistics.median(x) for x in (first, again, ping, listing))))

    floor = rows[0]
    print(
        f"{'path':30} {'first connect':>16} {'reconnect':>16} {'ping':>16} "
        f"{f'list {args.requests}':>16}"
    )
    for name, *values in rows:
        cells = [f"{v * 1000:8.1f}ms x{v / f:4.1f}" for v, f in zip(values, floor[1:], strict=True)]
        print(f"{name:30} " + " ".join(f"{c:>16}" for c in cells))
    for server in (proxy, tunnel, auth):
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
