"""desktop.media.sniff / metadata / video: type by content, EXIF leads, and video frame sampling
on the shared real clips, on crafted files and on damaged copies."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import os
import shutil
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from desktop.errors import UnreadableMedia
from desktop.media import video
from desktop.media.metadata import image_metadata
from desktop.media.sniff import MediaType, sniff, sniff_bytes
from desktop.media.video import SampledFrame, probe_video, sample_frames
from tests.conftest import FACEDATA, require_shared

VIDEOS = FACEDATA / "videos"
BOB = VIDEOS / "WDA_BobMenendez_000.mp4"  # 512x512, 25 fps, 200 frames, one shot
HAMILTON = VIDEOS / "short_hamilton_clip.mp4"  # 640x360, 29.97 fps, 275 frames, cuts
CROWD = VIDEOS / "facenet_pytorch_video.mp4"  # 1920x1080, 25 fps, 105 frames, one shot
# Hard cuts in short_hamilton_clip.mp4 (first frame of each new shot), checked by eye.
HAMILTON_CUTS = [20, 82, 211]


@pytest.fixture(autouse=True)
def _shared() -> None:
    require_shared()


def _gradient(w: int = 96, h: int = 64) -> Image.Image:
    y, x = np.mgrid[0:h, 0:w]
    return Image.fromarray(np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + 2 * y) % 256],
                                    -1).astype(np.uint8))


def _write_video(path: Path, fourcc: str, frames: int = 100, size: tuple[int, int] = (160, 120),
                 fps: float = 25.0) -> Path:
    """One scene whose frames show their own number, so each can be told apart from its neighbours."""
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"this OpenCV build cannot write {fourcc} to {path.suffix}"
    background = np.asarray(_gradient(*size))[:, :, ::-1]
    for k in range(frames):
        frame = background.copy()
        cv2.putText(frame, str(k), (5, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
        writer.write(frame)
    writer.release()
    return path


def _decode_all(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def _bounded(fn: Callable[[], Any], seconds: float) -> Any:
    """Run fn in a thread; fail (instead of hanging the suite) if it does not finish in time."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # re-raised in the test's thread
            box["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in box:
        raise box["error"]
    box["elapsed"] = time.monotonic() - start
    return box["value"]


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


# --- sniff ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("relpath", "expected"), [
    ("lfw/Aaron_Patterson/Aaron_Patterson_0001.jpg", MediaType("image", "JPEG")),
    ("face_recognition/Kit_Harington/john1.jpeg", MediaType("image", "JPEG")),
    ("face_recognition/Lin-Manuel_Miranda/lin-manuel-miranda.png", MediaType("image", "PNG")),
    ("deepface/deepface_p03/img47.jpg", MediaType("image", "WEBP")),  # a real WebP named .jpg
    ("videos/WDA_BobMenendez_000.mp4", MediaType("video", "MP4")),
    ("videos/short_hamilton_clip.mp4", MediaType("video", "MP4")),
    ("videos/facenet_pytorch_video.mp4", MediaType("video", "MP4")),
    ("videos/videos.csv", MediaType("other", "unknown")),
])
def test_sniff_real_files(relpath: str, expected: MediaType) -> None:
    assert sniff(FACEDATA / relpath) == expected


def test_sniff_reads_content_not_extension(tmp_path: Path) -> None:
    jpeg_as_txt = tmp_path / "notes.txt"
    shutil.copyfile(FACEDATA / "lfw/Aaron_Patterson/Aaron_Patterson_0001.jpg", jpeg_as_txt)
    text_as_jpg = tmp_path / "photo.jpg"
    text_as_jpg.write_text("Dear diary, today I took no photos.\n")
    video_as_dat = tmp_path / "crowd.dat"
    shutil.copyfile(BOB, video_as_dat)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert sniff(jpeg_as_txt) == MediaType("image", "JPEG")
    assert sniff(text_as_jpg) == MediaType("other", "unknown")
    assert sniff(str(video_as_dat)) == MediaType("video", "MP4")
    assert sniff(empty) == MediaType("other", "empty")


@pytest.mark.parametrize(("fmt", "suffix", "expected", "kw"), [
    ("GIF", ".gif", "GIF", {}),
    ("BMP", ".bmp", "BMP", {}),
    ("TIFF", ".tif", "TIFF", {}),
    ("WEBP", ".webp", "WEBP", {}),
    ("PNG", ".png", "PNG", {}),
    ("JPEG", ".jpg", "JPEG", {}),
    ("PPM", ".ppm", "PPM", {}),
    ("JPEG2000", ".jp2", "JPEG2000", {}),
    ("HEIF", ".heic", "HEIC", {}),
    ("AVIF", ".avif", "AVIF", {}),
])
def test_sniff_images_written_by_pillow(tmp_path: Path, fmt: str, suffix: str, expected: str,
                                        kw: dict) -> None:
    if fmt == "HEIF":
        pytest.importorskip("pillow_heif").register_heif_opener()
    path = tmp_path / f"x{suffix}"
    try:
        _gradient().save(path, format=fmt, **kw)
    except (KeyError, OSError) as e:  # encoder not built into this Pillow
        pytest.skip(f"Pillow cannot write {fmt}: {e}")
    renamed = path.rename(tmp_path / "renamed.bin")
    assert sniff(renamed) == MediaType("image", expected)


@pytest.mark.parametrize(("fourcc", "suffix", "expected"), [
    ("MJPG", ".avi", "AVI"),
    ("XVID", ".avi", "AVI"),
    ("mp4v", ".mp4", "MP4"),
    ("MJPG", ".mov", "MOV"),
    ("MJPG", ".mkv", "MKV"),
    ("VP80", ".webm", "WEBM"),
    ("WMV2", ".wmv", "ASF"),
    ("FLV1", ".flv", "FLV"),
])
def test_videos_written_by_opencv_are_sniffed_and_decoded(tmp_path: Path, fourcc: str, suffix: str,
                                                          expected: str) -> None:
    path = _write_video(tmp_path / f"clip{suffix}", fourcc, frames=10, fps=10.0)
    assert sniff(path) == MediaType("video", expected)
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.frame_count) == (160, 120, 10.0, 10)
    frames = list(sample_frames(path, fps=2.0))
    assert [f.index for f in frames] == [0, 5]
    assert [f.timestamp_s for f in frames] == [0.0, 0.5]


@pytest.mark.parametrize(("head", "expected"), [
    (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", MediaType("video", "MKV")),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", MediaType("video", "WEBM")),
    (b"MM\x00*\x00\x00\x00\x08", MediaType("image", "TIFF")),  # big-endian (Motorola) TIFF
    (b"II*\x00\x08\x00\x00\x00", MediaType("image", "TIFF")),
    (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", MediaType("image", "HEIC")),
    (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", MediaType("image", "AVIF")),
    (b"\x00\x00\x00\x14ftypheix\x00\x00\x00\x00mif1", MediaType("image", "HEIC")),
    (b"\x00\x00\x00\x14ftypmsf1\x00\x00\x00\x00msf1", MediaType("image", "HEIF")),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", MediaType("video", "MOV")),
    (b"\x00\x00\x00\x18ftyp3gp5\x00\x00\x02\x00isom3gp5", MediaType("video", "3GP")),
    (b"\x00\x00\x00\x14ftypM4V \x00\x00\x02\x00M4V ", MediaType("video", "MP4")),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", MediaType("video", "MP4")),
    (b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom", MediaType("other", "M4A")),
    (b"\x00\x00\x00\x14ftypzzzz\x00\x00\x00\x00zzzz", MediaType("video", "ISOBMFF")),
    (b"\x00\x00\x05\x00moov\x00\x00\x00\x6cmvhd", MediaType("video", "MOV")),  # pre-ftyp QuickTime
    (b"RIFF\x24\x00\x00\x00AVI LIST", MediaType("video", "AVI")),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", MediaType("image", "WEBP")),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", MediaType("other", "WAV")),
    (bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + b"\x00" * 8, MediaType("video", "ASF")),
    (b"FLV\x01\x05\x00\x00\x00\x09", MediaType("video", "FLV")),
    (b"\x00\x00\x01\xba\x44\x00\x04\x00", MediaType("video", "MPEG-PS")),
    ((b"\x47" + b"\x00" * 187) * 3, MediaType("video", "MPEG-TS")),
    ((b"\x00\x00\x00\x00\x47" + b"\x00" * 187) * 3, MediaType("video", "M2TS")),
    (b"\x00\x00\x00\x01\x67\x64\x00\x1f", MediaType("video", "H264")),
    (b"\x00\x00\x00\x01\x40\x01\x0c\x01", MediaType("video", "HEVC")),
    (b"BM\x00\x00garbage-that-is-no-dib-header", MediaType("other", "unknown")),
    (b"GIF89a\x01\x00", MediaType("image", "GIF")),
    (b"\x89PNG\r\n\x1a\n", MediaType("image", "PNG")),
    (b"%PDF-1.7\n", MediaType("other", "unknown")),
    (b"P6\n96 64\n255\n", MediaType("image", "PPM")),
    (b"P1 is the first point of the agenda", MediaType("other", "unknown")),
])
def test_sniff_magic_bytes(head: bytes, expected: MediaType) -> None:
    assert sniff_bytes(head) == expected


def test_crafted_mkv_magic_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "holiday.jpg"
    path.write_bytes(b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska" + bytes(100))
    assert sniff(path) == MediaType("video", "MKV")


def test_sniff_refuses_what_is_not_a_readable_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableMedia, match="cannot read"):
        sniff(tmp_path / "missing.jpg")
    with pytest.raises(UnreadableMedia, match="not a regular file"):
        sniff(tmp_path)
    if hasattr(os, "mkfifo"):  # opening a FIFO for reading would block forever
        fifo = tmp_path / "pipe.mp4"
        os.mkfifo(fifo)
        with pytest.raises(UnreadableMedia, match="not a regular file"):
            _bounded(lambda: sniff(fifo), 5)
        with pytest.raises(UnreadableMedia, match="not a regular file"):
            _bounded(lambda: probe_video(fifo), 5)


# --- metadata ---------------------------------------------------------------------------------


GPS_SOUTH_WEST = {1: "S", 2: (IFDRational(33, 1), IFDRational(51, 1), IFDRational(3600, 100)),
                  3: "W", 4: (IFDRational(151, 1), IFDRational(12, 1), IFDRational(0, 1))}


def _exif(gps: dict[int, Any] | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D Mark II"
    exif[0x0112] = 6
    exif[0x0132] = "2024:01:01 00:00:00"  # DateTime: an editor's save, not the date taken
    exif[0x8769] = {0x9003: "2021:03:04 05:06:07", 0x9291: "25", 0x9011: "+10:00"}
    exif[0x8825] = dict(GPS_SOUTH_WEST if gps is None else gps)
    return exif


def _jpeg_with(tmp_path: Path, exif: Image.Exif, name: str = "exif.jpg") -> Path:
    path = tmp_path / name
    _gradient().save(path, "JPEG", exif=exif)
    return path


SYDNEY_ISH = (-(33 + 51 / 60 + 36 / 3600), -(151 + 12 / 60))


def test_metadata_from_exif_written_by_pillow(tmp_path: Path) -> None:
    meta = image_metadata(_jpeg_with(tmp_path, _exif()))
    assert meta == {
        "date_taken": "2021-03-04T05:06:07.25+10:00",
        "make": "Canon",
        "model": "Canon EOS 5D Mark II",
        "gps_latitude": pytest.approx(SYDNEY_ISH[0], abs=1e-6),
        "gps_longitude": pytest.approx(SYDNEY_ISH[1], abs=1e-6),
        "orientation": 6,
    }
    assert meta["gps_latitude"] < 0 and meta["gps_longitude"] < 0  # S and W are negative


def test_metadata_north_east_are_positive(tmp_path: Path) -> None:
    exif = _exif({1: "N", 2: (IFDRational(51, 1), IFDRational(30, 1), IFDRational(0, 1)),
                  3: "E", 4: (IFDRational(0, 1), IFDRational(7, 1), IFDRational(3900, 100))})
    meta = image_metadata(_jpeg_with(tmp_path, exif, "ne.jpg"))
    assert meta["gps_latitude"] == pytest.approx(51.5, abs=1e-7)
    assert meta["gps_longitude"] == pytest.approx(7 / 60 + 39 / 3600, abs=1e-7)


@pytest.mark.parametrize(("fmt", "suffix"), [("PNG", ".png"), ("WEBP", ".webp"), ("TIFF", ".tif"),
                                             ("HEIF", ".heic")])
def test_metadata_from_other_containers(tmp_path: Path, fmt: str, suffix: str) -> None:
    if fmt == "HEIF":
        pytest.importorskip("pillow_heif").register_heif_opener()
    path = tmp_path / f"x{suffix}"
    _gradient().save(path, format=fmt, exif=_exif().tobytes())  # TIFF cannot take nested dicts
    meta = image_metadata(path)
    assert meta["date_taken"] == "2021-03-04T05:06:07.25+10:00"
    assert (meta["make"], meta["model"]) == ("Canon", "Canon EOS 5D Mark II")
    assert (meta["gps_latitude"], meta["gps_longitude"]) == pytest.approx(SYDNEY_ISH, abs=1e-6)


def test_metadata_of_real_camera_photos() -> None:
    meta = image_metadata(FACEDATA / "deepface/deepface_p10/img19.jpg")
    assert meta == {"date_taken": "2015-06-09T15:38:33.02", "make": "Canon",
                    "model": "Canon EOS 5D Mark II", "gps_latitude": None, "gps_longitude": None,
                    "orientation": 1}
    assert image_metadata(FACEDATA / "lfw/Aaron_Patterson/Aaron_Patterson_0001.jpg") == {
        "date_taken": None, "make": None, "model": None, "gps_latitude": None,
        "gps_longitude": None, "orientation": None}


@pytest.mark.parametrize(("gps", "why"), [
    ({2: (IFDRational(33, 0), IFDRational(51, 1), IFDRational(0, 1))}, "zero denominator"),
    ({1: "X"}, "no such hemisphere"),
    ({1: None}, "latitude reference missing: the sign is unknown"),
    ({3: None}, "longitude reference missing"),
    ({2: (IFDRational(33, 1), IFDRational(75, 1), IFDRational(0, 1))}, "75 minutes"),
    ({2: (IFDRational(95, 1), IFDRational(0, 1), IFDRational(0, 1))}, "latitude beyond 90"),
    ({4: (IFDRational(151, 1),) * 4}, "four numbers for three"),
    ({3: "EW"}, "two hemispheres"),
    ({4: None}, "longitude missing: half a position"),
])
def test_metadata_malformed_gps_is_none_and_keeps_the_rest(tmp_path: Path, gps: dict, why: str) -> None:
    meta = image_metadata(_jpeg_with(tmp_path, _exif_with_gps(gps)))
    assert (meta["gps_latitude"], meta["gps_longitude"]) == (None, None), why
    assert meta["date_taken"] == "2021-03-04T05:06:07.25+10:00"
    assert meta["make"] == "Canon"


def _exif_with_gps(changes: dict[int, Any]) -> Image.Exif:
    gps = {**GPS_SOUTH_WEST, **changes}
    return _exif({tag: value for tag, value in gps.items() if value is not None})


@pytest.mark.parametrize("raw", ["2021:13:45 25:61:00", "0000:00:00 00:00:00", "    :  :     :  :  ",
                                 "yesterday"])
def test_metadata_impossible_dates_are_none(tmp_path: Path, raw: str) -> None:
    exif = _exif()
    exif[0x8769] = {0x9003: raw}
    meta = image_metadata(_jpeg_with(tmp_path, exif))
    assert meta["date_taken"] is None  # and DateTime (an edit date) is not used instead
    assert meta["make"] == "Canon"


def _with_app1(jpeg: bytes, payload: bytes) -> bytes:
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize("payload", [
    b"Exif\x00\x00" + b"\xde\xad\xbe\xef" * 8,  # no TIFF header at all
    b"Exif\x00\x00II*\x00\xff\xff\xff\x7f",  # IFD0 offset far beyond the data
    b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff" + b"\x00" * 20,  # 65535 entries, 2 present
    # IFD0 whose Exif-IFD pointer (0x8769) points into nowhere, plus a Make tag
    b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x02\x00"
    + struct.pack("<HHII", 0x010F, 2, 4, 0x6E6F6143)  # Make "Cano" inline
    + struct.pack("<HHII", 0x8769, 4, 1, 0x7FFFFFF0) + b"\x00\x00\x00\x00",
])
def test_metadata_survives_broken_exif(tmp_path: Path, payload: bytes) -> None:
    buf = io.BytesIO()
    _gradient().save(buf, "JPEG")
    path = tmp_path / "broken.jpg"
    path.write_bytes(_with_app1(buf.getvalue(), payload))
    meta = image_metadata(path)  # must not raise
    assert meta["date_taken"] is None and meta["gps_latitude"] is None
    if b"Cano" in payload:
        assert meta["make"] == "Cano"  # what could be read is still returned


def test_metadata_of_non_images_is_empty_not_an_error(tmp_path: Path) -> None:
    text = tmp_path / "x.jpg"
    text.write_text("not an image")
    empty = {"date_taken": None, "make": None, "model": None, "gps_latitude": None,
             "gps_longitude": None, "orientation": None}
    assert image_metadata(text) == empty
    assert image_metadata(tmp_path / "missing.jpg") == empty
    assert image_metadata(BOB) == empty


def test_metadata_strips_junk_text(tmp_path: Path) -> None:
    exif = _exif()
    exif[0x010F] = "Canon\x00\x00garbage after NUL"
    exif[0x0110] = "X" * 5000
    exif[0x0112] = 9  # no such orientation
    meta = image_metadata(_jpeg_with(tmp_path, exif))
    assert meta["make"] == "Canon"
    assert meta["model"] == "X" * 128
    assert meta["orientation"] is None


# --- video: probe -----------------------------------------------------------------------------


def _videos_csv() -> list[dict[str, str]]:
    with open(VIDEOS / "videos.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_probe_real_videos_match_videos_csv() -> None:
    rows = _videos_csv()
    assert len(rows) == 3
    for row in rows:
        info = probe_video(VIDEOS / row["file"])
        assert (info.width, info.height) == (int(row["width"]), int(row["height"])), row["file"]
        assert info.fps == pytest.approx(float(row["fps"]), rel=1e-3), row["file"]
        assert info.frame_count == int(row["frames"]), row["file"]
        assert info.duration_s == pytest.approx(float(row["seconds"]), abs=0.01), row["file"]
        assert info.codec in ("h264", "FMP4"), row["file"]


@pytest.mark.parametrize("content", [b"I am a text file, honest.\n" * 10, b""])
def test_non_videos_named_mp4_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    with pytest.raises(UnreadableMedia, match="not a recognised video format"):
        probe_video(path)
    with pytest.raises(UnreadableMedia, match="not a recognised video format"):
        sample_frames(path)  # raised on the call, before any iteration


def test_images_are_not_played_as_videos(tmp_path: Path) -> None:
    """FFmpeg would open a JPEG as a one-frame video; the content check refuses it first."""
    path = tmp_path / "clip.mp4"
    shutil.copyfile(FACEDATA / "lfw/Aaron_Patterson/Aaron_Patterson_0001.jpg", path)
    assert cv2.VideoCapture(str(path), cv2.CAP_FFMPEG).isOpened()
    with pytest.raises(UnreadableMedia, match="content is image"):
        probe_video(path)


def test_bad_arguments_are_refused() -> None:
    for kw in ({"fps": 0}, {"fps": math.nan}, {"scene_threshold": 0}, {"max_frames": -1}):
        with pytest.raises(ValueError):
            sample_frames(BOB, **kw)


# --- video: sampling --------------------------------------------------------------------------


def _every(step: float, count: int) -> list[int]:
    """Frame nearest each multiple of step frames (ties to the earlier frame)."""
    out, k = [], 0
    while (i := math.ceil(k * step - 0.5 - 1e-9)) < count:
        out.append(i)
        k += 1
    return out


def test_two_fps_on_bob_menendez_gives_the_right_frames_at_the_right_times() -> None:
    frames = list(sample_frames(BOB, fps=2.0))
    assert [f.index for f in frames] == [0, 12, 25, 37, 50, 62, 75, 87, 100, 112, 125, 137, 150,
                                         162, 175, 187]
    assert all(f.reason == "interval" for f in frames)  # one shot: no cut anywhere
    assert [f.timestamp_s for f in frames] == [f.index / 25 for f in frames]
    decoded = _decode_all(BOB)
    assert len(decoded) == 200
    for f in frames:  # grab()/retrieve() hands out exactly the frame that read() would
        assert f.bgr.shape == (512, 512, 3) and f.bgr.dtype == np.uint8
        assert np.array_equal(f.bgr, decoded[f.index]), f.index


def test_cuts_in_hamilton_are_sampled_once_each() -> None:
    frames = list(sample_frames(HAMILTON, fps=2.0))
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices)), "a frame emitted twice or out of order"
    scenes = [f.index for f in frames if f.reason == "scene"]
    assert scenes, "no scene frame in a clip with cuts"
    assert scenes == HAMILTON_CUTS
    interval = [f.index for f in frames if f.reason == "interval"]
    assert sorted(interval + scenes) == sorted(set(_every(29.97 / 2, 275)) | set(scenes))
    for f in frames:
        assert f.timestamp_s == pytest.approx(f.index / 29.97, abs=1e-9)
        assert f.bgr.shape == (360, 640, 3)


def test_single_shot_crowd_clip_has_no_scene_frames() -> None:
    frames = list(sample_frames(CROWD, fps=2.0))
    assert [f.index for f in frames] == _every(12.5, 105)
    assert {f.reason for f in frames} == {"interval"}
    assert frames[-1].bgr.shape == (1080, 1920, 3)


def test_scene_detection_off_and_max_frames() -> None:
    assert [f.reason for f in sample_frames(HAMILTON, scene_threshold=None)] == ["interval"] * 19
    assert [f.index for f in sample_frames(HAMILTON, max_frames=3)] == [0, 15, 20]
    assert list(sample_frames(HAMILTON, max_frames=0)) == []


def test_sampling_faster_than_the_video_gives_every_frame_once(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "short.avi", "MJPG", frames=30)
    frames = list(sample_frames(path, fps=100.0, scene_threshold=None))
    assert [f.index for f in frames] == list(range(30))
    assert frames[29].timestamp_s == pytest.approx(29 / 25)


class _NoFpsCapture:
    """A real capture whose container 'forgot' its frame rate (CAP_PROP_FPS = 0)."""

    def __init__(self, path: str) -> None:
        self._cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)

    def get(self, prop: int) -> float:
        return 0.0 if prop == cv2.CAP_PROP_FPS else self._cap.get(prop)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cap, name)


@pytest.mark.parametrize("reported_fps", [0.0, 90000.0, math.nan])
def test_missing_or_absurd_fps_falls_back_to_frame_timestamps(monkeypatch: pytest.MonkeyPatch,
                                                              reported_fps: float) -> None:
    expected = [(f.index, f.timestamp_s) for f in sample_frames(BOB, scene_threshold=None)]

    class Capture(_NoFpsCapture):
        def get(self, prop: int) -> float:
            return reported_fps if prop == cv2.CAP_PROP_FPS else self._cap.get(prop)

    monkeypatch.setattr(video, "_open_capture", Capture)
    info = probe_video(BOB)
    assert (info.fps, info.duration_s, info.frame_count) == (0.0, 0.0, 200)
    got = [(f.index, f.timestamp_s) for f in sample_frames(BOB, scene_threshold=None)]
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert [t for _, t in got] == pytest.approx([t for _, t in expected], abs=1e-6)


def test_rotated_phone_video_is_sampled_upright(tmp_path: Path) -> None:
    """A 90-degree display matrix in the track header, as phones write for portrait video."""
    data = bytearray(HAMILTON.read_bytes())
    tkhd = data.find(b"tkhd")
    assert data[tkhd + 4] == 0  # version 0: the matrix sits 40 bytes after the box type
    matrix = tkhd + 4 + 40
    data[matrix:matrix + 36] = struct.pack(">9i", 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)
    path = tmp_path / "portrait.mp4"
    path.write_bytes(bytes(data))
    before = _digest(path)
    info = probe_video(path)
    assert (info.width, info.height) == (360, 640)
    first = next(sample_frames(path))
    assert first.bgr.shape == (640, 360, 3)
    landscape = next(sample_frames(HAMILTON)).bgr
    assert np.array_equal(first.bgr, np.rot90(landscape, -1))
    assert _digest(path) == before  # evidence untouched


# --- video: damage ----------------------------------------------------------------------------


def _faststart(mp4: bytes) -> bytes:
    """The same MP4 with its moov box before mdat and chunk offsets shifted to match, as cameras
    and 'optimised for streaming' exports write it: a truncated copy then keeps its index."""
    top = _boxes(mp4, 0, len(mp4))
    moov = next(b for b in top if b[0] == b"moov")
    mdat_start = next(b for b in top if b[0] == b"mdat")[1]
    box = bytearray(mp4[moov[1]:moov[2]])
    _shift_chunk_offsets(box, 8, len(box), len(box))
    rest = b"".join(mp4[s:e] for t, s, e in top if t != b"moov" and s >= mdat_start)
    head = b"".join(mp4[s:e] for t, s, e in top if t != b"moov" and s < mdat_start)
    return head + bytes(box) + rest


def _boxes(data: bytes | bytearray, start: int, end: int) -> list[tuple[bytes, int, int]]:
    out, pos = [], start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        size = end - pos if size == 0 else size
        out.append((kind, pos, pos + size))
        pos += size
    return out


def _shift_chunk_offsets(box: bytearray, start: int, end: int, shift: int) -> None:
    for kind, s, e in _boxes(box, start, end):
        if kind in (b"trak", b"mdia", b"minf", b"stbl"):
            _shift_chunk_offsets(box, s + 8, e, shift)
        elif kind in (b"stco", b"co64"):
            width, fmt = (4, ">I") if kind == b"stco" else (8, ">Q")
            (count,) = struct.unpack(">I", box[s + 12:s + 16])
            for k in range(count):
                at = s + 16 + k * width
                (offset,) = struct.unpack(fmt, box[at:at + width])
                box[at:at + width] = struct.pack(fmt, offset + shift)


def test_faststart_helper_keeps_the_video_identical(tmp_path: Path) -> None:
    path = tmp_path / "bob_faststart.mp4"
    path.write_bytes(_faststart(BOB.read_bytes()))
    assert _boxes(path.read_bytes(), 0, path.stat().st_size)[2][0] == b"moov"
    assert all(np.array_equal(a, b) for a, b in zip(_decode_all(path), _decode_all(BOB), strict=True))


def test_truncated_mp4_yields_its_first_half_and_stops(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    data = _faststart(BOB.read_bytes())
    path = tmp_path / "bob_half.mp4"
    path.write_bytes(data[: len(data) // 2])
    caplog.set_level(logging.WARNING, logger="desktop.media.video")
    frames: list[SampledFrame] = _bounded(lambda: list(sample_frames(path)), 10)
    indices = [f.index for f in frames]
    assert 3 <= len(frames) < 16 and indices == _every(12.5, 200)[: len(frames)]
    decoded = _decode_all(BOB)
    for f in frames:  # the frames it could decode are the right ones, at the right times
        assert np.array_equal(f.bgr, decoded[f.index]) and f.timestamp_s == f.index / 25
    assert "truncated or corrupt" in caplog.text


def test_truncated_avi_yields_frames_and_stops_quickly(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    full = _write_video(tmp_path / "full.avi", "MJPG", frames=100)
    path = tmp_path / "half.avi"
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    caplog.set_level(logging.WARNING, logger="desktop.media.video")
    start = time.monotonic()
    frames = _bounded(lambda: list(sample_frames(path, fps=100.0)), 10)
    assert time.monotonic() - start < 5
    assert 10 < len(frames) < 100
    assert [f.index for f in frames] == list(range(len(frames)))
    assert "truncated or corrupt" in caplog.text


def test_mp4_without_its_index_is_unreadable_not_a_hang(tmp_path: Path) -> None:
    """The shared MP4s keep moov at the end, as phones record: cut in half, FFmpeg cannot open
    them at all (recovering such files needs a reference-file tool such as untrunc)."""
    path = tmp_path / "bob_half.mp4"
    path.write_bytes(BOB.read_bytes()[: BOB.stat().st_size // 2])
    assert sniff(path) == MediaType("video", "MP4")
    with pytest.raises(UnreadableMedia, match="cannot open"):
        _bounded(lambda: probe_video(path), 10)
    with pytest.raises(UnreadableMedia, match="cannot open"):
        _bounded(lambda: sample_frames(path), 10)


def test_damage_mid_file_skips_the_hole_and_keeps_timestamps_true(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = bytearray(HAMILTON.read_bytes())
    data[200_000:260_000] = bytes(60_000)  # a zeroed run, as from a bad sector
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    caplog.set_level(logging.WARNING, logger="desktop.media.video")
    frames = _bounded(lambda: list(sample_frames(path, scene_threshold=None)), 10)
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices))
    assert max(indices) > 240, "decoding did not resume after the hole"
    assert len(frames) < 19, "no frame was lost: the damage missed the video data"
    pristine = _decode_all(HAMILTON)
    late = [f for f in frames if f.index >= 150]
    assert late
    for f in late:  # after resuming, index and timestamp still name the right frame
        assert f.timestamp_s == pytest.approx(f.index / 29.97)
        diff = np.abs(f.bgr.astype(np.int16) - pristine[f.index].astype(np.int16)).mean()
        assert diff < 2.0, (f.index, diff)
    assert "lost (undecodable)" in caplog.text


def test_sampling_leaves_the_evidence_untouched(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    shutil.copyfile(BOB, path)
    before = _digest(path)
    assert len(list(sample_frames(path, max_frames=4))) == 4
    probe_video(path)
    assert _digest(path) == before


def test_names_that_look_like_ffmpeg_protocols_are_plain_files(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """'concat:a|b' or 'subfile:...' given to FFmpeg as is would be a protocol, not a file name."""
    shutil.copyfile(BOB, tmp_path / "concat:clip.mp4")
    monkeypatch.chdir(tmp_path)
    assert probe_video("concat:clip.mp4").frame_count == 200
    assert len(list(sample_frames("concat:clip.mp4", max_frames=2))) == 2
    assert "protocol_whitelist;file" in os.environ.get(video.FFMPEG_OPTIONS_ENV, "")
