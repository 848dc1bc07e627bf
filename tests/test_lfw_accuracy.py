"""LFW verification (5 official folds of pairs.txt) on real faces: Homeward vs insightface.

Each fold's threshold is chosen on the other folds. A pair whose image has no face found
counts as a wrong answer for 'same' pairs, for both paths alike.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FACEDATA, MODELS, lfw_pairs

from desktop.engine.engine import EngineOptions
from desktop.engine.types import DetectedFace, Face, FaceQuality, ImageResult
from desktop.engine.verification import evaluate_results, pair_images
from desktop.scan.analyze import analyze_paths

pytestmark = pytest.mark.slow


def reference_results(paths):
    """insightface's own path, shaped as ImageResults so both are scored by the same code."""
    from reference import InsightfaceReference

    reference = InsightfaceReference(MODELS / "scrfd_500m_kps.onnx", MODELS / "w600k_mbf_int8.onnx")
    no_quality = FaceQuality(0, 0, 0, 0, 0, 0)
    for path in paths:
        image, faces = reference.analyze_path(path)
        yield ImageResult(
            path=str(path), width=image.shape[1], height=image.shape[0],
            faces=[Face(DetectedFace(f.box, f.landmarks, f.det_score), no_quality, f.embedding)
                   for f in faces])


def test_lfw_accuracy_matches_insightface(test_pack):
    pairs = lfw_pairs()
    root = FACEDATA / "lfw"
    paths = pair_images(pairs, root)
    ours = evaluate_results(pairs, analyze_paths(paths, test_pack, EngineOptions(provider="cpu")),
                            root)
    theirs = evaluate_results(pairs, reference_results(paths), root)
    print(f"\nLFW {ours.pairs} pairs, {len(paths)} images, pack {test_pack.id}:"
          f"\n  homeward     {100 * ours.accuracy:.2f}% (no face in {ours.missing_faces} images, "
          f"threshold {ours.global_threshold:.3f})"
          f"\n  insightface  {100 * theirs.accuracy:.2f}% (no face in {theirs.missing_faces} images, "
          f"threshold {theirs.global_threshold:.3f})")
    assert ours.pairs == 3000 and len(ours.fold_accuracies) == 5
    assert ours.accuracy >= theirs.accuracy - 0.005
    assert ours.accuracy > 0.98  # a broken alignment or colour order lands near 0.5-0.9
    assert np.std(ours.fold_thresholds) < 0.05  # thresholds chosen per fold agree


def test_lfw_accuracy_of_the_open_pack():
    from desktop.engine.pack_store import resolve_pack

    pairs = lfw_pairs()
    root = FACEDATA / "lfw"
    pack = resolve_pack("open")
    verdict = evaluate_results(
        pairs, analyze_paths(pair_images(pairs, root), pack, EngineOptions(provider="cpu")), root)
    print(f"\nLFW open pack: {100 * verdict.accuracy:.2f}% (no face in {verdict.missing_faces} "
          f"images, best threshold {verdict.global_threshold:.3f}, manifest threshold "
          f"{pack.manifest.match_threshold:.3f})")
    assert verdict.accuracy >= 0.97
    assert abs(verdict.global_threshold - pack.manifest.match_threshold) < 0.02
