"""Grouping the faces of consecutive sampled video frames into tracks.

One person in a ten-minute clip should reach the reviewer as one track with its best frames,
not as hundreds of near-identical hits. Association is greedy and frame to frame: a face joins
the open track whose last face is recent, and either overlaps it and looks alike, or, when the
boxes do not overlap (a camera cut, fast motion), looks alike by the pack's full match threshold.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from desktop.engine.geometry import box_iou
from desktop.engine.types import Face

log = logging.getLogger(__name__)

OVERLAP_RELAXATION = 0.8  # overlapping boxes are evidence in themselves: a lower cosine suffices
# Without overlap, a join needs a cosine distance this share of the threshold's distance:
# measured, joins at cosine 0.32-0.34 (threshold 0.30) mixed two people in a crowd clip.
NON_OVERLAP_STRICTNESS = 0.9
FULL_SIZE_PX = 112.0  # the recognizer's input side: a larger face adds no detail
SHARP_BLUR = 200.0  # Laplacian variance above which a chip counts as fully sharp

Member = tuple[int, float, Face]  # (frame index, timestamp in seconds, face)


@dataclass(frozen=True)
class FrameFaces:
    """The faces the engine found in one sampled frame."""

    index: int
    timestamp_s: float
    faces: list[Face]


def quality_score(face: Face) -> float:
    """Ranks faces of one track in [0, 4]: detection score, size, sharpness, frontal pose."""
    q = face.quality
    size = min(q.size_px / FULL_SIZE_PX, 1.0)
    sharp = min(max(q.blur, 0.0) / SHARP_BLUR, 1.0)
    frontal = max(math.cos(math.radians(q.yaw)), 0.0) * max(math.cos(math.radians(q.pitch)), 0.0)
    return float(q.det_score) + size + sharp + frontal


@dataclass
class Track:
    """One face followed through time; members are in time order."""

    track_id: int
    members: list[Member] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.members)

    @property
    def first_s(self) -> float:
        return self.members[0][1]

    @property
    def last_s(self) -> float:
        return self.members[-1][1]

    @property
    def last_face(self) -> Face:
        return self.members[-1][2]

    def best(self, n: int = 3) -> list[Member]:
        """The n members a reviewer should see first; flagged faces only after every clean one."""
        ranked = sorted(self.members, key=lambda m: (bool(m[2].quality.flags), -quality_score(m[2])))
        return ranked[:n]

    def embedding(self, n: int = 3) -> np.ndarray:
        """Template for matching: the best faces' mean, so one bad frame cannot steer it."""
        mean = np.mean([face.embedding for _, _, face in self.best(n)], axis=0, dtype=np.float64)
        norm = float(np.linalg.norm(mean))
        return (mean / norm if norm > 0 else mean).astype(np.float32)


class Tracker:
    """Feeds frames in time order; `finish` hands back every track."""

    def __init__(self, *, min_similarity: float, max_gap_s: float = 2.0, min_iou: float = 0.2) -> None:
        if max_gap_s < 0 or not 0.0 <= min_iou <= 1.0:
            raise ValueError("max_gap_s must be >= 0 and min_iou within [0, 1]")
        self.min_similarity = min_similarity
        self.max_gap_s = max_gap_s
        self.min_iou = min_iou
        self._open: list[Track] = []
        self._closed: list[Track] = []
        self._next_id = 0
        self._last: tuple[int, float] | None = None

    def _score(self, face: Face, track: Track) -> float | None:
        """How well a face continues a track, or None when it must not join it."""
        last = track.last_face
        cosine = float(np.dot(face.embedding, last.embedding))
        overlap = box_iou(face.detection.box, last.detection.box)
        if overlap >= self.min_iou:
            return cosine + overlap if cosine >= self.min_similarity * OVERLAP_RELAXATION else None
        # No overlap (a cut, fast motion): identity alone must carry the join, so it must be
        # clearly above the match threshold, against the last face and the track's template.
        strict = 1.0 - (1.0 - self.min_similarity) * NON_OVERLAP_STRICTNESS
        template = float(np.dot(face.embedding, track.embedding()))
        return cosine if min(cosine, template) >= strict else None

    def update(self, frame: FrameFaces) -> None:
        """Extends open tracks with this frame's faces and starts tracks for the rest."""
        if self._last is not None and (frame.index <= self._last[0] or frame.timestamp_s < self._last[1]):
            raise ValueError(f"frame {frame.index} at {frame.timestamp_s:.3f}s is not after "
                             f"frame {self._last[0]} at {self._last[1]:.3f}s")
        self._last = (frame.index, frame.timestamp_s)
        still_open = [t for t in self._open if frame.timestamp_s - t.last_s <= self.max_gap_s]
        self._closed += [t for t in self._open if frame.timestamp_s - t.last_s > self.max_gap_s]
        self._open = still_open

        pairs: list[tuple[float, int, int]] = []
        for f, face in enumerate(frame.faces):
            for t, track in enumerate(self._open):
                score = self._score(face, track)
                if score is not None:
                    pairs.append((score, f, t))
        pairs.sort(key=lambda p: -p[0])
        placed: set[int] = set()
        extended: set[int] = set()
        for _, f, t in pairs:
            if f in placed or t in extended:
                continue
            self._open[t].members.append((frame.index, frame.timestamp_s, frame.faces[f]))
            placed.add(f)
            extended.add(t)
        for f, face in enumerate(frame.faces):
            if f not in placed:
                self._open.append(Track(self._next_id, [(frame.index, frame.timestamp_s, face)]))
                self._next_id += 1

    def finish(self) -> list[Track]:
        """Closes every track and returns them all in order of first appearance; then starts afresh."""
        tracks = sorted(self._closed + self._open, key=lambda t: t.track_id)
        log.debug("%d tracks from frames up to %s", len(tracks), self._last)
        self._open, self._closed, self._next_id, self._last = [], [], 0, None
        return tracks
