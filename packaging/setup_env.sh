#!/usr/bin/env bash
# Creates .venv with Homeward and its runtime, the same way on every fresh machine.
# Exactly one ONNX Runtime distribution must end up installed: insightface declares the CPU
# build as a dependency, which would shadow onnxruntime-gpu's files, so insightface goes in
# with --no-deps and its real needs come from pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
INSIGHTFACE_VERSION=2.1

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
.venv/bin/python -m pip install --quiet --no-deps "insightface==${INSIGHTFACE_VERSION}"
# A CPU build pulled in by anything else is removed, then the GPU build's files restored.
if .venv/bin/python -m pip show --quiet onnxruntime 2>/dev/null; then
    .venv/bin/python -m pip uninstall --quiet --yes onnxruntime
    .venv/bin/python -m pip install --quiet --force-reinstall --no-deps onnxruntime-gpu
fi
.venv/bin/homeward doctor
