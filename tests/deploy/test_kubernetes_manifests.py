"""deploy/kubernetes: every manifest validates against the Kubernetes schemas, and the
files agree with each other and with the TOML the bridge reads.

kubernetes-validate checks offline against the schemas it bundles; strict mode also
refuses unknown fields, the typo `kubectl apply` would silently drop. The base is
rendered with `kubectl kustomize` when kubectl is installed (it is not a Debian package,
so not every machine has it); without it each resource file is validated on its own and
kustomization.yaml is checked to name existing files.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from teleportbridge.config import parse_config
from tests.deploy.artefacts import DATA_DIR, KUBERNETES, STATUS_PORT

# The oldest Kubernetes still in common managed offerings, and the newest bundled schema.
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]

KUSTOMIZATION = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
RESOURCE_FILES = [KUBERNETES / name for name in KUSTOMIZATION["resources"]]
TOML = KUBERNETES / "teleport-mattermost.toml"


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def resources() -> list[dict]:
    return [doc for path in RESOURCE_FILES for doc in documents(path)]


def one(kind: str, name: str) -> dict:
    found = [r for r in resources() if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def container(deployment: dict) -> dict:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


START = one("Deployment", "teleport-plugin-mattermost")
WEB = one("Deployment", "teleport-mattermost-bridge-web")


def test_kustomization_names_existing_files_and_every_manifest():
    listed = {p.name for p in RESOURCE_FILES}
    generated = {f for gen in KUSTOMIZATION["configMapGenerator"] for f in gen["files"]}
    for name in listed | generated:
        assert (KUBERNETES / name).is_file(), f"kustomization.yaml names missing {name}"
    on_disk = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert on_disk == listed, f"manifests not in kustomization.yaml: {on_disk - listed}"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", RESOURCE_FILES, ids=lambda p: p.name)
def test_resource_file_validates(path, version):
    for doc in documents(path):
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("version", VERSIONS)
def test_rendered_base_validates(version):
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert config_map["data"]["teleport-mattermost.toml"] == TOML.read_text()
    (deployment,) = [
        d
        for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["name"] == START["metadata"]["name"]
    ]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    # The generated name carries the content hash: a TOML edit rolls the pod.
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"]


def test_one_watcher_replaced_without_overlap():
    assert START["spec"]["replicas"] == 1
    assert START["spec"]["strategy"]["type"] == "Recreate"


def test_start_probes_the_status_listener():
    c = container(START)
    assert c["args"][0] == "start"
    assert f"--status-addr=0.0.0.0:{STATUS_PORT}" in c["args"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["status"] == STATUS_PORT
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "status"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "status"}
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "status"}


def test_web_serves_on_its_port():
    c = container(WEB)
    assert c["args"][:1] == ["web"]
    bind = c["args"][c["args"].index("--bind") + 1]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert bind == f"0.0.0.0:{ports['http']}"
    assert {e["name"] for e in c["env"]} >= {"SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"}


@pytest.mark.parametrize("deployment", [START, WEB], ids=["start", "web"])
def test_pods_run_non_root_with_a_writable_data_dir(deployment):
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    c = container(deployment)
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert not mounts[DATA_DIR].get("readOnly")
    for ref in (e["valueFrom"]["secretKeyRef"] for e in c["env"] if "valueFrom" in e):
        secret = one("Secret", ref["name"])
        assert ref["key"] in secret["stringData"], f"{ref['name']} has no key {ref['key']}"


def test_services_select_their_pods_and_name_existing_ports():
    for service in (r for r in resources() if r["kind"] == "Service"):
        selector = service["spec"]["selector"]
        targets = [
            d
            for d in (START, WEB)
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(targets) == 1, service["metadata"]["name"]
        port_names = {p["name"] for p in container(targets[0])["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names


def test_toml_is_the_plugin_format_and_matches_the_mounts(tmp_path):
    """The ConfigMap's TOML parses with the bridge's own parser, and the identity and
    token paths it names are the files the start pod mounts from the two Secrets."""
    c = container(START)
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["config"]["mountPath"] == c["args"][1].removeprefix("--config=")
    (generator,) = KUSTOMIZATION["configMapGenerator"]
    assert mounts["config"]["subPath"] in generator["files"]

    volumes = {v["name"]: v for v in START["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == generator["name"]
    directory = Path(mounts["credentials"]["mountPath"])
    files: set[str] = set()
    for source in volumes["credentials"]["projected"]["sources"]:
        secret = one("Secret", source["secret"]["name"])
        items = source["secret"].get("items")
        if items:
            assert all(item["key"] in secret["stringData"] for item in items)
            files |= {item["path"] for item in items}
        else:
            files |= set(secret["stringData"])

    text = TOML.read_text()
    token_file = tmp_path / "token"
    token_file.write_text("abcdefghijklmnopqrstuvwxyz\n")
    config = parse_config(text.replace(str(directory / "token"), str(token_file)), str(TOML))
    assert config.mattermost.token == "abcdefghijklmnopqrstuvwxyz"
    identity = Path(config.teleport.identity)
    assert identity.parent == directory and identity.name in files
    assert f'token = "{directory / "token"}"' in text and "token" in files
