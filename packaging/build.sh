#!/usr/bin/env bash
# Builds the self-contained Linux bundle: dist/homeward/ and dist/homeward-VERSION-linux-x86_64-VARIANT.tar.gz.
#
#   bash packaging/build.sh [--variant gpu|cpu] [--pack-from ID_OR_DIR]...
#
# gpu (default): built from .venv (onnxruntime-gpu; falls back to the CPU without a usable GPU).
# cpu: built from build/venv-cpu, created here with onnxruntime instead (smaller bundle).
# --pack-from: also ship an installed pack (e.g. buffalo_l), by id or pack folder; the open pack
# is always shipped. Build-time downloads (pip) only; the bundle itself never uses the network.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VARIANT=gpu
PACKS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --variant) VARIANT=$2; shift 2 ;;
        --pack-from) PACKS+=(--pack "$2"); shift 2 ;;
        *) echo "usage: $0 [--variant gpu|cpu] [--pack-from ID_OR_DIR]..." >&2; exit 2 ;;
    esac
done

mkdir -p build
case "$VARIANT" in
    gpu) VENV=.venv
         [ -x "$VENV/bin/python" ] || bash packaging/setup_env.sh ;;
    cpu) VENV=build/venv-cpu
         [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
         # pyproject's dependencies with the CPU build of ONNX Runtime in place of the GPU one;
         # insightface without its dependencies, as in setup_env.sh.
         "$VENV/bin/python" - > build/requirements-cpu.txt <<'EOF'
import tomllib
for dep in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    print(dep.replace("onnxruntime-gpu", "onnxruntime", 1))
EOF
         "$VENV/bin/python" -m pip install --quiet --upgrade pip
         "$VENV/bin/python" -m pip install --quiet -r build/requirements-cpu.txt
         "$VENV/bin/python" -m pip install --quiet --no-deps -e . \
             "insightface==$(sed -n 's/^INSIGHTFACE_VERSION=//p' packaging/setup_env.sh)" ;;
    *) echo "unknown variant $VARIANT (gpu or cpu)" >&2; exit 2 ;;
esac
PY=$VENV/bin/python
"$PY" -m pip install --quiet -r packaging/requirements-build.txt
known_libs=$(PATH=$PATH:/sbin:/usr/sbin ldconfig -p)
for lib in libxcb-icccm.so.4 libxcb-keysyms.so.1; do
    grep -q "$lib" <<< "$known_libs" || echo "warning: $lib is not installed here, so the bundle" \
        "lacks it: the GUI then needs it on the target's X display (apt install libxcb-icccm4" \
        "libxcb-keysyms1 before building)" >&2
done

started=$(date +%s)
"$PY" packaging/stage_packs.py build/stage "${PACKS[@]}"
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath dist \
    --workpath "build/pyinstaller-$VARIANT" packaging/homeward.spec
# Desktop integration beside the program: `cp homeward.desktop ~/.local/share/applications/`
# and homeward.png to ~/.local/share/icons/hicolor/256x256/apps/ (menu entry and icon).
cp resources/homeward.desktop resources/homeward.png resources/homeward.svg dist/homeward/
VERSION=$("$PY" -c 'import desktop; print(desktop.__version__)')
ARCHIVE=dist/homeward-$VERSION-linux-$(uname -m)-$VARIANT.tar.gz
tar -C dist -czf "$ARCHIVE" homeward
echo "built dist/homeward ($(du -sh dist/homeward | cut -f1)) and $ARCHIVE" \
     "($(du -sh "$ARCHIVE" | cut -f1)) in $(( $(date +%s) - started )) s"
