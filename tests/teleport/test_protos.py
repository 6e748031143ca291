"""The committed gRPC stubs are what scripts/gen_protos.py makes of the committed .protos."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_PKG = Path("teleportbridge") / "teleport" / "proto"


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_are_current(tmp_path):
    _load_generator().generate(tmp_path)
    fresh = sorted((tmp_path / PROTO_PKG).glob("*_pb2*.py*"))
    assert fresh, "protoc produced nothing"
    stale = [p.name for p in fresh if p.read_bytes() != (ROOT / PROTO_PKG / p.name).read_bytes()]
    assert not stale, f"run `python scripts/gen_protos.py` and commit: {stale}"
