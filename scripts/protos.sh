#!/usr/bin/env bash
# Regenerate the Python modules of the product's Teleport proto subset.
# Run after editing any teleportbridge/teleport/proto/*.proto (and after a merge that touched one:
# generated files are never merged by hand, they are regenerated from the merged .proto files).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m grpc_tools.protoc -I. \
  --python_out=. --pyi_out=. --grpc_python_out=. \
  teleportbridge/teleport/proto/*.proto
.venv/bin/ruff format -q teleportbridge/teleport/proto >/dev/null 2>&1 || true
echo "protos: regenerated $(ls teleportbridge/teleport/proto/*.proto | wc -l) files"
