"""Dependencies point one way: dashboard -> notifications -> teleportbridge -> common.

`bridge` (the project: settings, service wiring, commands) may import every app; the
simulators are test and demo tools that no product module imports, except the demo. A
module named in a string (a task path, a dotted setting) counts as an import too: that is
how the Teleport side once reached back into notifications.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("common", "teleportbridge", "notifications", "dashboard", "bridge")
NAMED = {*PRODUCT, "simulators"}
# What each package must never import (beyond itself and the libraries).
FORBIDDEN = {
    "common": {"teleportbridge", "notifications", "dashboard", "bridge", "simulators"},
    "teleportbridge": {"notifications", "dashboard", "bridge", "simulators"},
    "notifications": {"dashboard", "bridge", "simulators"},
    "dashboard": {"bridge", "simulators"},
    "bridge": {"simulators"},
}
# The demo runs the simulators next to the real product, on purpose.
MAY_IMPORT_SIMULATORS = {"bridge/demo.py", "bridge/management/commands/demo.py"}


def _modules_named(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) of every import, and of every string that looks like a module path."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.strip()
            if "." in text and " " not in text and text.split(".")[0] in NAMED:
                found.append((node.lineno, text))
    return found


def _violations(package: str, root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if "/migrations/" in rel:
            continue
        forbidden = set(FORBIDDEN[package])
        if rel in MAY_IMPORT_SIMULATORS:
            forbidden.discard("simulators")
        for line, name in _modules_named(ast.parse(path.read_text(), rel)):
            if name.split(".")[0] in forbidden:
                bad.append(f"{rel}:{line} names {name}")
    return bad


@pytest.mark.parametrize("package", PRODUCT)
def test_dependencies_point_one_way(package):
    assert _violations(package) == []


def test_the_check_sees_a_violation(tmp_path):
    """Guard against a check that passes because it looks at nothing."""
    fake = tmp_path / "teleportbridge"
    fake.mkdir()
    (fake / "bad.py").write_text(
        'from notifications.tasks import enqueue_reconcile\nTASK = "notifications.tasks.x"\n'
    )
    assert _violations("teleportbridge", root=tmp_path) == [
        "teleportbridge/bad.py:1 names notifications.tasks",
        "teleportbridge/bad.py:2 names notifications.tasks.x",
    ]
