"""insightface's own naive path, the reference Homeward is measured against.

One image at a time: `SCRFD.detect` at 640x640, then `ArcFaceONNX.get` for each face,
exactly as insightface's documentation does it. Used by the parity/accuracy tests and by
bench/engine.py, so both compare against the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from insightface.app.common import Face as InsightFace
from insightface.model_zoo.arcface_onnx import ArcFaceONNX
from insightface.model_zoo.scrfd import SCRFD

DET_SIZE = (640, 640)


@dataclass
class ReferenceFace:
    box: np.ndarray
    landmarks: np.ndarray
    det_score: float
    embedding: np.ndarray  # L2-normalised


class InsightfaceReference:
    def __init__(self, detector_path: Path, recognizer_path: Path,
                 providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        providers = providers or ["CPUExecutionProvider"]
        self.detector = SCRFD(str(detector_path),
                              session=ort.InferenceSession(str(detector_path), providers=providers))
        self.detector.prepare(-1, input_size=DET_SIZE, det_thresh=0.5)
        self.recognizer = ArcFaceONNX(
            str(recognizer_path), session=ort.InferenceSession(str(recognizer_path), providers=providers))

    def analyze(self, image_bgr: np.ndarray) -> list[ReferenceFace]:
        boxes, kpss = self.detector.detect(image_bgr, input_size=DET_SIZE)
        faces = []
        for i in range(boxes.shape[0]):
            face = InsightFace(bbox=boxes[i, :4], kps=kpss[i], det_score=boxes[i, 4])
            embedding = self.recognizer.get(image_bgr, face)
            faces.append(ReferenceFace(boxes[i, :4], kpss[i], float(boxes[i, 4]),
                                       embedding / np.linalg.norm(embedding)))
        return faces

    def analyze_path(self, path: Path) -> tuple[np.ndarray | None, list[ReferenceFace]]:
        image = cv2.imread(str(path))
        return image, ([] if image is None else self.analyze(image))
