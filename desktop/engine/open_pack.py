"""Build the `open` model pack from dlib's public-domain models installed from PyPI.

Why: every machine that installs Homeward gets a working pack without a download or a
non-commercial licence. The models come from the `face_recognition_models` package (Davis
King's dlib models); the ResNet is converted to ONNX so it runs on the same ONNX Runtime
path as the other recognizers, and the 5-point shape predictor is copied for the detector.
Nothing here touches the network.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from desktop.engine.dlib_convert import convert_dlib_resnet
from desktop.engine.manifest import PackManifest
from desktop.errors import ModelPackError
from desktop.hashing import sha256_file

log = logging.getLogger(__name__)

PACK_ID = "open"
SOURCE_PACKAGE = "face_recognition_models"
RESNET_SOURCE = "dlib_face_recognition_resnet_model_v1.dat"
PREDICTOR_SOURCE = "shape_predictor_5_face_landmarks.dat"
RECOGNIZER_FILE = "dlib_resnet_v1.onnx"
DETECTOR_FILE = PREDICTOR_SOURCE

# Cosine similarity of L2-normalised dlib descriptors: the best global threshold on LFW
# (../shared/facedata/lfw/pairs.txt, 5 folds x 600 pairs) with this pack's own pipeline
# (HOG, upsample 1 -> get_face_chip -> converted ResNet). Accuracy falls fast above it
# (0.9733 at 0.905, 0.9617 at 0.92, 0.8767 at 0.94): dlib descriptors' cosines are all high.
MATCH_THRESHOLD = 0.905
# HOG searches at most this many pixels along the long side (see DlibHogDetector).
DETECTION_MAX_SIDE = 1280
THRESHOLD_SOURCE = ("best global cosine threshold on LFW pairs.txt (5 folds, 3000 pairs) with "
                    "this pack's pipeline: k-fold accuracy 0.9723 counting the 43 pairs where "
                    "HOG finds no face as wrong (0.9865 on the 2957 pairs with both faces); "
                    "dlib's own Euclidean 0.6 rule on the same pairs: 0.9713")

LICENCE = ("dlib models by Davis King (github.com/davisking/dlib-models), as shipped by the "
           "PyPI package face_recognition_models: public domain or CC0 1.0 Universal (its "
           "LICENSE file is CC0 1.0). The ResNet was trained on face photos; check your "
           "agency's policy before operational use.")


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


def _source_version() -> str:
    try:
        return importlib.metadata.version(SOURCE_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _file_entry(path: Path) -> dict[str, Any]:
    return {"file": path.name, "sha256": sha256_file(path), "size": path.stat().st_size}


def build_open_pack(dest_dir: Path) -> dict[str, Any]:
    """Write the pack's files into dest_dir and return its manifest as a dict."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    sources = source_models_dir()
    started = time.perf_counter()
    convert_dlib_resnet(sources / RESNET_SOURCE, dest_dir / RECOGNIZER_FILE)
    shutil.copyfile(sources / PREDICTOR_SOURCE, dest_dir / DETECTOR_FILE)
    log.info("built the open pack in %s in %.1f s", dest_dir, time.perf_counter() - started)
    version = _source_version()
    return {
        "schema": 1,
        "id": PACK_ID,
        "title": "Open: dlib HOG detector + dlib ResNet (128-D), public domain, no download",
        "licence": LICENCE,
        "build": PACK_ID,
        "detector": {**_file_entry(dest_dir / DETECTOR_FILE), "family": "dlib_hog",
                     "input_size": [DETECTION_MAX_SIDE, DETECTION_MAX_SIDE]},
        "recognizer": {**_file_entry(dest_dir / RECOGNIZER_FILE), "family": "dlib_resnet",
                       "input_size": [150, 150], "mean": 0.0, "std": 1.0, "color": "RGB",
                       "embedding_dim": 128},
        "metric": "cosine",
        "match_threshold": MATCH_THRESHOLD,
        "threshold_source": THRESHOLD_SOURCE,
        "source_package": f"{SOURCE_PACKAGE} {version}",
        "source_files": [_file_entry(sources / RESNET_SOURCE),
                         _file_entry(sources / PREDICTOR_SOURCE)],
        "notes": (f"Built locally from {SOURCE_PACKAGE} {version}: {RECOGNIZER_FILE} is "
                  f"{RESNET_SOURCE} converted to ONNX by desktop.engine.dlib_convert (input RGB "
                  "0..255 150x150, dlib's normalisation inside the graph, output the raw "
                  "descriptor); the detector is dlib's built-in HOG detector, the file is its "
                  "5-point shape predictor."),
    }


def is_stale(manifest: PackManifest) -> bool:
    """True when the installed package's source files differ from those the pack was built
    from (an upgraded face_recognition_models), so the pack must be rebuilt."""
    try:
        sources = source_models_dir()
    except ModelPackError:
        return False  # nothing to rebuild from; the installed pack is still usable
    recorded = {f.file: f.sha256 for f in manifest.source_files}
    current = {name: sha256_file(sources / name) for name in (RESNET_SOURCE, PREDICTOR_SOURCE)
               if (sources / name).is_file()}
    return recorded != current
