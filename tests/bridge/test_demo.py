"""`manage.py demo` from the README works, directly and through the simulated Proxy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "via-proxy"])
def test_demo_delivers_the_seeded_history(tmp_path, via_proxy):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
    env.pop("TELEPORT_MATTERMOST_CONFIG", None)
    args = ["--exit-after-seed", "--data-dir", str(tmp_path / "data")]
    if via_proxy:
        args.append("--via-proxy")
    out = subprocess.run(
        [sys.executable, "manage.py", "demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # The echo polls, so a post may first be seen already edited: check the end state.
    assert "in eng/access-requests: **Status**: ✅ APPROVED" in out.stdout
    assert "in eng/access-requests: **Status**: ❌ DENIED" in out.stdout
    assert "reply in eng/access-requests: carol reviewed the request" in out.stdout
    log = (tmp_path / "data" / "runwatcher.log").read_text()
    path = "through the Proxy" if via_proxy else "direct to Auth"
    assert path in log and "Successfully shut down" in log
