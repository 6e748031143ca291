"""deploy/systemd: the Go plugin's unit keeps its lines, both units verify and are hardened.

`systemd-analyze verify` loads a unit the way systemd would (unknown keys, bad values,
missing binaries); `systemd-analyze security --offline` rates the sandboxing. Both run on
copies in which the console script's path points at a stand-in executable: verify
refuses a unit whose ExecStart binary does not exist, and nothing installs the bridge in
/usr/local/bin on a test machine.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.artefacts import BINARY, DATA_DIR, SYSTEMD, unit_entries, unit_values

START = SYSTEMD / "teleport-mattermost.service"
WEB = SYSTEMD / "teleport-mattermost-web.service"
ENV_FILE = SYSTEMD / "teleport-mattermost-bridge.env"
UNITS = [START, WEB]

# The unit in Teleport's guide ("Set up systemd"): a switch must not have to touch these.
SEED_EXEC_START = f"{BINARY} start --config=/etc/teleport-mattermost.toml"
SEED_EXEC_RELOAD = "/bin/kill -HUP $MAINPID"

# systemd-analyze security's overall exposure, times ten: 2.0 is well inside "OK" (a
# unit with no sandboxing scores 9.6 "UNSAFE").
MAX_EXPOSURE = 20

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian package systemd; bootstrap.sh --dev)",
)


def runnable_copies(tmp_path: Path) -> list[Path]:
    """The units with the console script replaced by an executable stand-in."""
    stand_in = tmp_path / "bin" / "teleport-mattermost"
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    copies = []
    for unit in UNITS:
        text = unit.read_text()
        assert text.count(BINARY) == 1, f"{unit.name}: expected {BINARY} once, in ExecStart"
        copy = tmp_path / unit.name
        copy.write_text(text.replace(BINARY, str(stand_in)))
        copies.append(copy)
    return copies


@needs_systemd_analyze
def test_units_pass_systemd_analyze_verify(tmp_path):
    copies = runnable_copies(tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "verify", *map(str, copies)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    # verify exits 0 on warnings such as "Unknown key": any output at all is a finding.
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == "", result.stdout + result.stderr


@needs_systemd_analyze
@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_units_are_sandboxed(tmp_path, unit):
    copy = next(c for c in runnable_copies(tmp_path) if c.name == unit.name)
    result = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=true",
            f"--threshold={MAX_EXPOSURE}",
            "--no-pager",
            str(copy),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    verdict = (result.stdout.strip().splitlines() or [""])[-1]
    assert result.returncode == 0, f"exposure above {MAX_EXPOSURE / 10}: {verdict}"


def test_start_unit_keeps_the_plugin_units_commands():
    assert unit_values(START, "Service", "ExecStart") == [SEED_EXEC_START]
    assert unit_values(START, "Service", "ExecReload") == [SEED_EXEC_RELOAD]
    assert unit_values(START, "Service", "Restart") == ["on-failure"]
    assert unit_values(START, "Install", "WantedBy") == ["multi-user.target"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_units_run_as_a_dedicated_user_with_a_read_only_system(unit):
    service = dict(unit_entries(unit)["Service"])
    assert service["User"] not in {"", "root", "0"}
    assert service["User"] == dict(unit_entries(START)["Service"])["User"]
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["CapabilityBoundingSet"] == ""


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_units_share_the_state_directory_as_the_data_dir(unit):
    # %S is /var/lib for system units: StateDirectory= creates it, owned by User=, and
    # it is the one place besides LogsDirectory= that ProtectSystem=strict leaves writable.
    assert unit_values(unit, "Service", "StateDirectory") == [Path(DATA_DIR).name]
    assert f"TELEPORT_MATTERMOST_DATA=%S/{Path(DATA_DIR).name}" in unit_values(
        unit, "Service", "Environment"
    )


def test_web_unit_serves_on_loopback_and_requires_its_environment_file():
    assert unit_values(WEB, "Service", "ExecStart") == [f"{BINARY} web --bind 127.0.0.1:8000"]
    # No "-" prefix: without SECRET_KEY the web UI cannot start, so a missing file must
    # fail the start instead of leaving an unexplained restart loop.
    assert unit_values(WEB, "Service", "EnvironmentFile") == ["/etc/teleport-mattermost-bridge.env"]
    # The watcher needs none of it: optional for the start unit.
    assert unit_values(START, "Service", "EnvironmentFile") == [
        "-/etc/teleport-mattermost-bridge.env"
    ]


def test_example_environment_file_sets_only_known_settings():
    settings_text = (SYSTEMD.parents[1] / "bridge" / "settings.py").read_text()
    keys = []
    for raw in ENV_FILE.read_text().splitlines():
        line = raw.strip().lstrip("#")
        if "=" in line and line.split("=", 1)[0].isupper() and " " not in line.split("=")[0]:
            keys.append(line.split("=", 1)[0])
    assert {"SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"} <= set(keys)
    for key in keys:
        assert f'"{key}"' in settings_text, f"{key} is not read by bridge/settings.py"
