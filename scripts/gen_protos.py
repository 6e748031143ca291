"""Regenerate the Python gRPC stubs from teleportbridge/teleport/proto/*.proto.

The generated modules are committed so that installing the project needs no code
generation step; run this (with requirements-dev.txt installed) after editing a .proto.
tests/teleport/test_protos.py fails when the committed stubs are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "teleportbridge" / "teleport" / "proto"


def generate(out_dir: Path = ROOT) -> None:
    """Compile every .proto under PROTO_DIR into out_dir (imports are project-absolute)."""
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(ROOT)) for p in PROTO_DIR.glob("*.proto"))
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
