"""The date a photo was taken, from its EXIF, when the camera recorded one."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 0x9003
DATE_TIME = 0x0132
EXIF_DATE = re.compile(r"^(\d{4}):(\d{2}):(\d{2})")


def photo_date(path: Path) -> str | None:
    """YYYY-MM-DD from DateTimeOriginal (else DateTime); None when absent or unreadable."""
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            raw = exif.get_ifd(EXIF_IFD).get(DATE_TIME_ORIGINAL) or exif.get(DATE_TIME)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        log.debug("no EXIF date in %s: %s", path, exc)
        return None
    match = EXIF_DATE.match(str(raw or "").strip())
    if not match or match.group(1) == "0000":
        return None
    return "-".join(match.groups())
