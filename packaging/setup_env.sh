#!/usr/bin/env bash
# Creates .venv with Homeward and its runtime, the same way on every fresh machine.
# Exactly one ONNX Runtime distribution must end up installed: insightface declares the CPU
# build as a dependency, which would shadow onnxruntime-gpu's files, so insightface goes in
# with --no-deps and its real needs come from pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
INSIGHTFACE_VERSION=2.1

# Debian tools the tests build evidence with (file system images, E01, The Sleuth Kit's own
# listing as ground truth) and check reports with (Chromium, poppler's pdftotext/pdfimages,
# an X server for the window tests); installed when this runs as root on a Debian-like machine (CI).
if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    missing=""
    for tool in mkfs.ext4:e2fsprogs mkfs.vfat:dosfstools mcopy:mtools ewfacquire:ewf-tools \
                fls:sleuthkit sfdisk:fdisk zip:zip chromium:chromium pdftotext:poppler-utils \
                Xvfb:xvfb xauth:xauth; do
        command -v "${tool%%:*}" > /dev/null || missing="$missing ${tool#*:}"
    done
    if [ -n "$missing" ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing > /dev/null
    fi
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,cluster]'  # the tests run Ray locally
.venv/bin/python -m pip install --quiet --no-deps "insightface==${INSIGHTFACE_VERSION}"
# A CPU build pulled in by anything else is removed, then the GPU build's files restored.
if .venv/bin/python -m pip show --quiet onnxruntime 2>/dev/null; then
    .venv/bin/python -m pip uninstall --quiet --yes onnxruntime
    .venv/bin/python -m pip install --quiet --force-reinstall --no-deps onnxruntime-gpu
fi
.venv/bin/homeward doctor
