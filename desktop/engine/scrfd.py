"""SCRFD face detection (box, 5 landmarks, score) through insightface's own decoder.

insightface's `SCRFD` does the anchor decoding and NMS; Homeward adds the choice of input
size: the image's long side is scaled into [min_side, max_side] and padded to a multiple of
32, instead of always letterboxing into 640x640. A 250x250 photo is then detected at 256x256,
six times less work, while a 4000x3000 photo is still detected at 640x480. `min_side=0`
restores insightface's fixed letterbox, for comparisons.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from insightface.model_zoo.scrfd import SCRFD

from desktop.engine.manifest import DetectorSpec
from desktop.engine.providers import make_session
from desktop.engine.types import DetectedFace

log = logging.getLogger(__name__)

STRIDE = 32


def detection_size(width: int, height: int, min_side: int, max_side: int) -> tuple[int, int]:
    """(w, h) fed to the detector: long side clamped to [min_side, max_side], aspect kept."""
    long_side = max(width, height, 1)
    target = min(max(long_side, min_side), max_side)
    scale = target / long_side
    return (max(STRIDE, math.ceil(width * scale / STRIDE) * STRIDE),
            max(STRIDE, math.ceil(height * scale / STRIDE) * STRIDE))


class ScrfdDetector:
    landmark_scheme = "arcface5"

    def __init__(self, model_path: str, spec: DetectorSpec, providers: list[str],
                 threads: int = 0, min_side: int = 0, score_threshold: float | None = None) -> None:
        session = make_session(model_path, providers, threads)
        self.fixed_size = spec.input_size if min_side == 0 else None  # 0: as insightface does
        # insightface re-exports the graph with fixed dimensions for each input size; with one
        # fixed size that is its default and gives bit-identical landmarks. Adaptive sizes use
        # the dynamic graph, so sessions do not pile up for every aspect ratio seen.
        self._scrfd = SCRFD(model_file=model_path, session=session,
                            static_shape_sessions=self.fixed_size is not None)
        self._scrfd.prepare(0, nms_thresh=spec.nms_threshold)
        self.providers = session.get_providers()
        self.max_side = max(spec.input_size)
        self.min_side = min_side
        self.score_threshold = spec.score_threshold if score_threshold is None else score_threshold

    def detect(self, image_bgr: np.ndarray) -> list[DetectedFace]:
        height, width = image_bgr.shape[:2]
        size = self.fixed_size or detection_size(width, height, self.min_side, self.max_side)
        boxes, kpss = self._scrfd.detect(image_bgr, input_size=size, det_thresh=self.score_threshold)
        if kpss is None:
            raise ValueError("this SCRFD model gives no landmarks; Homeward needs the _kps variant")
        return [
            DetectedFace(box=boxes[i, :4].astype(np.float32),
                         landmarks=kpss[i].astype(np.float32),
                         det_score=float(boxes[i, 4]))
            for i in range(boxes.shape[0])
        ]
