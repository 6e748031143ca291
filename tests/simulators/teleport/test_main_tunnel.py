"""`python -m simulators.teleport --tunnel-port 0` serves the SSH reverse tunnel next to
Auth, and the bridge reaches Auth through it with the identity file it wrote."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from bridge.proctree import spawn
from teleportbridge.config import TeleportConfig
from teleportbridge.teleport.dialer import Dialer
from teleportbridge.teleport.identity import CredentialSource
from teleportbridge.teleport.proxy.ssh_tunnel import PATH_SSH_TUNNEL
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]


def test_the_command_line_simulator_serves_a_reverse_tunnel(tmp_path):
    out = tmp_path / "out.log"
    proc = spawn(
        [sys.executable, "-m", "simulators.teleport", "--dir", str(tmp_path), "--tunnel-port", "0"],
        cwd=ROOT,
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        found = wait_until(
            lambda: re.search(r"SSH reverse tunnel: (\S+)", out.read_text()),
            timeout=60,
            message="the tunnel address",
        )
        cfg = TeleportConfig(addr=found.group(1), identity=str(tmp_path / "identity"))
        conn, ping = Dialer(cfg, CredentialSource(cfg), probe_timeout=5).connect()
        conn.close()
        assert conn.path == PATH_SSH_TUNNEL and ping.ClusterName == "sim.example.com"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
