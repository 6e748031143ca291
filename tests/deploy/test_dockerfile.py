"""Dockerfile: the key instructions of the image that is run, and the files it copies.

No Docker engine runs here, so the image is not built: the install it performs
(`pip install .` of the source tree, then `teleport-mattermost start`) is exercised by
the fresh-virtualenv test of the console script. What is checked here is what that test
cannot see: the entrypoint, the default command, the user, the health check, the volume.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.deploy.artefacts import (
    DATA_DIR,
    ROOT,
    STATUS_PORT,
    copy_sources,
    dockerfile_instructions,
    final_stage,
)

INSTRUCTIONS = dockerfile_instructions(ROOT / "Dockerfile")
IMAGE = final_stage(INSTRUCTIONS)


def only(word: str) -> str:
    values = [args for w, args in IMAGE if w == word]
    assert len(values) == 1, f"expected one {word} in the final stage, got {values}"
    return values[0]


def exec_form(arguments: str) -> list[str]:
    # The JSON form: no shell, so signals reach teleport-mattermost itself (PID 1).
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def healthcheck_command() -> list[str]:
    _, _, command = only("HEALTHCHECK").partition("CMD ")
    return exec_form(command.strip())


def test_entrypoint_is_the_console_script_and_start_is_the_default():
    assert exec_form(only("ENTRYPOINT")) == ["teleport-mattermost"]
    assert exec_form(only("CMD"))[0] == "start"


def test_console_script_is_the_entrypoint_name():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("scripts")
    if not scripts:
        pytest.skip("pyproject.toml declares no [project.scripts] yet (packaging, issue 12)")
    assert "teleport-mattermost" in scripts


def test_runs_as_a_non_root_numeric_user():
    # Numeric: Kubernetes can only enforce runAsNonRoot on a numeric USER.
    user = only("USER").split(":")[0]
    assert user.isdigit() and int(user) != 0
    assert f"runAsUser: {user}" in (ROOT / "deploy/kubernetes/deployment-start.yaml").read_text()


def test_data_directory_is_a_volume_and_the_data_setting():
    assert DATA_DIR in exec_form(only("VOLUME"))
    env = " ".join(args for word, args in IMAGE if word == "ENV")
    assert f"TELEPORT_MATTERMOST_DATA={DATA_DIR}" in env.split()


def test_no_separate_migrate_step():
    # start and web migrate themselves; an image-level migrate would need a database at
    # build time and would hide the zero-step start the README promises.
    assert not [args for word, args in INSTRUCTIONS if word == "RUN" and "migrate" in args]


def test_healthcheck_asks_the_status_listener_with_python():
    command = healthcheck_command()
    assert command[0] == "python"
    assert f"http://127.0.0.1:{STATUS_PORT}/healthz" in command[-1]
    assert "curl" not in only("HEALTHCHECK")


class _Probe(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False), (None, False)])
def test_healthcheck_command_fails_unless_healthz_answers_200(status, healthy):
    """The HEALTHCHECK's own Python, run against a listener on a free port."""
    handler = type("Probe", (_Probe,), {"status": status or 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    if status is None:
        server.server_close()  # nothing listens: connection refused
    else:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = healthcheck_command()[-1].replace(f":{STATUS_PORT}/", f":{port}/")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    finally:
        if status is not None:
            server.shutdown()
            server.server_close()
    assert (result.returncode == 0) is healthy, result.stderr


def test_copied_files_exist_and_are_not_docker_ignored():
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [copy_sources(args) for word, args in INSTRUCTIONS if word == "COPY"]
    sources = [s for c in copies if c is not None for s in c]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        if source != ".":
            assert not any(fnmatch.fnmatch(source, pat) for pat in ignored), source
    # `pip install` of the context needs the package metadata.
    for needed in ("pyproject.toml", "requirements.txt"):
        assert not any(fnmatch.fnmatch(needed, pat) for pat in ignored), needed
