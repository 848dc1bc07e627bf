"""Per-face quality: size, detection score, blur and head pose from the landmarks.

Faces below a threshold are flagged, never dropped. Pose is a geometric estimate from 2-D
landmarks: good enough to tell a frontal face from a profile, not a head-pose model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from desktop.engine.types import DetectedFace, FaceQuality

# Nose height between the eye line and the mouth line on a frontal face (ArcFace template).
FRONTAL_NOSE_RATIO = (71.7366 - 51.5988) / (92.2848 - 51.5988)
# A coarse linear reading: the nose moving a tenth of the eye-mouth distance is ~10 degrees.
PITCH_DEGREES_PER_RATIO = 100.0


@dataclass(frozen=True)
class QualityThresholds:
    min_size_px: float = 40.0
    min_det_score: float = 0.6
    min_blur: float = 25.0
    max_yaw: float = 45.0
    max_pitch: float = 35.0
    max_roll: float = 35.0


def blur_score(chip_bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the aligned chip: low means little fine detail."""
    gray = cv2.cvtColor(chip_bgr, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def _eyes_nose_mouth(landmarks: np.ndarray, scheme: str):
    """Eye centres, nose and mouth centre (None where the scheme has no mouth)."""
    if scheme == "arcface5":
        return landmarks[0], landmarks[1], landmarks[2], (landmarks[3] + landmarks[4]) / 2
    if scheme == "dlib5":  # two corners per eye, then the base of the nose
        eye_a, eye_b = (landmarks[0] + landmarks[1]) / 2, (landmarks[2] + landmarks[3]) / 2
        left, right = (eye_a, eye_b) if eye_a[0] < eye_b[0] else (eye_b, eye_a)
        return left, right, landmarks[4], None
    raise ValueError(f"unknown landmark scheme {scheme!r}")


def pose_from_landmarks(landmarks: np.ndarray, scheme: str) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees; pitch is 0 where the scheme has no mouth point."""
    left_eye, right_eye, nose, mouth = _eyes_nose_mouth(np.asarray(landmarks, float), scheme)
    dx, dy = right_eye - left_eye
    roll = math.degrees(math.atan2(dy, dx))
    eye_dist = max(math.hypot(dx, dy), 1e-6)
    # Undo the roll so yaw and pitch are read along the face's own axes.
    cos_r, sin_r = math.cos(-math.radians(roll)), math.sin(-math.radians(roll))
    centre = (left_eye + right_eye) / 2

    def upright(point: np.ndarray) -> tuple[float, float]:
        x, y = point - centre
        return x * cos_r - y * sin_r, x * sin_r + y * cos_r

    nose_x, nose_y = upright(nose)
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, nose_x / (eye_dist / 2)))))
    pitch = 0.0
    if mouth is not None:
        _, mouth_y = upright(mouth)
        if mouth_y > 1e-6:
            pitch = (nose_y / mouth_y - FRONTAL_NOSE_RATIO) * PITCH_DEGREES_PER_RATIO
    return yaw, pitch, roll


def assess(face: DetectedFace, chip_bgr: np.ndarray, scheme: str,
           limits: QualityThresholds) -> FaceQuality:
    x1, y1, x2, y2 = (float(v) for v in face.box)
    size = min(x2 - x1, y2 - y1)
    blur = blur_score(chip_bgr)
    yaw, pitch, roll = pose_from_landmarks(face.landmarks, scheme)
    checks = (("small", size < limits.min_size_px),
              ("low_score", face.det_score < limits.min_det_score),
              ("blurry", blur < limits.min_blur),
              ("profile", abs(yaw) > limits.max_yaw),
              ("pitched", abs(pitch) > limits.max_pitch),
              ("tilted", abs(roll) > limits.max_roll))
    return FaceQuality(size_px=size, det_score=face.det_score, blur=blur, yaw=yaw, pitch=pitch,
                       roll=roll, flags=tuple(name for name, failed in checks if failed))
