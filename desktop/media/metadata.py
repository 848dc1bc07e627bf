"""What a photo's EXIF says about where, when and with what it was taken.

These are leads for an investigator, so a value is reported only when it parses cleanly:
a wrong hemisphere or an impossible date is worse than none. EXIF is attacker-controlled;
every field is read on its own, so one broken tag or IFD costs that field, never the others
and never an exception. DateTime (0x0132) is deliberately not used as the date taken:
editors rewrite it on every save.
"""

from __future__ import annotations

import io
import logging
import math
import numbers
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TypedDict, TypeVar

from PIL import Image

from desktop.media.exif import DATE_TIME_ORIGINAL, EXIF_IFD
from desktop.media.sniff import open_readonly

log = logging.getLogger(__name__)

try:  # HEIC (iPhone photos) carries EXIF too; optional as in decode.py
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    log.warning("pillow-heif is not importable: no metadata from HEIC/HEIF files")

MAKE, MODEL, ORIENTATION = 0x010F, 0x0110, 0x0112
GPS_IFD = 0x8825
DATE_TIME_DIGITIZED = 0x9004
OFFSET_TIME_ORIGINAL, OFFSET_TIME_DIGITIZED = 0x9011, 0x9012
SUBSEC_TIME_ORIGINAL, SUBSEC_TIME_DIGITIZED = 0x9291, 0x9292
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4

# Header-only opens of formats that carry EXIF; nothing else is even tried on hostile bytes.
_EXIF_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "HEIF", "AVIF")
_MAX_TEXT = 128  # make/model longer than this are junk or an attack on whatever displays them
_DATE = re.compile(r"^\s*(\d{4})[:/-](\d{2})[:/-](\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2}))?")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_T = TypeVar("_T")


class ImageMetadata(TypedDict):
    date_taken: str | None  # ISO 8601, camera-local unless an offset is recorded
    make: str | None
    model: str | None
    gps_latitude: float | None  # decimal degrees, south negative
    gps_longitude: float | None  # decimal degrees, west negative
    orientation: int | None  # EXIF orientation 1-8 as recorded (None when absent or invalid)


def image_metadata(path: Path | str) -> ImageMetadata:
    """EXIF leads of the image at ``path``; every field None when absent, malformed or unreadable."""
    try:
        with open_readonly(Path(path)) as handle:
            return _metadata(handle, str(path))
    except Exception as e:
        log.debug("no metadata from %s: %s: %s", path, type(e).__name__, e)
        return _nothing()


def image_metadata_bytes(data: bytes, name: str) -> ImageMetadata:
    """EXIF leads of an image already read (from any source)."""
    return _metadata(io.BytesIO(data), name)


def _nothing() -> ImageMetadata:
    return ImageMetadata(date_taken=None, make=None, model=None, gps_latitude=None,
                         gps_longitude=None, orientation=None)


def _metadata(handle: BinaryIO, name: str) -> ImageMetadata:
    meta = _nothing()
    Image.init()  # idempotent; registers every plugin so the format filter below can name them
    formats = tuple(f for f in _EXIF_FORMATS if f in Image.OPEN)
    try:
        with Image.open(handle, formats=formats) as image:
            exif = image.getexif()
            ifd0: Mapping[int, Any] = dict(exif)
            exif_ifd = _safely(lambda: exif.get_ifd(EXIF_IFD), {}, "Exif IFD", name)
            gps_ifd = _safely(lambda: exif.get_ifd(GPS_IFD), {}, "GPS IFD", name)
    except Exception as e:  # not an image, unreadable, or EXIF too broken to even index
        log.debug("no metadata from %s: %s: %s", name, type(e).__name__, e)
        return meta
    meta["date_taken"] = _safely(lambda: _date_taken(exif_ifd), None, "date", name)
    meta["make"] = _safely(lambda: _text(ifd0.get(MAKE)), None, "make", name)
    meta["model"] = _safely(lambda: _text(ifd0.get(MODEL)), None, "model", name)
    meta["orientation"] = _safely(lambda: _orientation(ifd0.get(ORIENTATION)), None, "orientation", name)
    lat = _safely(lambda: _coordinate(gps_ifd.get(GPS_LAT), gps_ifd.get(GPS_LAT_REF), "NS", 90.0),
                  None, "latitude", name)
    lon = _safely(lambda: _coordinate(gps_ifd.get(GPS_LON), gps_ifd.get(GPS_LON_REF), "EW", 180.0),
                  None, "longitude", name)
    if lat is not None and lon is not None:  # half a position is not a place
        meta["gps_latitude"], meta["gps_longitude"] = lat, lon
    return meta


def _safely(read: Callable[[], _T], default: _T, what: str, name: str) -> _T:
    try:
        return read()
    except Exception as e:  # hostile EXIF: TypeError, ValueError, struct.error, OverflowError, ...
        log.debug("ignoring unreadable EXIF %s in %s: %s: %s", what, name, type(e).__name__, e)
        return default


def _date_taken(exif_ifd: Mapping[int, Any]) -> str | None:
    """DateTimeOriginal (else DateTimeDigitized) as ISO 8601, with sub-seconds and offset if valid."""
    for date_tag, subsec_tag, offset_tag in (
        (DATE_TIME_ORIGINAL, SUBSEC_TIME_ORIGINAL, OFFSET_TIME_ORIGINAL),
        (DATE_TIME_DIGITIZED, SUBSEC_TIME_DIGITIZED, OFFSET_TIME_DIGITIZED),
    ):
        match = _DATE.match(_text(exif_ifd.get(date_tag)) or "")
        if not match:
            continue
        fields = [int(g) for g in match.groups() if g is not None]
        try:
            when = datetime(*fields)  # type: ignore[arg-type]  # 3 or 6 ints; rejects month 13 etc.
        except ValueError:
            continue
        if len(fields) == 3:
            return when.date().isoformat()
        text = when.isoformat()
        subsec = (_text(exif_ifd.get(subsec_tag)) or "").strip()
        if subsec.isdigit():
            text += "." + subsec[:6]
        offset = _OFFSET.match(_text(exif_ifd.get(offset_tag)) or "")
        if offset and int(offset.group(2)) <= 14 and int(offset.group(3)) < 60:
            text += offset.group(0)
        return text
    return None


def _text(value: object) -> str | None:
    """A printable, trimmed string from an ASCII or UNDEFINED tag; None if empty or not text."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = "".join(c for c in value.split("\x00", 1)[0] if c.isprintable()).strip()
    return text[:_MAX_TEXT] or None


def _orientation(value: object) -> int | None:
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _coordinate(value: object, ref: object, hemispheres: str, limit: float) -> float | None:
    """Degrees[, minutes[, seconds]] plus an N/S or E/W reference -> signed decimal degrees.

    No reference means no sign: rather than guess north/east, the position is dropped.
    """
    hemisphere = (_text(ref) or "").upper()
    if len(hemisphere) != 1 or hemisphere not in hemispheres:
        return None
    parts = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not 1 <= len(parts) <= 3 or not all(isinstance(p, numbers.Real) for p in parts):
        return None  # Pillow gives IFDRational (a numbers.Rational); strings and IFDs are junk
    dms = [float(p) for p in parts] + [0.0] * (3 - len(parts))
    if not all(math.isfinite(n) and n >= 0 for n in dms) or dms[1] >= 60 or dms[2] >= 60:
        return None
    degrees = dms[0] + dms[1] / 60 + dms[2] / 3600
    if degrees > limit:
        return None
    return round(-degrees if hemisphere == hemispheres[1] else degrees, 7)
