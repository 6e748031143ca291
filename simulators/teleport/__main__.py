"""Run a standalone Teleport simulator: ``python -m simulators.teleport --dir DIR``.

Writes ``DIR/identity`` (tctl ``--format=file`` layout) and ``DIR/auth.{key,crt,cas}`` for the
``access-plugin`` user, prints the address, and serves until Ctrl-C. Handy for trying the
bridge by hand without a real Teleport cluster.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
import threading
from pathlib import Path

from simulators.teleport.certs import (
    API_DOMAIN,
    make_cluster,
    write_identity_file,
    write_tls_triple,
)
from simulators.teleport.server import TeleportSimulator


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulators.teleport", description=__doc__)
    parser.add_argument("--dir", required=True, type=Path, help="where to write credentials")
    parser.add_argument("--port", type=int, default=0, help="listen port (default: any free)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address")
    parser.add_argument("--cluster", default="sim.example.com", help="cluster name")
    parser.add_argument("--version", default="17.4.2", help="Teleport version to report")
    parser.add_argument("--ttl-hours", type=float, default=24.0, help="client certificate TTL")
    parser.add_argument(
        "--tunnel-port",
        type=int,
        default=None,
        help="also serve a Proxy's SSH reverse tunnel on this port (0: any free)",
    )
    parser.add_argument(
        "--seed", action="store_true", help="create a Mattermost rule and a pending request"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the simulator and block until interrupted."""
    args = _parse_args(argv)
    pki = make_cluster(args.cluster)
    sim = TeleportSimulator(pki, server_version=args.version, host=args.host)
    now = dt.datetime.now(dt.UTC)
    creds = pki.issue_client(not_after=now + dt.timedelta(hours=args.ttl_hours))
    identity = write_identity_file(args.dir / "identity", creds, pki.cluster_name)
    key, crt, cas = write_tls_triple(args.dir, creds)
    sim.start(args.port)
    tunnel = None
    if args.tunnel_port is not None:
        from simulators.teleport.ssh_tunnel import ReverseTunnelSimulator

        tunnel = ReverseTunnelSimulator(sim.address, pki, host=args.host)
        tunnel.start(args.tunnel_port)
    if args.seed:
        sim.put_rule("mattermost-default", recipients=["town-square"])
        sim.create_request(user="alice", roles=["editor"], reason="demo request")

    print(f"Teleport simulator for cluster {pki.cluster_name} listening on {sim.address}")
    print(f"  server name (SNI): {API_DOMAIN}")
    print(f"  identity file:     {identity}")
    print(f"  TLS triple:        {key} {crt} {cas}")
    if tunnel is not None:
        print(f"  SSH reverse tunnel: {tunnel.address} (identity file only)")
    print("Press Ctrl-C to stop.", flush=True)

    stopped = threading.Event()
    # Ctrl-C and SIGTERM (e.g. from a process manager) both stop cleanly.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    try:
        stopped.wait()
    finally:
        if tunnel is not None:
            tunnel.stop()
        sim.stop()
        print("Simulator stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
