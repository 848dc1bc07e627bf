"""What one worker does with one file: hash and sniff it, then find and embed its faces.

Runs inside engine workers (or in-process on a GPU); returns plain dataclasses and never
raises for a bad file: its problem becomes a status and a reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO

import numpy as np

from desktop.engine.types import Face
from desktop.errors import HomewardError, UnreadableMedia
from desktop.hashing import CHUNK
from desktop.media.decode import MAX_FILE_BYTES, DecodedImage, decode_image_bytes
from desktop.media.metadata import image_metadata_bytes
from desktop.media.pdq import PerceptualHash, perceptual_hash
from desktop.media.sniff import HEADER_BYTES, sniff_bytes
from desktop.media.video import probe_video, sample_frames
from desktop.scan.derived import WORK, DerivedFiles
from desktop.scan.tracks import FrameFaces, Tracker
from desktop.scan.workers import worker_engine
from desktop.sources.base import FOLDER, SourceSpec
from desktop.sources.detect import open_entry

log = logging.getLogger(__name__)

FRAMES_PER_BATCH = 8  # frames whose faces share one recognizer batch


@dataclass(frozen=True)
class FileRef:
    """One file of one source, as any process opens it (pickles; see desktop.sources)."""

    spec: SourceSpec
    locator: tuple
    size: int | None
    key: tuple[int, bytes]  # (source id, path inside it): the files row it is
    name: str  # for messages and logs

    def open(self) -> BinaryIO:
        return open_entry(self.spec, self.locator)

    def local_path(self) -> str | None:
        """The file's own path when it is a plain file of a folder (video decoders need one)."""
        if self.spec.kind == FOLDER and self.spec.within is None:
            return os.fsdecode(os.path.join(os.fsencode(self.spec.path), self.locator[0]))
        return None


@dataclass(frozen=True)
class Fingerprint:
    key: tuple[int, bytes]
    sha256: str = ""
    md5: str = ""
    sha1: str = ""
    size: int = 0
    kind: str = ""
    format: str = ""
    error: str | None = None


def fingerprint(ref: FileRef) -> Fingerprint:
    """SHA-256, MD5 and SHA-1 in one read, and the type by content, not by extension."""
    hashers = {name: hashlib.new(name) for name in ("sha256", "md5", "sha1")}
    size, head = 0, b""
    try:
        with ref.open() as handle:
            while chunk := handle.read(CHUNK):
                if not head:
                    head = chunk[:HEADER_BYTES]
                size += len(chunk)
                for hasher in hashers.values():
                    hasher.update(chunk)
    except (OSError, HomewardError) as exc:
        reason = exc.message if isinstance(exc, HomewardError) else (exc.strerror or str(exc))
        return Fingerprint(ref.key, error=f"cannot be read: {reason}")
    if ref.size is not None and size != ref.size:
        return Fingerprint(ref.key, error=f"cannot be read: {size} bytes read, the source "
                           f"lists {ref.size}")
    media = sniff_bytes(head)
    digests = {name: hasher.hexdigest() for name, hasher in hashers.items()}
    return Fingerprint(ref.key, digests["sha256"], digests["md5"], digests["sha1"], size,
                       media.kind, media.format)


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
    pdq: PerceptualHash | None = None  # images only
    derived: dict[str, bytes] = field(default_factory=dict)  # crops and context images made
    # on another machine (ContentTask.carry_derived), for the case's writer to write


@dataclass(frozen=True)
class ContentTask:
    content_id: int
    sha256: str
    file: FileRef  # one of the files with this content
    kind: str
    fps: float
    track_similarity: float
    case_folder: Path | None  # None: analysis outside a case, nothing written (no crops)
    carry_derived: bool = False  # True: crops come back in the outcome (a cluster worker
    # cannot write into the case's folder), a container's video is copied to a local temp


@dataclass(frozen=True)
class DecodedContent:
    """An image decoded and described, waiting for the face engine (the batched path)."""

    task: ContentTask
    image: DecodedImage
    metadata: dict
    pdq: PerceptualHash | None


def _failed(task: ContentTask, exc: BaseException) -> ContentOutcome:
    """A file's problem as its status and reason: one bad file never stops a scan."""
    if isinstance(exc, HomewardError):
        status = "unsupported" if "not a recognised" in exc.message else "corrupt"
        return ContentOutcome(task.content_id, status, exc.message)
    if isinstance(exc, MemoryError):
        return ContentOutcome(task.content_id, "corrupt", "too large to decode in memory")
    log.error("analysis failed for %s", task.file.name, exc_info=exc)
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
    try:
        data = _read_image_bytes(task.file)
        image = decode_image_bytes(data, name=task.file.name)
        return DecodedContent(task, image, image_metadata_bytes(data, task.file.name),
                              perceptual_hash(image.bgr))
    except Exception as exc:
        return _failed(task, exc)


def _read_image_bytes(file: FileRef) -> bytes:
    if file.size is not None and file.size > MAX_FILE_BYTES:
        raise UnreadableMedia("file too large for an image", f"{file.name}: {file.size} bytes")
    try:
        with file.open() as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UnreadableMedia("cannot read file", f"{file.name}: {exc.strerror or exc}") from exc


def image_outcome(decoded: DecodedContent, faces: list[Face]) -> ContentOutcome:
    """The faces found in a decoded image, with their crops and the context thumbnail."""
    task, image = decoded.task, decoded.image
    derived = DerivedFiles(task.case_folder, task.carry_derived)
    thumbnail = derived.thumbnail(task.sha256, image.bgr) if faces else None
    found = [FoundFace(face, crop=derived.crop(f"{task.sha256}_{n}", image.bgr,
                                               face.detection.box), thumbnail=thumbnail)
             for n, face in enumerate(faces)]
    return ContentOutcome(task.content_id, "ok" if faces else "no_face", None, image.width,
                          image.height, None, decoded.metadata, found, pdq=decoded.pdq,
                          derived=derived.files)


def _video(task: ContentTask) -> ContentOutcome:
    """A video decoder needs a file: a folder's file is read in place; a video inside a
    container is copied to the case's work folder for the time of its analysis."""
    path = task.file.local_path()
    if path is not None:
        return _video_at(task, path)
    local = task.case_folder is None or task.carry_derived
    work = Path(tempfile.gettempdir()) if local else task.case_folder / WORK
    work.mkdir(exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=work, prefix=f"{task.sha256}-", suffix=".video") as copy:
        with task.file.open() as handle:
            shutil.copyfileobj(handle, copy, CHUNK)
        copy.flush()
        return _video_at(task, copy.name)


def _video_at(task: ContentTask, path: str) -> ContentOutcome:
    info = probe_video(path)
    engine = worker_engine()
    tracker = Tracker(min_similarity=task.track_similarity)
    derived = DerivedFiles(task.case_folder, task.carry_derived)
    found: list[FoundFace] = []
    frames = sample_frames(path, fps=task.fps)
    while batch := list(islice(frames, FRAMES_PER_BATCH)):
        for frame, faces in zip(batch, engine.analyze([f.bgr for f in batch]), strict=True):
            tracker.update(FrameFaces(frame.index, frame.timestamp_s, faces))
            name = f"{task.sha256}_f{frame.index}"
            # Every sampled face keeps its crop and frame: a reviewer may need any of them.
            thumbnail = derived.thumbnail(name, frame.bgr) if faces else None
            found.extend(FoundFace(face, frame.index, frame.timestamp_s,
                                   crop=derived.crop(f"{name}_{n}", frame.bgr, face.detection.box),
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
                          info.height, info.duration_s, metadata, found, outcome_tracks,
                          derived=derived.files)
