"""Model families: which code runs a pack's detector, aligner and recognizer.

Chosen by the manifest's family names, never guessed; a detector/recognizer pair whose
landmark schemes do not fit is refused.
"""

from __future__ import annotations

import warnings
from typing import Protocol

import numpy as np
from insightface.utils import face_align

from desktop.engine.manifest import PackManifest
from desktop.engine.pack_store import InstalledPack
from desktop.engine.types import DetectedFace
from desktop.errors import ModelPackError


class Detector(Protocol):
    landmark_scheme: str

    def detect(self, image_bgr: np.ndarray) -> list[DetectedFace]: ...


class Aligner(Protocol):
    def align(self, image_bgr: np.ndarray, face: DetectedFace) -> np.ndarray: ...


class ArcfaceAligner:
    """The standard 5-point similarity transform onto the ArcFace template: insightface's own
    `norm_crop`, so chips match its path bit for bit (int8 recognizers turn even a one-level
    pixel difference into a cosine of 0.997)."""

    def __init__(self, size: int = 112) -> None:
        if size % 112:
            raise ModelPackError(f"ArcFace alignment needs a multiple of 112 px, not {size}.")
        self.size = size

    def align(self, image_bgr: np.ndarray, face: DetectedFace) -> np.ndarray:
        with warnings.catch_warnings():  # scikit-image deprecates the call insightface makes
            warnings.simplefilter("ignore", FutureWarning)
            return face_align.norm_crop(image_bgr, landmark=face.landmarks, image_size=self.size)


LANDMARKS_NEEDED = {"arcface": "arcface5", "dlib_resnet": "dlib5"}


def build_detector(pack: InstalledPack, providers: list[str], threads: int,
                   min_side: int, score_threshold: float | None) -> Detector:
    spec = pack.manifest.detector
    if spec.family == "scrfd":
        from desktop.engine.scrfd import ScrfdDetector

        return ScrfdDetector(str(pack.path(spec)), spec, providers, threads, min_side,
                             score_threshold)
    if spec.family == "dlib_hog":
        from desktop.engine.dlib_family import DlibHogDetector

        return DlibHogDetector(pack.path(spec), max_side=max(spec.input_size))
    raise ModelPackError(f"No detector code for family {spec.family!r}.")


def build_aligner(manifest: PackManifest, detector: Detector) -> Aligner:
    family = manifest.recognizer.family
    needed = LANDMARKS_NEEDED.get(family)
    if needed is None:
        raise ModelPackError(f"No alignment code for recognizer family {family!r}.")
    if detector.landmark_scheme != needed:
        raise ModelPackError(
            f"Pack '{manifest.id}': the {manifest.recognizer.family} recognizer needs "
            f"{needed} landmarks, its detector gives {detector.landmark_scheme}.")
    if family == "dlib_resnet":
        from desktop.engine.dlib_family import DlibChipAligner

        return DlibChipAligner(size=manifest.recognizer.input_size[0])
    return ArcfaceAligner(size=manifest.recognizer.input_size[0])
