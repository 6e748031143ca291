"""README "Switching from the Go plugin": the files it tells users to install exist, and
no migrate step crept back in (start and web migrate themselves)."""

from __future__ import annotations

import re

from tests.deploy.artefacts import ROOT

README = (ROOT / "README.md").read_text()


def section() -> str:
    start = README.index("## Switching from the Go plugin")
    end = README.index("\n## ", start + 1)
    return README[start:end]


def test_every_deploy_path_named_exists():
    text = section()
    paths = set(re.findall(r"deploy/(?:systemd|kubernetes)[\w./*-]*", text))
    assert paths
    for path in paths:
        assert list(ROOT.glob(path.rstrip("/"))), f"README names {path}: not in the repository"


def test_no_migrate_step():
    commands = "".join(re.findall(r"```sh\n(.*?)```", section(), flags=re.DOTALL))
    assert commands
    assert not re.search(r"\bmigrate\b", commands)


def test_every_official_chart_value_is_mapped():
    for value in (
        "teleport.address",
        "teleport.identitySecretName",
        "teleport.identitySecretPath",
        "mattermost.url",
        "mattermost.token",
        "mattermost.recipients",
        "log.output",
        "log.severity",
    ):
        assert f"`{value}`" in section(), value
