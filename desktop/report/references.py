"""What the gallery says beside each hit of a report: the reference photo the face was matched
against and the missing person's case data, from the gallery the case is bound to (its id,
not just its path), or a plain statement of why they cannot be shown.

A person's score is the best over their reference photos (desktop.match.persons), so the photo
shown is the one whose embedding under the hit's pack is closest to the face (or the video
track) found. Its face is cut from the gallery's own copy of the photo (never the original,
never the evidence) and kept in the case folder's `refs/`, named by the photo's SHA-256 and id.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from desktop.errors import HomewardError
from desktop.fileio import write_atomically
from desktop.gallery.fields import PersonFields
from desktop.gallery.gallery import Gallery
from desktop.scan.case import CaseInfo

SIDE = 240  # pixels, the longer side of a reference face


@dataclass(frozen=True)
class Probe:
    """A hit as the gallery side of a report needs it: who, under which pack, which face."""

    hit_id: int
    person_id: int
    pack_id: str
    vector: np.ndarray  # the face's embedding, or the video track's template


@dataclass(frozen=True)
class Reference:
    photo: Path | None  # a face crop of the reference photo, in the case's refs/
    note: str  # why there is no photo; empty when there is one
    photo_id: int | None = None  # the gallery's photo id
    of_photos: int = 0  # how many reference photos the person has
    similarity: float | None = None  # of the face to this photo, as the scan scored it


@dataclass(frozen=True)
class GallerySide:
    references: dict[int, Reference]  # by hit id
    people: dict[int, PersonFields]  # case data by person id, as the gallery holds it now
    note: str  # why there are no case data, when so


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


def _reference(gallery: Gallery, probe: Probe, photos: list[dict], folder: Path,
               embeddings: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Reference:
    if not photos:
        return Reference(None, "not available: the person has no reference photo in the "
                               "gallery any more")
    person_ids, photo_ids, vectors = embeddings
    mine = person_ids == probe.person_id
    if not mine.any() or vectors.shape[1] != len(probe.vector):
        return Reference(_face(gallery, photos[0], folder), "", photos[0]["id"], len(photos))
    scores = vectors[mine] @ probe.vector
    best = int(np.argmax(scores))
    photo = next(p for p in photos if p["id"] == int(photo_ids[mine][best]))
    return Reference(_face(gallery, photo, folder), "", photo["id"], len(photos),
                     float(scores[best]))


def gallery_side(info: CaseInfo, case_folder: Path, probes: list[Probe]) -> GallerySide:
    """The reference photo of each hit and the case data of each person named by one."""
    person_ids = {p.person_id for p in probes}

    def none(note: str) -> GallerySide:
        return GallerySide({p.hit_id: Reference(None, note) for p in probes}, {}, note)

    if not probes:
        return GallerySide({}, {}, "")
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
        known = {p["id"] for p in gallery.persons()}
        people = {p: gallery.person_fields(p) for p in person_ids if p in known}
        photos = {p: gallery.photos(p) if p in known else [] for p in person_ids}
        embeddings = {pack: gallery.embeddings(pack) for pack in {p.pack_id for p in probes}}
        refs = {p.hit_id: _reference(gallery, p, photos[p.person_id], case_folder,
                                     embeddings[p.pack_id]) for p in probes}
        return GallerySide(refs, people, "")
    finally:
        gallery.close()
