"""What a report states about each file and picture besides the match: the file system's
times of every copy, the EXIF leads the scan recorded, and the context picture with the
matched face boxed, so that in a group photo the reader sees which face was matched.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils
from PIL import Image, ImageDraw, UnidentifiedImageError

log = logging.getLogger(__name__)

BOX_COLOUR = (255, 0, 255)  # magenta: rare in photographs, plain in print and on screen
CONTEXT_MAX = 1024  # pixels, the longer side of a context picture in a report


@dataclass(frozen=True)
class FileRecord:
    """One copy of a content, where it was found and the times its file system kept (UTC)."""

    location: str  # "source label : path inside"
    modified: str | None
    changed: str | None  # metadata change (or creation, where that is all there is)
    accessed: str | None
    created: str | None  # birth time, where the file system keeps one
    deleted: bool  # recovered from a file system's unallocated entries


def utc_text(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def file_records(db: sqlite_utils.Database) -> dict[int, list[FileRecord]]:
    """Every copy of every content, by content id, in scan order."""
    records: dict[int, list[FileRecord]] = {}
    for row in db.query("SELECT f.content_id, f.rel_path, f.mtime, f.ctime, f.atime, f.crtime, "
                        "f.deleted, s.label FROM files f JOIN sources s ON s.id = f.source_id "
                        "WHERE f.content_id IS NOT NULL ORDER BY f.id"):
        records.setdefault(row["content_id"], []).append(FileRecord(
            f"{row['label']} : {row['rel_path']}", utc_text(row["mtime"]), utc_text(row["ctime"]),
            utc_text(row["atime"]), utc_text(row["crtime"]), bool(row["deleted"])))
    return records


def exif_leads(metadata: dict) -> list[tuple[str, str]]:
    """(label, value) of each EXIF lead the scan recorded for an image (desktop.media.metadata)."""
    leads = []
    if metadata.get("date_taken"):
        leads.append(("EXIF date taken (camera clock)", str(metadata["date_taken"])))
    camera = " ".join(str(metadata[k]) for k in ("make", "model") if metadata.get(k))
    if camera:
        leads.append(("EXIF camera", camera))
    if metadata.get("gps_latitude") is not None and metadata.get("gps_longitude") is not None:
        leads.append(("EXIF GPS position", f"{metadata['gps_latitude']:.6f}, "
                                           f"{metadata['gps_longitude']:.6f}"))
    return leads


def boxed_context(thumbnail: Path | None, box: list[float], width: int | None,
                  height: int | None) -> bytes | None:
    """The context picture (JPEG, at most CONTEXT_MAX pixels) with the face's box drawn in
    BOX_COLOUR; `box` is in the pixels of the width x height original. None when unreadable."""
    if thumbnail is None:
        return None
    try:
        with Image.open(thumbnail) as opened:
            image = opened.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        log.warning("context picture %s not embedded: %s", thumbnail, exc)
        return None
    image.thumbnail((CONTEXT_MAX, CONTEXT_MAX))
    if width and height:
        sx, sy = image.width / width, image.height / height
        line = max(4, round(max(image.size) / 80))  # still 4 px when shown at half size
        x1, y1, x2, y2 = box[:4]
        ImageDraw.Draw(image).rectangle(
            (x1 * sx - line, y1 * sy - line, x2 * sx + line, y2 * sy + line),
            outline=BOX_COLOUR, width=line)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, subsampling=0)  # no chroma blur of the box's edge
    return out.getvalue()
