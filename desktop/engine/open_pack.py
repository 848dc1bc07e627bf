"""Build the `open` model pack from dlib's public-domain models installed from PyPI.

Why: every machine that installs Homeward gets a working pack without a download or a
non-commercial licence. The models come from the `face_recognition_models` package (Davis
King's dlib models); the ResNet is converted to ONNX so it runs on the same ONNX Runtime
path as the other recognizers, and the 5-point shape predictor is copied for the detector.
Nothing here touches the network.

The pack's manifest, with the SHA-256 of every file it is built from and of every file it
holds, is pinned in models/open.json: the conversion is deterministic, so every build must
give exactly those bytes. A build that differs (another converter, another source package)
is refused instead of installed, since cases record the recognizer's hash and could not be
continued with a pack of another hash.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from desktop.engine.dlib_convert import convert_dlib_resnet
from desktop.engine.manifest import ModelFile, PackManifest, load_manifest
from desktop.engine.pack_store import catalogue_dir
from desktop.errors import ModelPackError
from desktop.hashing import sha256_file

log = logging.getLogger(__name__)

PACK_ID = "open"
SOURCE_PACKAGE = "face_recognition_models"
RESNET_SOURCE = "dlib_face_recognition_resnet_model_v1.dat"
PREDICTOR_SOURCE = "shape_predictor_5_face_landmarks.dat"
RECOGNIZER_FILE = "dlib_resnet_v1.onnx"
DETECTOR_FILE = PREDICTOR_SOURCE


def pin_path() -> Path:
    return catalogue_dir() / f"{PACK_ID}.json"


def pinned_manifest() -> PackManifest:
    """The open pack's manifest as shipped, with the hashes every build must reproduce."""
    path = pin_path()
    if not path.is_file():
        raise ModelPackError("The open pack's pinned manifest is missing; it cannot be built.",
                             f"{path} does not exist")
    manifest = load_manifest(path)
    if manifest.id != PACK_ID or manifest.build != PACK_ID:
        raise ModelPackError(f"{path} does not describe the open pack.")
    return manifest


def source_models_dir() -> Path:
    """The installed `face_recognition_models` models folder, found without importing the
    package (its __init__ needs pkg_resources, which recent setuptools no longer ships)."""
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelPackError(
            "The open model pack needs the Python package face-recognition-models, which is "
            "not installed.", "pip install face-recognition-models")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    missing = [n for n in (RESNET_SOURCE, PREDICTOR_SOURCE) if not (folder / n).is_file()]
    if missing:
        raise ModelPackError("face-recognition-models is installed but lacks "
                             f"{', '.join(missing)}.", str(folder))
    return folder


def _check_pin(folder: Path, pinned: tuple[ModelFile, ...], what: str) -> None:
    """Every pinned file in folder must have its pinned SHA-256; else nothing is installed."""
    problems = []
    for model in pinned:
        found = sha256_file(folder / model.file)
        if found != model.sha256:
            problems.append(f"{model.file}: SHA-256 {found}, pinned {model.sha256}")
    if problems:
        raise ModelPackError(
            f"The open pack's {what} differ from the SHA-256 pinned in {pin_path()}; "
            "nothing was installed.",
            "; ".join(problems) + ". Cases record the pinned hashes and could not be continued "
            f"with other bytes: install the {SOURCE_PACKAGE} release and converter the pin was "
            "made with, or change the pin deliberately.")


def build_open_pack(dest_dir: Path) -> dict[str, Any]:
    """Write the pack's files into dest_dir, check them against the pin, and return the
    pinned manifest as a dict."""
    pinned = pinned_manifest()
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    sources = source_models_dir()
    _check_pin(sources, pinned.source_files, f"source files in {sources}")
    started = time.perf_counter()
    convert_dlib_resnet(sources / RESNET_SOURCE, dest_dir / RECOGNIZER_FILE)
    shutil.copyfile(sources / PREDICTOR_SOURCE, dest_dir / DETECTOR_FILE)
    _check_pin(dest_dir, pinned.files, "built files")
    log.info("built the open pack in %s in %.1f s", dest_dir, time.perf_counter() - started)
    return pinned.to_dict()


def _hashes(files: tuple[ModelFile, ...]) -> list[tuple[str, str]]:
    return [(model.file, model.sha256) for model in files]


def is_stale(manifest: PackManifest) -> bool:
    """True when an installed open pack's manifest is not the pinned one (an older build, or
    one made from other sources), so the pack must be rebuilt to the pin."""
    pinned = pinned_manifest()
    return (_hashes(manifest.files) != _hashes(pinned.files)
            or _hashes(manifest.source_files) != _hashes(pinned.source_files))
