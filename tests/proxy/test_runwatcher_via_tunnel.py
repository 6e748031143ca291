"""`manage.py runwatcher` through the Proxy's SSH reverse tunnel, as an operator of a
self-hosted cluster with separate Proxy listeners runs it: the web address (3080) or the
tunnel port (3024) in [teleport] addr, an identity file, real processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.teleport.certs import make_cluster
from simulators.teleport.ssh_tunnel import ReverseTunnelSimulator
from teleportbridge.models import WatcherState
from teleportbridge.teleport.proxy.ssh_tunnel import PATH_SSH_PROXY, PATH_SSH_TUNNEL
from tests.bridge.processes import kill_tree, start_runwatcher
from tests.conftest import write_config
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def config_for(tmp_path: Path, addr: str, identity_file: Path, mattermost) -> Path:
    return write_config(
        tmp_path / "tm.toml",
        teleport_addr=addr,
        identity=identity_file,
        mattermost_url=mattermost.url,
        recipients=["eng/access-requests"],
        log_output=str(tmp_path / "plugin.log"),
    )


def posts_with(mattermost, text: str) -> list[dict]:
    return [p for p in mattermost.root_posts() if text in p["message"]]


@pytest.mark.parametrize("where", ["web address", "tunnel port"])
def test_runwatcher_posts_edits_and_resyncs_through_the_reverse_tunnel(
    where, tmp_path, teleport, identity_file, mattermost, separate, tunnel
):
    addr = separate.address if where == "web address" else tunnel.address
    proc = start_runwatcher(
        config_for(tmp_path, addr, identity_file, mattermost), log=tmp_path / "out.log"
    )
    log = tmp_path / "plugin.log"
    try:
        wait_until(
            lambda: log.exists() and "Plugin is ready" in log.read_text(),
            timeout=60,
            message="watcher ready",
        )
        assert f"reverse tunnel at {tunnel.address}" in log.read_text()
        expected = PATH_SSH_PROXY if where == "web address" else PATH_SSH_TUNNEL
        assert WatcherState.get().connection_path == expected  # the health page's "Via"
        rid = teleport.create_request(user="bob", roles=["db"], reason="incident 42")
        wait_until(lambda: posts_with(mattermost, rid), timeout=30, message="the request post")
        teleport.review(rid, "carol", "APPROVED", reason="ok")
        wait_until(
            lambda: "✅ APPROVED" in posts_with(mattermost, rid)[0]["message"],
            timeout=30,
            message="the post edited after the approval",
        )

        before = len(log.read_text())
        tunnel.stop()  # the tunnel drops mid-stream; nothing can reach us meanwhile
        missed = teleport.create_request(user="dave", roles=["db"])
        tunnel.start(tunnel.port)
        wait_until(
            lambda: posts_with(mattermost, missed), timeout=60, message="resync after the drop"
        )
        assert len(posts_with(mattermost, rid)) == 1  # the resync posts nothing twice
        # The path was logged when chosen (the start-up probe; each worker's Dialer logs its
        # own); the watcher's reconnect goes the same way and says so at DEBUG.
        after = log.read_text()[before:]
        assert "Watcher disconnected" in after
        assert "DEBUG   teleportbridge.teleport.dialer: Reconnected to Teleport through" in after
    finally:
        kill_tree(proc)


def test_runwatcher_refuses_an_unknown_host_ca_in_one_line(
    tmp_path, teleport, identity_file, mattermost
):
    stranger = make_cluster("stranger.example.com")
    with ReverseTunnelSimulator(teleport.address, teleport.pki, host_ca_key=stranger.ca_key) as t:
        proc = start_runwatcher(
            config_for(tmp_path, t.address, identity_file, mattermost), log=tmp_path / "out.log"
        )
        try:
            code = proc.wait(timeout=60)
        finally:
            kill_tree(proc)
    out = (tmp_path / "out.log").read_text()
    assert code == 1, out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("CommandError:"), out
    assert "host CAs (@cert-authority lines) do not trust" in lines[0]
    assert "Traceback" not in out
