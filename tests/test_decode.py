"""desktop.media.decode: hostile files refused with a reason, real images decoded upright,
source files left untouched."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import random
import struct
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from desktop.errors import UnreadableMedia
from desktop.media.decode import DecodedImage, decode_image_bytes, load_image

FACEDATA = Path(__file__).resolve().parents[1].parent / "shared" / "facedata"


def _gradient(w: int = 96, h: int = 64) -> np.ndarray:
    """A smooth RGB image (survives lossy codecs) that is not symmetric in any axis."""
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + 2 * y) % 256], -1)
    return rgb.astype(np.uint8)


def _save(tmp_path: Path, name: str, im: Image.Image, **kw: object) -> Path:
    path = tmp_path / name
    im.save(path, **kw)
    return path


def _png(width: int, height: int, idat: bytes) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def _refused(path: Path, reason: str) -> UnreadableMedia:
    with pytest.raises(UnreadableMedia) as info:
        load_image(path)
    assert reason in info.value.message
    return info.value


def _face_photo() -> Path:
    """A real, non-square, upright (no EXIF rotation) face photo from the shared data set."""
    if not FACEDATA.is_dir():
        pytest.skip(f"face data not present at {FACEDATA}")
    preferred = FACEDATA / "deepface" / "deepface_p02" / "img46.jpg"
    for p in [preferred, *sorted(FACEDATA.glob("*/*/*.jpg"))[:200]]:
        if p.is_file():
            with Image.open(p) as im:
                if im.width != im.height and im.getexif().get(0x0112, 1) == 1:
                    return p
    pytest.skip("no suitable face photo in the shared data set")


# --- refusals ---------------------------------------------------------------------------------

def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    _refused(tmp_path / "empty.jpg", "empty")


def test_truncated_jpeg_is_refused_not_half_decoded(tmp_path: Path) -> None:
    full = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 256, 3), np.uint8)).save(
        full, "JPEG", quality=90)
    data = full.getvalue()
    assert decode_image_bytes(data).width == 256  # the uncut file is fine
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    err = _refused(tmp_path / "cut.jpg", "truncated")
    assert "cut.jpg" in err.detail


def test_text_named_jpg(tmp_path: Path) -> None:
    (tmp_path / "notes.jpg").write_text("meeting at 10, bring the drives\n" * 20)
    _refused(tmp_path / "notes.jpg", "not a recognised image")


def test_eps_is_not_handed_to_ghostscript(tmp_path: Path) -> None:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n%%EOF\n"
    (tmp_path / "x.eps").write_bytes(eps)
    _refused(tmp_path / "x.eps", "not a recognised image")


def test_png_bomb_header_refused_fast(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png(20000, 20000, zlib.compress(b"\x00" * 60001 * 4)))
    assert path.stat().st_size < 2000
    start = time.perf_counter()
    err = _refused(path, "too large")
    assert time.perf_counter() - start < 1.0
    assert "bomb.png" in err.detail


def test_max_pixels_checked_from_header_before_decoding() -> None:
    # IDAT is garbage: had the pixels been decoded first this would be "corrupt", not "too large".
    data = _png(5000, 5000, b"garbage, not zlib")
    with pytest.raises(UnreadableMedia, match="too large"):
        decode_image_bytes(data, max_pixels=1_000_000)
    with pytest.raises(UnreadableMedia, match="corrupt"):
        decode_image_bytes(data, max_pixels=100_000_000)


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "album.jpg").mkdir()
    _refused(tmp_path / "album.jpg", "directory")


def test_missing_file(tmp_path: Path) -> None:
    _refused(tmp_path / "gone.jpg", "cannot read")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)  # opening it for reading would hang the scanner forever
    done = threading.Event()

    def unblock() -> None:  # if the decoder did open it, let it return so the test fails, not hangs
        while not done.wait(0.5):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    threading.Thread(target=unblock, daemon=True).start()
    try:
        _refused(fifo, "not a regular file")
    finally:
        done.set()


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root reads anything")
def test_permission_denied(tmp_path: Path) -> None:
    path = _save(tmp_path, "locked.png", Image.new("RGB", (8, 8)))
    path.chmod(0)
    try:
        _refused(path, "cannot read")
    finally:
        path.chmod(0o644)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_mutated_files_never_escape_as_other_exceptions(tmp_path: Path) -> None:
    rng = random.Random(1234)
    base = Image.fromarray(_gradient())
    for fmt in ("JPEG", "PNG", "GIF", "TIFF", "WEBP", "BMP"):
        buf = io.BytesIO()
        base.save(buf, fmt)
        good = buf.getvalue()
        for _ in range(40):
            bad = bytearray(good)
            for _ in range(rng.randint(1, 8)):
                bad[rng.randrange(len(bad))] = rng.randrange(256)
            try:
                out = decode_image_bytes(bytes(bad), name=fmt)
            except UnreadableMedia:
                continue
            assert out.bgr.dtype == np.uint8 and out.bgr.shape == (out.height, out.width, 3)


# --- decoding ---------------------------------------------------------------------------------

def test_one_pixel_image_decodes(tmp_path: Path) -> None:
    out = load_image(_save(tmp_path, "dot.png", Image.new("RGB", (1, 1), (10, 20, 30))))
    assert (out.width, out.height, out.format) == (1, 1, "PNG")
    assert out.bgr.tolist() == [[[30, 20, 10]]]


def test_rgb_jpeg_is_bgr_contiguous(tmp_path: Path) -> None:
    rgb = _gradient()
    out = load_image(_save(tmp_path, "g.jpg", Image.fromarray(rgb), quality=95))
    assert isinstance(out, DecodedImage)
    assert (out.width, out.height, out.format, out.source_mode, out.orientation) == (
        96, 64, "JPEG", "RGB", 1)
    assert out.bgr.flags["C_CONTIGUOUS"] and out.bgr.dtype == np.uint8
    assert np.abs(out.bgr.astype(int) - rgb[:, :, ::-1]).mean() < 3


def test_grayscale_jpeg(tmp_path: Path) -> None:
    gray = _gradient()[:, :, 0]
    out = load_image(_save(tmp_path, "l.jpg", Image.fromarray(gray, "L"), quality=95))
    assert out.source_mode == "L" and out.bgr.shape == (64, 96, 3)
    assert (out.bgr[:, :, 0] == out.bgr[:, :, 2]).all()
    assert np.abs(out.bgr[:, :, 1].astype(int) - gray).mean() < 3


def test_cmyk_jpeg(tmp_path: Path) -> None:
    cyan = Image.new("CMYK", (32, 16), (255, 0, 0, 0))  # pure cyan ink -> RGB (0, 255, 255)
    out = load_image(_save(tmp_path, "c.jpg", cyan, quality=95))
    assert out.source_mode == "CMYK" and (out.width, out.height) == (32, 16)
    assert np.abs(out.bgr.reshape(-1, 3).mean(0) - (255, 255, 0)).max() < 8


def test_16bit_png_scaled_not_clipped(tmp_path: Path) -> None:
    a = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    out = load_image(_save(tmp_path, "deep.png", Image.fromarray(a)))
    assert out.source_mode.startswith("I")
    assert out.bgr[0, :, 1].tolist() == [0, 1, 128, 255]
    assert (out.bgr[..., 0] == out.bgr[..., 2]).all()


def test_rgba_png_composited_on_white(tmp_path: Path) -> None:
    px = np.array([[[0, 0, 0, 0], [255, 0, 0, 255], [0, 0, 0, 128]]], dtype=np.uint8)
    out = load_image(_save(tmp_path, "a.png", Image.fromarray(px, "RGBA")))
    assert out.source_mode == "RGBA"
    assert out.bgr[0, 0].tolist() == [255, 255, 255]  # fully transparent -> white, not black
    assert out.bgr[0, 1].tolist() == [0, 0, 255]  # opaque red, in BGR order
    assert abs(int(out.bgr[0, 2, 0]) - 127) <= 1  # half-transparent black -> mid grey


def test_palette_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (20, 10), c).convert("P") for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    out = load_image(path)
    assert (out.format, out.source_mode, out.width, out.height) == ("GIF", "P", 20, 10)
    assert out.bgr[5, 5].tolist() == [0, 0, 255]  # the first (red) frame, not the blue one


def test_every_exif_orientation_matches_pillow(tmp_path: Path) -> None:
    stored = Image.fromarray(_gradient(12, 7))
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = _save(tmp_path, f"o{orientation}.png", stored, exif=exif.tobytes())
        with Image.open(path) as im:
            expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))[:, :, ::-1]
        out = load_image(path)
        assert out.orientation == orientation
        assert (out.width, out.height) == (expected.shape[1], expected.shape[0])
        assert np.array_equal(out.bgr, expected), orientation


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_rotated_face_photo_comes_back_upright(tmp_path: Path, orientation: int) -> None:
    src = _face_photo()
    with Image.open(src) as im:
        upright = im.convert("RGB")
    # Store the pixels sideways, as a camera held on its side does, and let EXIF say so.
    stored = upright.transpose(
        Image.Transpose.ROTATE_90 if orientation == 6 else Image.Transpose.ROTATE_270)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = _save(tmp_path, "sideways.jpg", stored, quality=95, exif=exif.tobytes())
    with Image.open(path) as check:  # a viewer would show it upright
        assert ImageOps.exif_transpose(check).size == upright.size
    out = load_image(path)
    assert out.orientation == orientation
    assert (out.width, out.height) == upright.size != stored.size
    diff = np.abs(out.bgr.astype(int) - np.asarray(upright)[:, :, ::-1]).mean()
    assert diff < 4, diff


def test_heic_round_trip(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    rgb = _gradient(128, 96)
    path = tmp_path / "phone.heic"
    try:
        Image.fromarray(rgb).save(path, format="HEIF", quality=95)
    except (OSError, KeyError, ValueError) as e:
        pytest.skip(f"pillow_heif cannot encode here: {e}")
    out = load_image(path)
    assert (out.format, out.width, out.height) == ("HEIF", 128, 96)
    assert np.abs(out.bgr.astype(int) - rgb[:, :, ::-1]).mean() < 6


def test_source_bytes_mtime_and_folder_untouched(tmp_path: Path) -> None:
    paths = [
        _save(tmp_path, "a.jpg", Image.fromarray(_gradient()), quality=90),
        _save(tmp_path, "b.png", Image.fromarray(_gradient())),
    ]
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    paths.append(tmp_path / "bad.jpg")
    old_ns = 1_500_000_000_000_000_000
    for p in paths:
        os.utime(p, ns=(old_ns, old_ns))
    before = {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in paths}
    listing = sorted(os.listdir(tmp_path))
    for p in paths:
        with contextlib.suppress(UnreadableMedia):
            load_image(p)
    after = {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in paths}
    assert after == before
    assert sorted(os.listdir(tmp_path)) == listing  # no sidecar, cache or temp file written
