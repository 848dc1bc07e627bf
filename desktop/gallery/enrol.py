"""Choosing the face of a reference photo, from the engine's result for that photo.

Faces are numbered left to right from 1, the way an investigator points at a photo. A photo
with no face is refused; one with several needs the user's choice (`--face N`), and without
it waits in the gallery as pending (`homeward gallery pending`) while its person is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop.engine.geometry import box_iou
from desktop.engine.types import Face, ImageResult
from desktop.gallery.gallery import (
    FaceRecord,
    PendingPhoto,
    PendingRecord,
    PhotoRecord,
    largest_box,
)


@dataclass(frozen=True)
class Refused:
    reason: str


@dataclass(frozen=True)
class NeedsChoice:
    """Several faces and no number given: the investigator must point at one."""

    faces: list[Face]  # left to right


def faces_left_to_right(faces: list[Face]) -> list[Face]:
    return sorted(faces, key=lambda f: (float(f.detection.box[0]), float(f.detection.box[1])))


def face_record(face: Face) -> FaceRecord:
    detection = face.detection
    return FaceRecord(box=[round(float(v), 2) for v in detection.box],
                      landmarks=[[round(float(x), 2), round(float(y), 2)]
                                 for x, y in detection.landmarks],
                      det_score=float(detection.det_score), quality=face.quality.to_dict(),
                      vector=face.embedding.astype(np.float32))


def choose_face(result: ImageResult, face_number: int | None) -> Face | Refused | NeedsChoice:
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
        return NeedsChoice(faces)
    return faces[0]


def largest(faces: list[Face]) -> int:
    """Index of the largest face (by box area) in `faces`."""
    return largest_box([f.detection.box for f in faces])


def photo_record(source: Path, sha256: str, result: ImageResult, face: Face,
                 photo_date: str | None) -> PhotoRecord:
    return PhotoRecord(source=source, sha256=sha256, width=result.width, height=result.height,
                       photo_date=photo_date, face=face_record(face))


def same_face(result: ImageResult, chosen_box: list[float], min_iou: float = 0.3) -> Face | None:
    """The face another pack finds where the investigator's chosen face is."""
    scored = [(box_iou(f.detection.box, chosen_box), f) for f in result.faces]
    best = max(scored, key=lambda s: s[0], default=(0.0, None))
    return best[1] if best[0] >= min_iou else None


def pending_record(source: Path, sha256: str, result: ImageResult, choice: NeedsChoice,
                   photo_date: str | None) -> PendingRecord:
    return PendingRecord(source=source, sha256=sha256, width=result.width, height=result.height,
                         photo_date=photo_date,
                         face_boxes=[[round(float(v), 2) for v in f.detection.box[:4]]
                                     for f in choice.faces])


def pending_face(result: ImageResult, pending: PendingPhoto, face_number: int) -> Face | Refused:
    """Face `face_number` of a pending photo (as listed when it was kept), found again in a
    new analysis of its stored copy by position (the pack may have changed since)."""
    if result.error:
        return Refused(f"cannot be read: {result.error}")
    if not 1 <= face_number <= pending.faces:
        return Refused(f"has {pending.faces} face(s); face {face_number} does not exist")
    face = same_face(result, pending.face_boxes[face_number - 1])
    return face if face is not None else Refused(f"no face found again where face {face_number} was")
