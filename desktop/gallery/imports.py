"""Adding persons and reference photos: single adds, folder and CSV imports, reindexing.

The engine runs first, outside any transaction; then every good row is written in one
transaction. Bad rows are reported with their reason and the good ones imported; an error
while writing leaves the gallery exactly as it was before the import started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from desktop.engine.types import Face, ImageResult
from desktop.errors import HomewardError
from desktop.gallery.enrol import (
    NeedsChoice,
    Refused,
    choose_face,
    face_record,
    pending_face,
    pending_record,
    photo_record,
    same_face,
)
from desktop.gallery.fields import InvalidField, PersonFields
from desktop.gallery.gallery import Gallery, PendingRecord, PhotoRecord
from desktop.gallery.sources import ImportRow, Problem, rows_for_person
from desktop.hashing import sha256_file
from desktop.media.exif import photo_date

Analyze = Callable[[Sequence[Path]], Iterable[ImageResult]]


@dataclass(frozen=True)
class PackInfo:
    """The pack whose embeddings are written; never mixed with another's."""

    id: str
    model_hashes: dict[str, str]


@dataclass(frozen=True)
class AwaitingFace:
    """A photo kept for the investigator's choice of face; its person was created."""

    where: str
    faces: int


@dataclass
class ImportReport:
    persons_created: list[int] = field(default_factory=list)
    persons_updated: list[int] = field(default_factory=list)
    photos_added: int = 0
    duplicates: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    flagged: list[tuple[str, list[str]]] = field(default_factory=list)  # kept, low quality
    pending: list[AwaitingFace] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # stored, but worth a look

    def to_dict(self) -> dict[str, object]:
        return {"persons_created": len(self.persons_created),
                "persons_updated": len(self.persons_updated),
                "photos_added": self.photos_added, "duplicates": self.duplicates,
                "problems": [{"where": p.where, "reason": p.reason} for p in self.problems],
                "flagged": [{"where": w, "flags": f} for w, f in self.flagged],
                "awaiting_face_choice": [{"where": p.where, "faces": p.faces}
                                         for p in self.pending],
                "warnings": [{"where": w.where, "warning": w.reason} for w in self.warnings]}


@dataclass
class ReindexReport:
    """What reindexing for a pack did: photos embedded now, and those that already were."""

    pack_id: str
    embedded: int = 0
    already_embedded: int = 0
    problems: list[Problem] = field(default_factory=list)


def _analyse(rows: list[ImportRow], analyze: Analyze,
             report: ImportReport) -> dict[Path, tuple[ImageResult, str]]:
    """Engine results and SHA-256 of every photo the rows name (each photo once)."""
    wanted = list(dict.fromkeys(row.photo for row in rows
                                if row.photo is not None and row.photo.is_file()))
    found: dict[Path, tuple[ImageResult, str]] = {}
    for result in analyze(wanted):
        path = Path(result.path)
        try:
            found[path] = (result, sha256_file(path))
        except OSError as exc:
            report.problems.append(Problem(str(path), f"cannot be read: {exc.strerror or exc}"))
    return found


class ImportRefused(HomewardError):
    """A strict import (a single add) had a bad photo, so nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        reasons = "; ".join(f"{p.where}: {p.reason}" for p in report.problems)
        super().__init__("Nothing was added.", reasons)
        self.report = report


def import_rows(gallery: Gallery, rows: list[ImportRow], analyze: Analyze, pack: PackInfo,
                actor: str, problems: Iterable[Problem] = (), *,
                existing: dict[tuple[str, str | None], int] | None = None,
                match_existing: bool = True, strict: bool = False) -> ImportReport:
    """Import rows; rows of one (name, case_ref) are one person. Such a person already in
    the gallery gets the new photos when `match_existing`; `existing` pins keys to persons.
    A person is created with at least one usable photo, one awaiting a face choice, or from a
    row that names no photo (case data alone). `strict`: any problem cancels the whole import
    (a single add)."""
    report = ImportReport(problems=list(problems))
    analysed = _analyse(rows, analyze, report)
    people: dict[tuple[str, str | None], int] = dict(existing or {})
    accepted: list[tuple[ImportRow, PhotoRecord | PendingRecord | None, list[str]]] = []
    seen: set[tuple[tuple[str, str | None], str]] = set()
    for row in rows:
        key = (row.person.name, row.person.case_ref)
        if key not in people and match_existing:
            matches = _existing_person(gallery, *key)
            if matches:
                people[key] = matches[0]
        if row.photo is None:
            accepted.append((row, None, []))
            continue
        if row.photo not in analysed:
            if not any(p.where == str(row.photo) for p in report.problems):
                report.problems.append(Problem(row.where, f"photo {row.photo} not found"))
            continue
        result, sha = analysed[row.photo]
        if (key, sha) in seen or (key in people and gallery.has_photo(people[key], sha)):
            report.duplicates.append(row.where)
            continue
        face = choose_face(result, row.face)
        if isinstance(face, Refused):
            report.problems.append(Problem(row.where, face.reason))
            continue
        seen.add((key, sha))
        date = row.photo_date or photo_date(row.photo)
        if isinstance(face, NeedsChoice):
            accepted.append((row, pending_record(row.photo, sha, result, face, date), []))
            continue
        accepted.append((row, photo_record(row.photo, sha, result, face, date),
                         list(face.quality.flags)))
    if strict and report.problems:
        raise ImportRefused(report)
    with gallery.writing() as write:
        for row, photo, flags in accepted:
            key = (row.person.name, row.person.case_ref)
            if key not in people:
                people[key] = write.add_person(row.person, actor)
                report.persons_created.append(people[key])
                report.warnings.extend(Problem(row.where, w) for w in row.person.warnings())
            elif people[key] not in report.persons_created:
                report.persons_updated.append(people[key])
            if isinstance(photo, PendingRecord):
                write.add_pending(people[key], photo, actor)
                report.pending.append(AwaitingFace(row.where, len(photo.face_boxes)))
            elif photo is not None:
                write.add_photo(people[key], photo, pack.id, pack.model_hashes, actor)
                report.photos_added += 1
                if flags:
                    report.flagged.append((row.where, flags))
    report.persons_updated = sorted(set(report.persons_updated))
    return report


def resolve_pending(gallery: Gallery, pending_id: int, face_number: int, analyze: Analyze,
                    pack: PackInfo, actor: str) -> int:
    """`homeward gallery pending --choose ID --face N`: face N as listed (left to right)
    becomes the reference face of the pending photo; returns the new photo's id."""
    pending = gallery.pending_photo(pending_id)
    result = next(iter(analyze([gallery.store / pending.stored_name])))
    face = pending_face(result, pending, face_number)
    if isinstance(face, Refused):
        raise InvalidField(f"Face not chosen: {pending.original_path} {face.reason}.")
    return store_choice(gallery, pending_id, face, pack, actor)


def store_choice(gallery: Gallery, pending_id: int, face: Face, pack: PackInfo,
                 actor: str) -> int:
    """The face the investigator pointed at (in the engine's result for the stored copy)
    becomes the pending photo's reference face."""
    pending = gallery.pending_photo(pending_id)
    with gallery.writing() as write:
        return write.resolve_pending(pending, face_record(face), pack.id, pack.model_hashes,
                                     actor)


def add_photos(gallery: Gallery, photos: Sequence[tuple[Path, int | None]], analyze: Analyze,
               pack: PackInfo, actor: str, *, person: PersonFields | None = None,
               person_id: int | None = None, photo_date: str | None = None) -> ImportReport:
    """A single add (`homeward gallery add`, the Gallery page): a new `person`, or photos for
    `person_id`, each (photo, face number). Strict: one bad photo and nothing is written."""
    existing: dict[tuple[str, str | None], int] = {}
    if person_id is not None:
        person = gallery.person_fields(person_id)
        existing = {(person.name, person.case_ref): person_id}
    if person is None:
        raise ValueError("add_photos needs a new person's fields or an existing person's id")
    return import_rows(gallery, rows_for_person(person, photos, photo_date), analyze, pack,
                       actor, existing=existing, match_existing=False, strict=True)


def _existing_person(gallery: Gallery, name: str, case_ref: str | None) -> list[int]:
    return [pid for pid in gallery.persons_named(name)
            if gallery.person(pid)["case_ref"] == case_ref]


def reindex(gallery: Gallery, analyze: Analyze, pack: PackInfo) -> ReindexReport:
    """Embed every stored photo that has no embedding of this pack yet. The investigator's
    chosen face is found again by position; nothing existing is changed or removed."""
    photos = gallery.photos()
    todo = [p for p in photos if pack.id not in p["packs"]]
    report = ReindexReport(pack.id, already_embedded=len(photos) - len(todo))
    by_path = {gallery.stored_path(p): p for p in todo}
    results = {Path(r.path): r for r in analyze(list(by_path))}
    with gallery.writing() as write:
        for path, photo in by_path.items():
            result = results.get(path)
            where = f"photo {photo['id']} ({photo['original_path']})"
            if result is None or result.error:
                reason = result.error if result else "stored copy is missing"
                report.problems.append(Problem(where, f"cannot be read: {reason}"))
                continue
            face = same_face(result, photo["face_box"])
            if face is None:
                report.problems.append(Problem(where, f"pack {pack.id} finds no face where "
                                                      "the chosen face is"))
                continue
            write.add_embedding(photo["id"], face_record(face), pack.id, pack.model_hashes)
            report.embedded += 1
    return report
