"""The batched recognizer path: a face's embedding must not depend on the faces sharing its
batch, and batched runs must agree with one-face-at-a-time runs.

The shared ArcFace model is dynamically quantised and so runs one face per batch; these tests
use a float recognizer derived from it (tests/float_recognizer.py), which the engine batches
exactly as it batches buffalo_l or any float model, on any provider.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import FACEDATA, MODELS, require_shared
from float_recognizer import dequantise

from desktop.engine.engine import EngineOptions, FaceEngine
from desktop.engine.pack_store import InstalledPack
from desktop.engine.types import ImageResult
from desktop.hashing import sha256_file
from desktop.scan.analyze import analyze_paths

FLOAT_FILE = "w600k_mbf_float.onnx"
BATCH_TOLERANCE = 1e-5  # float32 rounding; a face paired with another face's embedding is ~1
GROUP_PHOTOS = ("dlib/_multi/bald_guys.jpg", "face-api.js/_multi/bbt1.jpg",
                "deepface/_multi/selfie-many-people.jpg", "face_recognition/_multi/two_people.jpg")


@pytest.fixture(scope="module")
def float_pack(test_pack, tmp_path_factory: pytest.TempPathFactory) -> InstalledPack:
    """The shared pack's SCRFD detector with the dequantised MobileFaceNet recognizer."""
    folder = tmp_path_factory.mktemp("float-pack")
    detector = test_pack.manifest.detector
    shutil.copyfile(test_pack.path(detector), folder / detector.file)
    path = dequantise(MODELS / test_pack.manifest.recognizer.file, folder / FLOAT_FILE)
    recognizer = dataclasses.replace(test_pack.manifest.recognizer, file=FLOAT_FILE,
                                     sha256=sha256_file(path), size=path.stat().st_size)
    return InstalledPack(dataclasses.replace(test_pack.manifest, id="shared_s_float",
                                             recognizer=recognizer), folder)


@pytest.fixture(scope="module")
def photos() -> list[Path]:
    """Real photos: single LFW faces and group photos, so batches mix faces of many images."""
    require_shared()
    lfw = sorted((FACEDATA / "lfw").rglob("*.jpg"))[::97][:20]
    return [*lfw[:10], *(FACEDATA / p for p in GROUP_PHOTOS), *lfw[10:]]


def run(pack: InstalledPack, paths: list[Path], max_batch: int) -> dict[tuple[str, int], np.ndarray]:
    """Every face's embedding through the engine's real in-process path (groups of images,
    their faces embedded together in batches of max_batch), keyed by (photo, face index)."""
    options = EngineOptions(provider="cpu", max_batch=max_batch)
    results: list[ImageResult] = list(analyze_paths(paths, pack, options, workers=1))
    assert all(r.error is None for r in results)
    return {(r.path, i): face.embedding for r in results for i, face in enumerate(r.faces)}


def worst_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.abs(a[key] - b[key]).max()) for key in a)


def test_the_derived_float_recognizer_is_arcface_like_and_batched(float_pack, test_pack, photos):
    """The float model is the int8 network with its weights dequantised: same embeddings up to
    quantisation error on real faces; the engine batches it (and only it)."""
    assert FaceEngine(float_pack, EngineOptions(provider="cpu")).recognizer.max_batch == 32
    assert FaceEngine(test_pack, EngineOptions(provider="cpu")).recognizer.max_batch == 1
    floats, int8 = run(float_pack, photos, 32), run(test_pack, photos, 32)
    assert floats.keys() == int8.keys() and len(floats) >= 40
    cosines = [float(np.dot(floats[key], int8[key])) for key in floats]
    print(f"\nfloat vs int8 on {len(cosines)} real faces: cosine min {min(cosines):.4f}, "
          f"mean {np.mean(cosines):.4f}")
    assert min(cosines) > 0.95
    norms = np.linalg.norm(np.stack(list(floats.values())), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)


def test_a_face_embedding_does_not_depend_on_its_batch_companions(float_pack, photos):
    """Issue 12 fault 12: batched embedding was never tested (the only ArcFace model in the
    tests ran one face per batch). One-by-one, batched in order, batched in another order with
    other companions and a remainder batch: every face gets the same embedding."""
    alone = run(float_pack, photos, 1)
    assert len(alone) > 32  # more faces than one batch: a full batch and a remainder
    shuffled = photos[:]
    random.Random(12).shuffle(shuffled)
    runs = {"batches of 32, in order": run(float_pack, photos, 32),
            "batches of 5, reversed": run(float_pack, photos[::-1], 5),
            "batches of 32, shuffled": run(float_pack, shuffled, 32)}
    for name, batched in runs.items():
        diff = worst_difference(alone, batched)
        print(f"\none face per batch vs {name}: {len(alone)} faces, max |diff| = {diff:.3g}")
        assert diff < BATCH_TOLERANCE, name
    # The comparison can fail: faces of different people differ far beyond the tolerance.
    keys = list(alone)
    assert min(float(np.abs(alone[a] - alone[b]).max()) for a, b in itertools.pairwise(keys)) > 0.01


def test_engine_embed_keeps_each_face_with_its_own_embedding(float_pack, photos):
    """Issue 12 fault 12: FaceEngine.embed on one list of faces from several photos, in two
    orders and batch sizes, gives every (photo, face) the embedding it gets alone."""
    import cv2

    engine = FaceEngine(float_pack, EngineOptions(provider="cpu", max_batch=7))
    items = []
    for path in photos:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        items += [(image, face) for face in engine.detect(image)]
    alone = np.stack([engine.embed([item])[0].embedding for item in items])
    together = np.stack([face.embedding for face in engine.embed(items)])
    order = list(range(len(items)))[::-1]
    backwards = engine.embed([items[i] for i in order])
    reordered = np.stack([backwards[order.index(i)].embedding for i in range(len(items))])
    assert len(items) % 7  # a remainder batch
    assert np.abs(together - alone).max() < BATCH_TOLERANCE
    assert np.abs(reordered - alone).max() < BATCH_TOLERANCE
