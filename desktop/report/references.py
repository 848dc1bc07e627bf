"""The gallery's reference photo beside each hit of a report: from the gallery the case is
bound to (its id, not just its path), or a plain statement of why it cannot be shown.

The face is cut from the gallery's own copy of the photo (never the original, never the
evidence) and kept in the case folder's `refs/`, named by the photo's SHA-256 and id.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from desktop.errors import HomewardError
from desktop.fileio import write_atomically
from desktop.gallery.gallery import Gallery
from desktop.scan.case import CaseInfo

SIDE = 240  # pixels, the longer side of a reference face


@dataclass(frozen=True)
class Reference:
    photo: Path | None
    note: str  # why there is no photo; empty when there is one


def _face(gallery: Gallery, photo: dict, folder: Path) -> Path:
    target = folder / "refs" / f"{photo['sha256'][:32]}-{photo['id']}.jpg"
    if target.exists():
        return target
    x1, y1, x2, y2 = photo["face_box"]
    margin = 0.25 * max(x2 - x1, y2 - y1)
    with Image.open(gallery.stored_path(photo)) as image:
        face = image.convert("RGB").crop((max(0, x1 - margin), max(0, y1 - margin),
                                          min(image.width, x2 + margin),
                                          min(image.height, y2 + margin)))
    face.thumbnail((SIDE, SIDE))
    out = io.BytesIO()
    face.save(out, "JPEG", quality=90)
    target.parent.mkdir(exist_ok=True)
    write_atomically(target, out.getvalue(), durable=False)
    return target


def references(info: CaseInfo, case_folder: Path, person_ids: set[int]) -> dict[int, Reference]:
    """One reference per gallery person named by a hit."""
    def none(note: str) -> dict[int, Reference]:
        return {p: Reference(None, note) for p in person_ids}

    if not person_ids:
        return {}
    if not info.gallery or not Path(info.gallery).is_file():
        return none(f"not available: the case's gallery {info.gallery or '(none)'} is missing")
    try:
        gallery = Gallery.open(Path(info.gallery))
    except HomewardError as exc:
        return none(f"not available: the case's gallery cannot be opened ({exc})")
    try:
        if info.gallery_id not in (None, gallery.identity):
            return none(f"not available: {info.gallery} is no longer the gallery this case was "
                        "matched against")
        found = {}
        for person in person_ids:
            photos = gallery.photos(person)
            found[person] = (Reference(_face(gallery, photos[0], case_folder), "") if photos
                             else Reference(None, "not available: the person has no reference "
                                                  "photo in the gallery any more"))
        return found
    finally:
        gallery.close()
