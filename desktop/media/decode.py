"""Decode one still image from seized media into an upright 8-bit BGR array.

Seized media is hostile input: files may be empty, truncated, mislabelled, crafted to exhaust
memory, or not files at all. Every failure becomes ``UnreadableMedia`` with a short reason, so a
scan logs the file and moves on instead of dying. The source is only ever opened through the
evidence opener (read-only, O_NOATIME where the OS allows it) and read once; nothing is written
beside it.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from desktop.errors import UnreadableMedia
from desktop.media.sniff import open_readonly

log = logging.getLogger(__name__)

try:  # HEIC/HEIF (iPhone photos); optional so a broken wheel cannot take the scanner down.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    log.warning("pillow-heif is not importable: HEIC/HEIF files will be reported unreadable")

# Pixel-count ceiling, checked from the header before any pixel is decoded. 178,956,970 is
# Pillow's own hard limit (2 x Image.MAX_IMAGE_PIXELS), so ours is the check that fires, with
# our message. It admits 100-150 MP medium-format frames (GFX100, Phase One IQ4) and large
# panoramas, while one decode peaks near 1.5 GB (RGB + BGR + rotation copies). Full-resolution
# 200 MP phone shots (16320x12240) exceed it; phones save 12-50 MP binned files by default.
# A larger max_pixels only helps if the caller also raises PIL.Image.MAX_IMAGE_PIXELS.
DEFAULT_MAX_PIXELS = 178_956_970
# Refuse to slurp anything bigger than this: it is a video, disk image or padding, not a photo.
MAX_FILE_BYTES = 1 << 30

# Plugins that decode real photo formats in-process. Pillow's default is to try every plugin,
# including EPS (which runs Ghostscript on untrusted bytes) and formats with weak magic numbers
# (TGA, XVThumb) that would "decode" random bytes into noise.
_ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF", "AVIF", "GIF", "BMP", "DIB", "TIFF",
                    "JPEG2000", "PSD", "PPM")

_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_WHITE = (255, 255, 255, 255)

# EXIF orientation -> the numpy view that makes the stored pixels upright (same as
# PIL.ImageOps.exif_transpose, without re-serialising hostile EXIF the way that helper does).
_UPRIGHT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


@dataclass(frozen=True)
class DecodedImage:
    """An upright image ready for the face engine, plus what the file said about itself."""

    bgr: np.ndarray  # HxWx3 uint8, C-contiguous, EXIF orientation already applied
    width: int  # of the upright image
    height: int
    orientation: int  # EXIF orientation tag found (1 if none or invalid)
    source_mode: str  # Pillow mode of the stored pixels: "RGB", "L", "CMYK", "I;16", ...
    format: str  # Pillow format name: "JPEG", "MPO", "PNG", "HEIF", ...


def load_image(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Read ``path`` once, read-only, and decode it; raise UnreadableMedia on any failure."""
    return decode_image_bytes(_read_once(Path(path)), name=str(path), max_pixels=max_pixels)


def decode_image_bytes(
    data: bytes, *, name: str = "<bytes>", max_pixels: int = DEFAULT_MAX_PIXELS
) -> DecodedImage:
    """Decode image bytes (first frame/page only); raise UnreadableMedia with a short reason."""
    if not data:
        raise UnreadableMedia("empty file", name)
    Image.init()  # idempotent; makes sure every plugin is registered before filtering
    formats = tuple(f for f in _ALLOWED_FORMATS if f in Image.OPEN)
    try:
        with Image.open(io.BytesIO(data), formats=formats) as im:
            width, height = im.size  # header only: no pixel has been decoded yet
            if width * height > max_pixels:
                raise UnreadableMedia(
                    "image too large (possible decompression bomb)",
                    f"{name}: {width}x{height} exceeds {max_pixels} pixels",
                )
            im.load()  # raises on truncated data: LOAD_TRUNCATED_IMAGES stays False
            fmt, mode, orientation = im.format or "?", im.mode, _orientation(im, name)
            bgr = _to_bgr(im)
    except UnreadableMedia:
        raise
    except UnidentifiedImageError as e:
        raise UnreadableMedia("not a recognised image format", f"{name}: {e}") from e
    except Image.DecompressionBombError as e:  # Pillow's own, lower, global ceiling fired first
        raise UnreadableMedia(
            "image too large (possible decompression bomb)", f"{name}: {e}"
        ) from e
    except MemoryError as e:
        raise UnreadableMedia("not enough memory to decode image", name) from e
    except Exception as e:  # plugins raise OSError, SyntaxError, ValueError, struct.error, ...
        reason = "truncated image data" if "truncated" in str(e) else "corrupt image data"
        log.debug("decode failed for %s", name, exc_info=True)
        raise UnreadableMedia(reason, f"{name}: {type(e).__name__}: {e}") from e
    if orientation in _UPRIGHT:
        bgr = _UPRIGHT[orientation](bgr)
    bgr = np.ascontiguousarray(bgr)
    return DecodedImage(bgr, bgr.shape[1], bgr.shape[0], orientation, mode, fmt)


def _read_once(path: Path) -> bytes:
    """Read a regular file through the evidence opener; refuse what is too big to be a photo."""
    with open_readonly(path) as handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise UnreadableMedia("file too large for an image", f"{path}: {size} bytes")
            return handle.read()
        except OSError as e:
            raise UnreadableMedia("cannot read file", f"{path}: {e.strerror or e}") from e


def _orientation(im: Image.Image, name: str) -> int:
    """EXIF (or XMP) orientation 1-8; malformed metadata means 'as stored', never a failure."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # hostile EXIF must not cost us the pixels
        log.debug("unreadable EXIF in %s", name, exc_info=True)
        return 1
    if isinstance(value, int) and 1 <= value <= 8:
        return value
    log.debug("ignoring invalid EXIF orientation %r in %s", value, name)
    return 1


def _to_bgr(im: Image.Image) -> np.ndarray:
    """Stored pixels -> HxWx3 uint8 BGR (not yet rotated).

    Transparency is composited on white, as viewers show it and a reviewer will see it, rather
    than exposing whatever colour sits under alpha 0 (often black or junk).
    """
    if im.mode in _SIXTEEN_BIT or im.mode in ("I", "F"):
        gray = _gray_to_u8(np.asarray(im), im.mode)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        rgb = Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba).convert("RGB")
    else:
        rgb = im.convert("RGB")  # L, 1, P, CMYK (incl. Adobe-inverted), YCbCr, LAB, ...
    return np.asarray(rgb)[:, :, ::-1]


def _gray_to_u8(a: np.ndarray, mode: str) -> np.ndarray:
    """Scale deep grayscale to 0..255: 16-bit by full range (65535 -> 255), others by min/max."""
    if mode in _SIXTEEN_BIT or (mode == "I" and a.size and a.min() >= 0 and a.max() <= 65535):
        return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    f = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(f.min()), float(f.max())) if f.size else (0.0, 0.0)
    if hi <= lo:
        return np.zeros(a.shape, np.uint8)
    return np.round((f - lo) * (255.0 / (hi - lo))).astype(np.uint8)
