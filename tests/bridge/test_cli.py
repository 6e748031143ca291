"""`teleport-mattermost`, installed with `pip install .` into a fresh virtualenv, run as the
Go plugin is run: `start --config FILE` and nothing else (issue 12, "The command").

The virtualenv borrows the dependencies from the test environment's site-packages (a
.pth file), so the install is quick and needs no index for them; the project itself is
built and installed from a clean copy of the work tree (tracked and new files, no build
leftovers), by pip, as a user would.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from bridge.proctree import spawn
from teleportbridge.config import SAMPLE_CONFIG
from tests.bridge.processes import ROOT, free_port, kill_tree
from tests.conftest import write_config
from tests.waiting import wait_until

SCRIPT = "teleport-mattermost"


def _clean_copy(dest: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / os.fsdecode(name)
        if src.is_file():  # deleted but not yet committed files are listed too
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())
    return dest


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Path:
    """The bin directory of a virtualenv where `pip install .` installed the project."""
    base = tmp_path_factory.mktemp("install")
    source = _clean_copy(base / "src")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # After the venv's own site-packages: the project installed there wins.
    Path(site, "zz-shared-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    started = time.monotonic()
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        check=True,
        cwd=base,
    )
    print(f"pip install . took {time.monotonic() - started:.1f}s")
    return venv / "bin"


def _env(data: Path, **extra: str) -> dict[str, str]:
    """A deployment's environment: no DATABASE_URL, no SECRET_KEY, no DEBUG."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "SECRET_KEY",
            "SECRET_KEY_FILE",
            "DEBUG",
            "PYTHONPATH",
            "TELEPORT_MATTERMOST_CONFIG",
            "TELEPORT_PLUGIN_FAIL_FAST",
            "DJANGO_SETTINGS_MODULE",
        }
    }
    env.update({"TELEPORT_MATTERMOST_DATA": str(data), "Q_WORKERS": "1", **extra})
    return env


def _run(bin_dir: Path, *args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(bin_dir / SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True
    )


def test_pip_install_then_start_delivers_with_no_other_step(
    installed, tmp_path, teleport, identity_file, mattermost
):
    """A fresh data directory, no migrate, no key: `start` posts a pending request."""
    config = write_config(
        tmp_path / "teleport-mattermost.toml",
        teleport_addr=teleport.address,
        identity=identity_file,
        mattermost_url=mattermost.url,
        recipients=["eng/access-requests"],
        log_output=str(tmp_path / "plugin.log"),
    )
    data = tmp_path / "data"
    rid = teleport.create_request(user="alice", roles=["editor"])
    started = time.monotonic()
    proc = spawn(
        [str(installed / SCRIPT), "start", "--config", str(config)],
        env=_env(data),
        cwd=tmp_path,
        stdout=(tmp_path / "out.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(
            lambda: any(rid in p["message"] for p in mattermost.root_posts()),
            timeout=90,
            message="the request posted",
        )
        first_post = time.monotonic() - started
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    finally:
        kill_tree(proc)
    log = (tmp_path / "plugin.log").read_text()
    assert code == 0, (tmp_path / "out.log").read_text() + log[-3000:]
    assert "Applying" in log and "migration(s)" in log
    assert (data / "db.sqlite3").exists()
    key = data / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    # The code came from the virtualenv, not from this checkout.
    assert str(ROOT) not in (tmp_path / "out.log").read_text()
    print(f"start on a fresh data dir: first post {first_post:.2f}s after the command")


def test_configure_and_version_as_the_plugin(installed, tmp_path):
    env = _env(tmp_path / "data")
    configure = _run(installed, "configure", env=env, cwd=tmp_path)
    assert configure.returncode == 0 and configure.stdout == SAMPLE_CONFIG
    version = _run(installed, "version", env=env, cwd=tmp_path)
    assert version.returncode == 0
    assert version.stdout.startswith("teleport-mattermost-bridge v")
    assert version.stdout.count("\n") == 1
    # Neither needs a database nor creates the data directory.
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "args",
    [["start", "--bogus"], ["nope"], [], ["start", "--config"], ["web", "--bind"]],
    ids=["unknown-flag", "unknown-command", "no-command", "missing-value", "web-missing"],
)
def test_bad_arguments_are_one_line_and_exit_code_1(installed, tmp_path, args):
    result = _run(installed, *args, env=_env(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"{SCRIPT}: error: ")
    assert result.stderr.count("\n") == 1, result.stderr


def test_start_debug_flag_logs_debug_lines(
    installed, tmp_path, teleport, identity_file, mattermost
):
    """`-d` forces debug logging whatever [log] severity says (as the plugin's)."""
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr=teleport.address,
        identity=identity_file,
        mattermost_url=mattermost.url,
        recipients=["eng/access-requests"],
        log_output=str(tmp_path / "plugin.log"),
    )
    config.write_text(config.read_text().replace('severity = "DEBUG"', 'severity = "ERROR"'))
    proc = spawn(
        [str(installed / SCRIPT), "start", "-d", "-c", str(config)],
        env=_env(tmp_path / "data"),
        cwd=tmp_path,
        stdout=(tmp_path / "out.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    log = tmp_path / "plugin.log"
    try:
        wait_until(
            lambda: log.exists() and "Plugin is ready" in log.read_text(),
            timeout=60,
            message="ready",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        kill_tree(proc)
    assert " DEBUG " in log.read_text()


def test_a_database_newer_than_the_code_is_refused_in_one_line(installed, tmp_path, identity_file):
    data = tmp_path / "data"
    env = _env(data)
    migrate = _run(installed, "manage", "migrate", "--noinput", env=env, cwd=tmp_path)
    assert migrate.returncode == 0, migrate.stderr
    with sqlite3.connect(data / "db.sqlite3") as db:
        db.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('notifications', '9999_from_the_future', '2030-01-01')"
        )
    config = write_config(
        tmp_path / "tm.toml",
        teleport_addr="127.0.0.1:1",
        identity=identity_file,
        mattermost_url="http://127.0.0.1:1",
    )
    for args in (["start", "--config", str(config)], ["web", "--bind", "127.0.0.1:1"]):
        result = _run(installed, *args, env={**env, "SECRET_KEY": "x" * 50}, cwd=tmp_path)
        assert result.returncode == 1, result
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert "newer version" in lines[0] and "notifications.9999_from_the_future" in lines[0]


def test_web_needs_a_secret_key_and_says_so(installed, tmp_path):
    result = _run(installed, "web", env=_env(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "SECRET_KEY" in result.stderr and "secret_key" in result.stderr


def test_web_migrates_and_serves_the_login_page(installed, tmp_path):
    import requests

    port = free_port()
    data = tmp_path / "data"
    proc = spawn(
        [str(installed / SCRIPT), "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=_env(data, SECRET_KEY="k" * 50, SECURE_SSL_REDIRECT="0"),
        cwd=tmp_path,
        stdout=(tmp_path / "out.log").open("w"),
        stderr=subprocess.STDOUT,
    )

    def login_page():
        try:
            # In a list: a Response is falsy when its status is an error.
            return [requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)]
        except requests.ConnectionError:
            assert proc.poll() is None, (tmp_path / "out.log").read_text()
            return None

    try:
        [response] = wait_until(login_page, timeout=60, message="gunicorn answers")
        assert response.status_code == 200, response.text[:500]
        css = requests.get(f"http://127.0.0.1:{port}/static/dashboard/dashboard.css", timeout=5)
        assert css.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        kill_tree(proc)
    assert (data / "db.sqlite3").exists()
