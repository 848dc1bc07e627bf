"""The Gallery page's background work: plain functions over the gallery services, run by
`TaskRunner` on worker threads. No Qt here; each call that writes opens its own connection
(SQLite connections belong to one thread) and closes it, and the page refreshes after.

These are the same calls `homeward gallery add|import|edit|remove` makes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop.engine.types import ImageResult
from desktop.errors import Cancelled
from desktop.gallery import imports
from desktop.gallery.enrol import faces_left_to_right
from desktop.gallery.fields import InvalidField, PersonFields
from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import Analyze, ImportReport, PackInfo, import_rows
from desktop.gallery.sources import rows_from_csv, rows_from_folder
from desktop.scan.analyze import pack_analyzer
from desktop.ui.tasks import TaskControl


@dataclass(frozen=True)
class Engine:
    """Which pack and provider embed new photos (None: the pack store's default pack), and
    how many worker processes a large import uses (None: one per CPU core)."""

    pack_id: str | None
    provider: str = "auto"
    workers: int | None = None


@dataclass(frozen=True)
class Analysed:
    """Photos already run through the engine, kept so the writing step does not redo it."""

    pack: PackInfo
    results: dict[Path, ImageResult]

    def analyze(self, paths: Sequence[Path]) -> Iterator[ImageResult]:
        return (self.results[Path(p)] for p in paths)


def with_progress(analyze: Analyze, control: TaskControl) -> Analyze:
    """The engine's results, reporting (done, total) and stopping before any write on cancel."""

    def run(paths: Sequence[Path]) -> Iterator[ImageResult]:
        total = len(paths)
        control.progress((0, total))
        for done, result in enumerate(analyze(paths), start=1):
            if control.cancel.is_set():
                raise Cancelled("Cancelled; nothing was written.")
            control.progress((done, total))
            yield result

    return run


def analyze_photos(engine: Engine, photos: Sequence[Path], control: TaskControl) -> Analysed:
    """A few photos through the engine, in this process (a single add: no worker start-up)."""
    pack, analyze = pack_analyzer(engine.pack_id, engine.provider, workers=1)
    if not photos:  # case data alone: no engine to start
        return Analysed(pack, {})
    results = {Path(r.path): r for r in with_progress(analyze, control)(list(photos))}
    return Analysed(pack, results)


def add_photos(gallery_path: Path, analysed: Analysed, choices: dict[Path, int | None],
               actor: str, person: PersonFields | None = None,
               person_id: int | None = None) -> ImportReport:
    """`homeward gallery add`, each photo with the face the user chose."""
    gallery = Gallery.open(gallery_path)
    try:
        return imports.add_photos(gallery, list(choices.items()), analysed.analyze,
                                  analysed.pack, actor, person=person, person_id=person_id)
    finally:
        gallery.close()


def choose_pending_face(gallery_path: Path, analysed: Analysed, pending_id: int,
                        face_number: int, actor: str) -> int:
    """`homeward gallery pending --choose`, with face N of the picker (this analysis, left to
    right) as the pending photo's reference face; returns the new photo's id."""
    (result,) = analysed.results.values()
    faces = faces_left_to_right(result.faces)
    if not 1 <= face_number <= len(faces):
        raise InvalidField(f"{Path(result.path).name} has no face {face_number}.")
    gallery = Gallery.open(gallery_path)
    try:
        return imports.store_choice(gallery, pending_id, faces[face_number - 1], analysed.pack,
                                    actor)
    finally:
        gallery.close()


def import_source(gallery_path: Path, source: Path, is_csv: bool, engine: Engine, actor: str,
                  control: TaskControl) -> ImportReport:
    """`homeward gallery import --folder|--csv`: good rows in, bad rows reported."""
    rows, problems = rows_from_csv(source) if is_csv else rows_from_folder(source)
    pack, analyze = pack_analyzer(engine.pack_id, engine.provider, engine.workers)
    gallery = Gallery.open(gallery_path)
    try:
        return import_rows(gallery, rows, with_progress(analyze, control), pack, actor, problems)
    finally:
        gallery.close()


def edit_person(gallery_path: Path, person_id: int, changes: dict[str, object],
                actor: str) -> dict:
    """`homeward gallery edit`: returns {field: [old, new]} of what changed."""
    gallery = Gallery.open(gallery_path)
    try:
        with gallery.writing() as write:
            return write.edit_person(person_id, changes, actor)
    finally:
        gallery.close()


def remove_person(gallery_path: Path, person_id: int, actor: str) -> None:
    """`homeward gallery remove`."""
    gallery = Gallery.open(gallery_path)
    try:
        gallery.remove_person(person_id, actor)
    finally:
        gallery.close()


def remove_photo(gallery_path: Path, photo_id: int, actor: str) -> None:
    """`homeward gallery remove-photo`."""
    gallery = Gallery.open(gallery_path)
    try:
        gallery.remove_photo(photo_id, actor)
    finally:
        gallery.close()
