"""Frames of a seized video for the face engine: a steady sample plus the first frame of each shot.

A face that is on screen for half a second matters as much as one that stays for a minute, so
frames are taken at a fixed rate of video time and, in addition, wherever the picture changes
abruptly (a cut), which catches shots shorter than the sampling interval. Decoding is strictly
sequential, never by seeking: seeking in long-GOP H.264/HEVC lands on keyframes and silently
returns a different frame from the one asked for, and seeking in a damaged file is undefined.

Videos are hostile input like images: they are sniffed by content first (FFmpeg would happily
"play" a JPEG or an HLS playlist), opened through FFmpeg with only the ``file`` protocol
allowed, and read to the end with a bounded number of retries, so a truncated or corrupt file
yields what it can and stops. OpenCV's FFmpeg backend applies the rotation a phone records in
the container, so frames (and the sizes in VideoInfo) are upright.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from desktop.errors import UnreadableMedia
from desktop.media.sniff import sniff

log = logging.getLogger(__name__)

# Containers state rates like 1000 (Matroska's millisecond timebase) or 90000 (MPEG ticks) when
# they do not know the real one; phones record at most 240 fps in real time.
MIN_PLAUSIBLE_FPS = 0.1
MAX_PLAUSIBLE_FPS = 480.0
# After damage, FFmpeg's H.264 decoder outputs nothing until the next keyframe and each failed
# grab() consumes about one packet: a 60 kB hole in short_hamilton_clip.mp4 took 30 failed
# grabs to recover from, and GOPs run to 250 frames (x264's default) or more on CCTV. At the
# real end of a file a failed grab costs ~15 us, so the generous count is free; the time bound
# stops a file whose reads stall (each is itself interrupted by OpenCV after READ_TIMEOUT_MS).
MAX_CONSECUTIVE_FAILED_GRABS = 300
MAX_FAILING_SECONDS = 10.0
OPEN_TIMEOUT_MS = READ_TIMEOUT_MS = 30_000
# Picture-change signature: a small grayscale thumbnail. The distance is the mean of the
# Bhattacharyya distance of 32-bin histograms (exposure/content change) and 1 - normalised
# cross-correlation of 32x32 thumbnails (layout change), each in [0, 1]. A histogram alone
# misses cuts between shots of similar tones: the dark-to-dark cut at frame 20 of
# short_hamilton_clip.mp4 scores only 0.23 by the histogram. Combined, its three hard cuts score
# 0.51-0.69, its camera moves at most 0.22, and nothing in the two single-shot clips exceeds
# 0.06, hence the default threshold of 0.4.
THUMB_SIDE = 32
HIST_BINS = 32
FLAT_STD = 2.0  # grey levels: a black or blank frame has no layout to correlate
FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"

Reason = Literal["interval", "scene"]

# Local files only: no http/tcp/concat/subfile/data reached through a crafted container. Set
# once at import (setenv racing a getenv in another thread is unsafe); a deployment that sets
# its own capture options keeps them.
os.environ.setdefault(FFMPEG_OPTIONS_ENV, "protocol_whitelist;file")


@dataclass(frozen=True)
class VideoInfo:
    """What the container declares, with sizes after rotation; 0 where it does not say."""

    width: int
    height: int
    fps: float  # 0.0 when missing or implausible (sampling then uses frame timestamps)
    frame_count: int  # as declared; some containers only estimate it
    duration_s: float
    codec: str  # FourCC such as "h264", "FMP4", "MJPG"; "" if none


@dataclass(frozen=True)
class SampledFrame:
    index: int  # 0-based frame number in presentation order
    timestamp_s: float  # index / fps (from the frame's own timestamp when fps is unknown)
    bgr: np.ndarray  # HxWx3 uint8, upright; owned by the caller
    reason: Reason  # a frame due for both reasons is emitted once, as "scene"


def probe_video(path: Path | str) -> VideoInfo:
    """Declared properties of a video whose first frame decodes; UnreadableMedia otherwise."""
    cap, info = _open(Path(path))
    try:
        if not cap.grab():
            raise UnreadableMedia("no decodable video frames",
                                  f"{path}: codec {info.codec or '?'} unsupported or data corrupt")
    finally:
        cap.release()
    return info


def sample_frames(
    path: Path | str,
    *,
    fps: float = 2.0,
    scene_threshold: float | None = 0.4,
    max_frames: int | None = None,
) -> Iterator[SampledFrame]:
    """Frames every 1/``fps`` s of video time plus first frames of new shots, in order, once each.

    The file is opened (and UnreadableMedia raised) now; frames are decoded as they are
    consumed. ``scene_threshold`` None turns cut detection off, which lets every frame between
    samples be skipped without conversion (see _frames). Damage ends the sequence early with a
    logged warning; a video with no decodable frame at all raises UnreadableMedia.
    """
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, not {fps!r}")
    if scene_threshold is not None and not (scene_threshold > 0):
        raise ValueError(f"scene_threshold must be positive or None, not {scene_threshold!r}")
    if max_frames is not None and max_frames < 0:
        raise ValueError(f"max_frames must be >= 0, not {max_frames!r}")
    cap, info = _open(Path(path))
    return _frames(cap, info, str(path), 1.0 / fps, scene_threshold, max_frames)


def _open(path: Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    media = sniff(path)  # refuses FIFOs/devices and unreadable files before FFmpeg sees them
    if media.kind != "video":
        raise UnreadableMedia("not a recognised video format",
                              f"{path}: content is {media.kind} ({media.format})")
    # An absolute path: FFmpeg reads "name:..." as a protocol prefix, "/..." never.
    cap = _open_capture(os.path.abspath(path))
    if not cap.isOpened():
        raise UnreadableMedia("corrupt or unsupported video", f"{path}: FFmpeg cannot open this "
                              f"{media.format} (truncated, or no index such as an MP4 moov box)")
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # the default; stated because detection needs it
    width, height = _int_prop(cap, cv2.CAP_PROP_FRAME_WIDTH), _int_prop(cap, cv2.CAP_PROP_FRAME_HEIGHT)
    if width <= 0 or height <= 0:
        cap.release()
        raise UnreadableMedia("corrupt video", f"{path}: no frame size ({media.format})")
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if MIN_PLAUSIBLE_FPS <= fps <= MAX_PLAUSIBLE_FPS else 0.0  # False for NaN too
    count = _int_prop(cap, cv2.CAP_PROP_FRAME_COUNT)
    duration = count / fps if fps and count else 0.0
    return cap, VideoInfo(width, height, fps, count, duration, _fourcc(cap))


def _open_capture(path: str) -> cv2.VideoCapture:
    """FFmpeg explicitly: other backends read '%d' in names as image sequences or open devices."""
    return cv2.VideoCapture(path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS,
                                                   cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS])


def _frames(cap: cv2.VideoCapture, info: VideoInfo, name: str, interval: float,
            scene_threshold: float | None, max_frames: int | None) -> Iterator[SampledFrame]:
    """Decode every frame in order; convert only those to emit (or to compare, for cuts).

    grab() decodes, retrieve() converts to BGR. Skipping retrieve() for frames not emitted made
    2 fps sampling without cut detection 16-25% faster than read() of every frame (wall time,
    median of 15 interleaved runs on 2 cores, bench/video_sampling.py): BobMenendez 512x512
    MPEG-4 74 vs 98 ms, hamilton 640x360 H.264 90 vs 118 ms, facenet 1080p H.264 484 vs 576 ms.
    Cut detection needs every frame's pixels, so with it on every frame is retrieved and the
    whole costs 10-30% more than bare read() (125, 151, 637 ms): the price of not missing shots
    shorter than the sampling interval.
    """
    fps = info.fps
    half_frame = 0.5 / fps if fps else 0.0
    scene = scene_threshold is not None
    next_k = 0  # the next interval sample is due at next_k * interval seconds
    index = -1
    timestamp = first_pts = math.nan
    previous: _Signature | None = None
    emitted = failures = 0
    failing_since = 0.0
    if max_frames == 0:
        cap.release()
        return
    try:
        while max_frames is None or emitted < max_frames:
            if not cap.grab():
                failures += 1
                failing_since = failing_since or time.monotonic()
                if (failures >= MAX_CONSECUTIVE_FAILED_GRABS
                        or time.monotonic() - failing_since > MAX_FAILING_SECONDS):
                    break
                continue
            pts = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if index < 0:
                first_pts = pts
            index, timestamp, half_frame = _position(index, timestamp, half_frame, fps,
                                                     pts - first_pts, name, lost=failures > 0)
            failures, failing_since = 0, 0.0
            due = timestamp >= next_k * interval - half_frame - 1e-9
            if due:
                next_k = math.floor((timestamp + half_frame + 1e-9) / interval) + 1
            if not (due or scene):
                continue
            ok, bgr = cap.retrieve()
            if not ok or bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3:
                log.debug("frame %d of %s decoded but not convertible", index, name)
                previous = None
                continue
            cut = False
            if scene:
                signature = _signature(bgr)
                cut = previous is not None and _distance(previous, signature) > scene_threshold
                previous = signature
            if due or cut:
                emitted += 1
                yield SampledFrame(index, timestamp, bgr, "scene" if cut else "interval")
    finally:
        cap.release()
    if index < 0:
        raise UnreadableMedia("no decodable video frames",
                              f"{name}: codec {info.codec or '?'} unsupported or data corrupt")
    if failures and failures < MAX_CONSECUTIVE_FAILED_GRABS:
        log.warning("%s: reads kept failing for %.0f s after frame %d; giving up",
                    name, MAX_FAILING_SECONDS, index)
    elif failures and index + 1 < info.frame_count * 0.98:
        log.warning("%s: decoding stopped at frame %d of %d declared (truncated or corrupt)",
                    name, index + 1, info.frame_count)


def _position(index: int, timestamp: float, half_frame: float, fps: float, pts: float,
              name: str, *, lost: bool) -> tuple[int, float, float]:
    """Index, timestamp and half a frame's duration for the frame just grabbed.

    With a plausible fps the timestamp is index / fps, and the index follows decode order,
    except that it jumps forward to the frame's own presentation time when frames were lost
    to damage, so later timestamps stay true. Without fps the frame's presentation time is the
    timestamp; when that is missing or goes backwards it advances by an assumed 1/30 s.
    """
    if fps:
        new = index + 1
        if math.isfinite(pts):
            by_pts = round(pts * fps)
            if by_pts > new:  # after failed grabs: damage; else a silent drop or a VFR wobble
                log.log(logging.WARNING if lost else logging.DEBUG,
                        "%s: frames %d-%d lost (undecodable); continuing at frame %d",
                        name, new, by_pts - 1, by_pts)
                new = by_pts
        return new, new / fps, half_frame
    if math.isfinite(pts) and (index < 0 or pts > timestamp):
        step = pts - timestamp if index >= 0 else 0.0
        return index + 1, max(pts, 0.0), min(step / 2, 0.5) if step > 0 else half_frame
    return index + 1, (timestamp + 1 / 30) if index >= 0 else 0.0, half_frame


@dataclass(frozen=True)
class _Signature:
    hist: np.ndarray  # HIST_BINS float32, sums to 1
    thumb: np.ndarray  # THUMB_SIDE^2 float32, zero mean
    norm: float  # of thumb; ~0 for a flat frame


def _signature(bgr: np.ndarray) -> _Signature:
    """Nearest-neighbour shrink first (25 us for 1080p; area-resizing it costs more than decoding)."""
    small = cv2.resize(bgr, (2 * THUMB_SIDE, 2 * THUMB_SIDE), interpolation=cv2.INTER_NEAREST)
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    hist = cv2.calcHist([gray], [0], None, [HIST_BINS], [0, 256]).ravel()
    hist /= max(float(hist.sum()), 1.0)
    thumb = cv2.resize(gray, (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
    thumb = (thumb - thumb.mean()).ravel()
    norm = float(np.linalg.norm(thumb))
    return _Signature(hist, thumb, norm if norm >= FLAT_STD * THUMB_SIDE else 0.0)


def _distance(a: _Signature, b: _Signature) -> float:
    """0 for the same picture, about 0.5 and above for a cut; see THUMB_SIDE's comment."""
    hist = cv2.compareHist(a.hist, b.hist, cv2.HISTCMP_BHATTACHARYYA)
    if a.norm and b.norm:
        layout = min(1.0, 1.0 - float(a.thumb @ b.thumb) / (a.norm * b.norm))
    else:
        layout = 0.0 if a.norm == b.norm else 1.0  # both flat: same; one flat: cut to/from black
    return 0.5 * float(hist) + 0.5 * layout


def _int_prop(cap: cv2.VideoCapture, prop: int) -> int:
    value = cap.get(prop)
    return int(value) if math.isfinite(value) and 0 < value < 2**31 else 0


def _fourcc(cap: cv2.VideoCapture) -> str:
    code = _int_prop(cap, cv2.CAP_PROP_FOURCC)
    text = code.to_bytes(4, "little").decode("latin-1")
    return text.strip() if text.isprintable() and code else ""
