"""What one worker does with one file: hash and sniff it, then find and embed its faces.

Runs inside engine workers (or in-process on a GPU); returns plain dataclasses and never
raises for a bad file: its problem becomes a status and a reason.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from desktop.engine.types import Face
from desktop.errors import HomewardError
from desktop.hashing import file_digests
from desktop.media.decode import DecodedImage, load_image
from desktop.media.metadata import image_metadata
from desktop.media.sniff import sniff
from desktop.media.video import probe_video, sample_frames
from desktop.scan.derived import save_crop, save_thumbnail
from desktop.scan.tracks import FrameFaces, Tracker
from desktop.scan.workers import worker_engine

log = logging.getLogger(__name__)

FRAMES_PER_BATCH = 8  # frames whose faces share one recognizer batch


@dataclass(frozen=True)
class Fingerprint:
    path: bytes
    sha256: str = ""
    md5: str = ""
    size: int = 0
    kind: str = ""
    format: str = ""
    error: str | None = None


def fingerprint(path: bytes) -> Fingerprint:
    """SHA-256 and MD5 in one read, and the type by content, not by extension."""
    try:
        digests = file_digests(os.fsdecode(path), "sha256", "md5")
        media = sniff(os.fsdecode(path))
        return Fingerprint(path, digests["sha256"], digests["md5"], os.path.getsize(path),
                           media.kind, media.format)
    except (OSError, HomewardError) as exc:
        reason = exc.message if isinstance(exc, HomewardError) else (exc.strerror or str(exc))
        return Fingerprint(path, error=f"cannot be read: {reason}")


@dataclass(frozen=True)
class FoundFace:
    face: Face
    frame_index: int | None = None
    timestamp_s: float | None = None
    track: int | None = None  # index into ContentOutcome.tracks
    crop: str | None = None  # file names in the case's crops/ and thumbs/
    thumbnail: str | None = None


@dataclass(frozen=True)
class FoundTrack:
    first_s: float
    last_s: float
    faces: int
    best_face: int  # index into ContentOutcome.faces
    embedding: np.ndarray


@dataclass
class ContentOutcome:
    content_id: int
    status: str
    reason: str | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    metadata: dict = field(default_factory=dict)
    faces: list[FoundFace] = field(default_factory=list)
    tracks: list[FoundTrack] = field(default_factory=list)


@dataclass(frozen=True)
class ContentTask:
    content_id: int
    sha256: str
    path: bytes
    kind: str
    fps: float
    track_similarity: float
    case_folder: Path


@dataclass(frozen=True)
class DecodedContent:
    """An image decoded and described, waiting for the face engine (the batched path)."""

    task: ContentTask
    image: DecodedImage
    metadata: dict


def _failed(task: ContentTask, exc: BaseException) -> ContentOutcome:
    """A file's problem as its status and reason: one bad file never stops a scan."""
    if isinstance(exc, HomewardError):
        status = "unsupported" if "not a recognised" in exc.message else "corrupt"
        return ContentOutcome(task.content_id, status, exc.message)
    if isinstance(exc, MemoryError):
        return ContentOutcome(task.content_id, "corrupt", "too large to decode in memory")
    log.error("analysis failed for %r", task.path, exc_info=exc)
    return ContentOutcome(task.content_id, "corrupt", f"analysis failed: {exc!r}")


def analyse_content(task: ContentTask) -> ContentOutcome:
    try:
        if task.kind == "image":
            decoded = decode_image(task)
            if isinstance(decoded, ContentOutcome):
                return decoded
            return image_outcome(decoded, worker_engine().analyze([decoded.image.bgr])[0])
        if task.kind == "video":
            return _video(task)
        return ContentOutcome(task.content_id, "unsupported", "not an image or a video")
    except Exception as exc:
        return _failed(task, exc)


def decode_image(task: ContentTask) -> DecodedContent | ContentOutcome:
    """Read and decode an image (in any process); a failure is already its outcome."""
    path = os.fsdecode(task.path)
    try:
        return DecodedContent(task, load_image(path), image_metadata(path))
    except Exception as exc:
        return _failed(task, exc)


def image_outcome(decoded: DecodedContent, faces: list[Face]) -> ContentOutcome:
    """The faces found in a decoded image, with their crops and the context thumbnail."""
    task, image = decoded.task, decoded.image
    thumbnail = save_thumbnail(task.case_folder, task.sha256, image.bgr) if faces else None
    found = [FoundFace(face, crop=save_crop(task.case_folder, f"{task.sha256}_{n}", image.bgr,
                                            face.detection.box), thumbnail=thumbnail)
             for n, face in enumerate(faces)]
    return ContentOutcome(task.content_id, "ok" if faces else "no_face", None, image.width,
                          image.height, None, decoded.metadata, found)


def _video(task: ContentTask) -> ContentOutcome:
    path = os.fsdecode(task.path)
    info = probe_video(path)
    engine = worker_engine()
    tracker = Tracker(min_similarity=task.track_similarity)
    found: list[FoundFace] = []
    frames = sample_frames(path, fps=task.fps)
    while batch := list(islice(frames, FRAMES_PER_BATCH)):
        for frame, faces in zip(batch, engine.analyze([f.bgr for f in batch]), strict=True):
            tracker.update(FrameFaces(frame.index, frame.timestamp_s, faces))
            name = f"{task.sha256}_f{frame.index}"
            # Every sampled face keeps its crop and frame: a reviewer may need any of them.
            thumbnail = save_thumbnail(task.case_folder, name, frame.bgr) if faces else None
            found.extend(FoundFace(face, frame.index, frame.timestamp_s,
                                   crop=save_crop(task.case_folder, f"{name}_{n}", frame.bgr,
                                                  face.detection.box),
                                   thumbnail=thumbnail)
                         for n, face in enumerate(faces))
    tracks = tracker.finish()
    position = {id(f.face): i for i, f in enumerate(found)}
    outcome_tracks = []
    for number, track in enumerate(tracks):
        for _, _, face in track.members:
            i = position[id(face)]
            found[i] = dataclasses.replace(found[i], track=number)
        best_face = position[id(track.best(1)[0][2])]
        outcome_tracks.append(FoundTrack(track.members[0][1], track.members[-1][1],
                                         len(track.members), best_face, track.embedding()))
    metadata = {"codec": info.codec, "fps": info.fps, "frames": info.frame_count}
    return ContentOutcome(task.content_id, "ok" if found else "no_face", None, info.width,
                          info.height, info.duration_s, metadata, found, outcome_tracks)
