"""Plain data passed between the engine's stages and out of it (picklable, Qt-free)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class DetectedFace:
    """One detector hit in image pixel coordinates."""

    box: np.ndarray  # float32 (4,): x1, y1, x2, y2
    landmarks: np.ndarray  # float32 (5, 2), in the detector's landmark scheme
    det_score: float


@dataclass(frozen=True)
class FaceQuality:
    """Measurements that tell a reviewer how much a face can be trusted.

    Low-quality faces are kept and flagged, never dropped: a blurry face of a missing child
    is still evidence.
    """

    size_px: float  # shorter side of the detection box
    det_score: float
    blur: float  # variance of the Laplacian of the aligned chip; lower is blurrier
    yaw: float  # degrees, estimated from the landmarks
    pitch: float
    roll: float
    flags: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.flags

    def to_dict(self) -> dict[str, object]:
        return {
            "size_px": round(self.size_px, 1),
            "det_score": round(self.det_score, 4),
            "blur": round(self.blur, 1),
            "yaw": round(self.yaw, 1),
            "pitch": round(self.pitch, 1),
            "roll": round(self.roll, 1),
            "flags": list(self.flags),
            "ok": self.ok,
        }


@dataclass(frozen=True)
class Face:
    """A detected, aligned and embedded face."""

    detection: DetectedFace
    quality: FaceQuality
    embedding: np.ndarray  # float32 (D,), L2-normalised

    def to_dict(self) -> dict[str, object]:
        return {
            "box": [round(float(v), 2) for v in self.detection.box],
            "landmarks": [[round(float(x), 2), round(float(y), 2)]
                          for x, y in self.detection.landmarks],
            "det_score": round(float(self.detection.det_score), 4),
            "quality": self.quality.to_dict(),
            "embedding": [float(v) for v in self.embedding],
        }


@dataclass(frozen=True)
class ImageResult:
    """Everything the engine learned from one image file, or why it could not."""

    path: str
    width: int = 0
    height: int = 0
    faces: list[Face] = field(default_factory=list)
    error: str | None = None
    error_detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "faces": [face.to_dict() for face in self.faces],
            "error": self.error,
        }
