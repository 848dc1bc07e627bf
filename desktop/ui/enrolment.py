"""Adding reference photos to a new or existing person, as `homeward gallery add` does, with
the investigator pointing at the face wherever a photo shows several.

Three steps: the engine analyses the photos (background), the face picker asks about each
photo with several faces (GUI), then the photos are written with those choices (background,
reusing the analysis). The import is strict: a photo with no face or that cannot be read
refuses the whole add, and the dialog says which photo and why.

With `pending` the one photo is a pending photo's stored copy: the picker is always shown
(under the photo's original name), and the chosen face resolves that pending photo.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from desktop.gallery.fields import PersonFields
from desktop.gallery.gallery import PendingPhoto
from desktop.ui import gallery_work
from desktop.ui.dialogs import show_failure
from desktop.ui.face_picker import FacePicker
from desktop.ui.gallery_work import Analysed, Engine
from desktop.ui.task_bar import TaskBar
from desktop.ui.tasks import Failure, TaskRunner


class Enrolment(QObject):
    added = Signal(object)  # the ImportReport once written (a pending photo: its new photo id)
    ended = Signal()  # written, refused, failed or cancelled: the page may act again

    def __init__(self, parent: QWidget, tasks: TaskRunner, bar: TaskBar, gallery_path: Path,
                 engine: Engine, actor: str, photos: list[Path], *,
                 person: PersonFields | None = None, person_id: int | None = None,
                 pending: PendingPhoto | None = None) -> None:
        super().__init__(parent)
        self.parent_widget, self.tasks, self.bar = parent, tasks, bar
        self.gallery_path, self.engine, self.actor = gallery_path, engine, actor
        self.photos = [Path(p) for p in photos]
        self.person, self.person_id, self.pending = person, person_id, pending
        self.choices: dict[Path, int | None] = {}
        self.picker: FacePicker | None = None
        self._analysed: Analysed | None = None
        self._to_ask: list[Path] = []

    def start(self) -> None:
        photos = self.photos
        task = self.tasks.start(
            "analyse reference photos",
            lambda control: gallery_work.analyze_photos(self.engine, photos, control),
            on_success=self._analysed_photos, on_failure=self._failed,
            on_progress=self.bar.progressed)
        self.bar.follow(task, f"Finding faces in {len(photos)} photo(s)…")

    def _analysed_photos(self, analysed: Analysed) -> None:
        self._analysed = analysed
        self.choices = dict.fromkeys(self.photos)
        fewest = 1 if self.pending is not None else 2
        self._to_ask = [p for p in self.photos
                        if p in analysed.results and len(analysed.results[p].faces) >= fewest]
        self._ask_next()

    def _ask_next(self) -> None:
        if not self._to_ask:
            self.picker = None
            self._write()
            return
        photo = self._to_ask[0]
        assert self._analysed is not None
        self.bar.follow(None, f"Choose the face in {photo.name}…")
        name = Path(self.pending.original_path).name if self.pending is not None else None
        self.picker = FacePicker(photo, self._analysed.results[photo].faces, self.parent_widget,
                                 name=name)
        self.picker.finished.connect(self._picked)
        self.picker.open()

    def _picked(self, _result: int) -> None:
        picker, photo = self.picker, self._to_ask.pop(0)
        if picker is not None:
            picker.deleteLater()
        if picker is None or picker.chosen is None:  # the user cancelled: nothing is added
            self.bar.finish()
            self.ended.emit()
            return
        self.choices[photo] = picker.chosen
        self._ask_next()

    def _write(self) -> None:
        analysed, choices = self._analysed, dict(self.choices)
        assert analysed is not None
        if self.pending is None:
            def work(_control: object) -> object:
                return gallery_work.add_photos(self.gallery_path, analysed, choices, self.actor,
                                               self.person, self.person_id)
        else:
            (photo,) = self.photos
            face, pending_id = choices.get(photo), self.pending.id
            if face is None:  # this analysis found no face in the stored copy
                self._failed(Failure("Face not chosen.", f"No face was found in {photo.name}."))
                return

            def work(_control: object) -> object:
                return gallery_work.choose_pending_face(self.gallery_path, analysed, pending_id,
                                                        face, self.actor)
        self.tasks.start("add reference photos", work, on_success=self._written,
                         on_failure=self._failed)
        self.bar.follow(None, "Adding to the gallery…")  # one short transaction: no cancel

    def _written(self, report: object) -> None:
        self.bar.finish()
        self.added.emit(report)
        self.ended.emit()

    def _failed(self, failure: Failure) -> None:
        self.bar.finish()
        show_failure(self.parent_widget, failure, "Photos not added")
        self.ended.emit()
