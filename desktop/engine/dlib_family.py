"""dlib's HOG face detector, 5-point landmarks and face-chip alignment, for the `open` pack.

These are dlib's own functions, called as they are: the open pack's recognizer is dlib's
ResNet converted to ONNX, and it only reproduces dlib's descriptors when fed exactly the
chips dlib itself would cut (same landmarks, same `get_face_chip` geometry and resampling).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import cv2
import dlib
import numpy as np

from desktop.engine.types import DetectedFace
from desktop.errors import ModelPackError

log = logging.getLogger(__name__)

# dlib's HOG score is an SVM margin: 0 is its default decision threshold and good frontal
# faces score ~1-3. det_score = 1 / (1 + exp(-SCORE_SLOPE * margin)) maps it into (0, 1):
# margin 0 -> 0.5, 0.2 -> 0.6 (the engine's default low-score flag), 1 -> 0.88, 2 -> 0.98.
SCORE_SLOPE = 2.0


def hog_margin_to_score(margin: float) -> float:
    """dlib HOG margin -> det_score in (0, 1), monotonic; see SCORE_SLOPE."""
    margin = min(max(margin, -50.0), 50.0)  # math.exp overflows far beyond any real margin
    return 1.0 / (1.0 + math.exp(-SCORE_SLOPE * margin))


def _to_rgb(image_bgr: np.ndarray) -> np.ndarray:
    """dlib wants a contiguous uint8 RGB (or grey) array."""
    if image_bgr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image_bgr.dtype}")
    if image_bgr.ndim == 2:
        return np.ascontiguousarray(image_bgr)
    if image_bgr.ndim == 3 and image_bgr.shape[2] == 3:
        return np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
    raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image_bgr.shape}")


def _box(rect: dlib.rectangle) -> np.ndarray:
    """x1, y1, x2, y2 with exclusive x2/y2 (dlib's right/bottom are inclusive)."""
    return np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], np.float32)


def _rect(box: np.ndarray) -> dlib.rectangle:
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    return dlib.rectangle(x1, y1, x2 - 1, y2 - 1)


def _landmarks(shape: dlib.full_object_detection) -> np.ndarray:
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def _object_detection(face: DetectedFace) -> dlib.full_object_detection:
    """Rebuild dlib's landmark object; dlib's points are integers, so this is exact."""
    points = [dlib.point(round(float(x)), round(float(y))) for x, y in face.landmarks]
    return dlib.full_object_detection(_rect(face.box), points)


class DlibHogDetector:
    """dlib's frontal HOG detector plus its 5-point shape predictor (landmarks in dlib order:
    two corners of one eye, two of the other, then the base of the nose)."""

    landmark_scheme = "dlib5"

    def __init__(self, shape_predictor_path: Path, upsample: int = 1,
                 adjust_threshold: float = 0.0, max_side: int = 1280) -> None:
        path = Path(shape_predictor_path)
        if not path.is_file():
            raise ModelPackError(f"dlib shape predictor {path} is missing.")
        try:
            self._predictor = dlib.shape_predictor(str(path))
        except RuntimeError as exc:
            raise ModelPackError(f"{path} is not a dlib shape predictor", str(exc)) from exc
        self._detector = dlib.get_frontal_face_detector()
        self.upsample = upsample
        self.adjust_threshold = adjust_threshold
        self.max_side = max_side

    def detect(self, image_bgr: np.ndarray) -> list[DetectedFace]:
        """Faces in image pixels, best first; det_score is hog_margin_to_score(margin).

        HOG costs ~0.4 s per megapixel, so the search runs on at most `max_side` pixels (small
        images upsampled as dlib does, large ones scaled down); landmarks are then read on
        the full-resolution image, where the face's detail is.
        """
        rgb = _to_rgb(image_bgr)
        scale = min(1.0, self.max_side / max(rgb.shape[:2]))
        search = rgb if scale == 1.0 else cv2.resize(rgb, None, fx=scale, fy=scale,
                                                     interpolation=cv2.INTER_AREA)
        upsample = self.upsample if max(search.shape[:2]) * 2 <= self.max_side else 0
        rects, margins, _ = self._detector.run(search, upsample, self.adjust_threshold)
        faces = []
        for found, margin in sorted(zip(rects, margins, strict=True), key=lambda rm: -rm[1]):
            rect = found if scale == 1.0 else _rect(_box(found) / scale)
            shape = self._predictor(rgb, rect)
            if shape.num_parts != 5:
                raise ModelPackError(f"The shape predictor gives {shape.num_parts} points; "
                                     "the open pack needs dlib's 5-point model.")
            faces.append(DetectedFace(box=_box(rect), landmarks=_landmarks(shape),
                                      det_score=hog_margin_to_score(float(margin))))
        log.debug("dlib HOG: %d faces in a %dx%d image", len(faces), rgb.shape[1], rgb.shape[0])
        return faces


class DlibChipAligner:
    """dlib's `get_face_chip`: the chip its ResNet was trained on, returned as BGR uint8."""

    def __init__(self, size: int = 150, padding: float = 0.25) -> None:
        self.size = size
        self.padding = padding

    def align(self, image_bgr: np.ndarray, face: DetectedFace) -> np.ndarray:
        if face.landmarks.shape != (5, 2):
            raise ValueError(f"dlib alignment needs 5 landmarks, got {face.landmarks.shape}")
        rgb = _to_rgb(image_bgr)
        chip = dlib.get_face_chip(rgb, _object_detection(face), size=self.size,
                                  padding=self.padding)
        if chip.ndim == 2:
            return cv2.cvtColor(chip, cv2.COLOR_GRAY2BGR)
        return np.ascontiguousarray(cv2.cvtColor(chip, cv2.COLOR_RGB2BGR))
