"""Choosing the face of a reference photo, from the engine's result for that photo.

Faces are numbered left to right from 1, the way an investigator points at a photo. A photo
with no face is refused; one with several needs the user's choice (`--face N`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop.engine.geometry import box_iou
from desktop.engine.types import Face, ImageResult
from desktop.gallery.gallery import FaceRecord, PhotoRecord


@dataclass(frozen=True)
class Refused:
    reason: str


def faces_left_to_right(faces: list[Face]) -> list[Face]:
    return sorted(faces, key=lambda f: (float(f.detection.box[0]), float(f.detection.box[1])))


def face_record(face: Face) -> FaceRecord:
    detection = face.detection
    return FaceRecord(box=[round(float(v), 2) for v in detection.box],
                      landmarks=[[round(float(x), 2), round(float(y), 2)]
                                 for x, y in detection.landmarks],
                      det_score=float(detection.det_score), quality=face.quality.to_dict(),
                      vector=face.embedding.astype(np.float32))


def choose_face(result: ImageResult, face_number: int | None) -> Face | Refused:
    if result.error:
        return Refused(f"cannot be read: {result.error}")
    faces = faces_left_to_right(result.faces)
    if face_number is not None:
        if not 1 <= face_number <= len(faces):
            return Refused(f"has {len(faces)} face(s); face {face_number} does not exist")
        return faces[face_number - 1]
    if not faces:
        return Refused("no face found in this photo")
    if len(faces) > 1:
        return Refused(f"{len(faces)} faces found: choose one, numbered left to right "
                       "(--face N, or a 'face' column in the CSV)")
    return faces[0]


def photo_record(source: Path, sha256: str, result: ImageResult, face: Face,
                 photo_date: str | None) -> PhotoRecord:
    return PhotoRecord(source=source, sha256=sha256, width=result.width, height=result.height,
                       photo_date=photo_date, face=face_record(face))


def same_face(result: ImageResult, chosen_box: list[float], min_iou: float = 0.3) -> Face | None:
    """The face another pack finds where the investigator's chosen face is."""
    scored = [(box_iou(f.detection.box, chosen_box), f) for f in result.faces]
    best = max(scored, key=lambda s: s[0], default=(0.0, None))
    return best[1] if best[0] >= min_iou else None
