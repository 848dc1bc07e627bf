"""Searching a case by a photo the investigator brings: its faces are found with the case's
pack in the background; where it shows several, the face picker (as in the Gallery) asks
which one; a photo without a face, or that cannot be read, is refused with its name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from desktop.engine.types import Face, ImageResult
from desktop.gallery.enrol import NeedsChoice, Refused, choose_face
from desktop.ui import people_data
from desktop.ui.dialogs import show_failure
from desktop.ui.face_picker import FacePicker
from desktop.ui.tasks import Failure, TaskRunner

TITLE = "Search not done"


class PhotoProbe(QObject):
    found = Signal(object)  # the chosen face's embedding (np.ndarray)
    ended = Signal()  # found, refused, failed or cancelled

    def __init__(self, parent: QWidget, tasks: TaskRunner, photo: Path, pack_id: str,
                 provider: str) -> None:
        super().__init__(parent)
        self.parent_widget, self.tasks = parent, tasks
        self.photo, self.pack_id, self.provider = Path(photo), pack_id, provider
        self.picker: FacePicker | None = None

    def start(self) -> None:
        photo, pack_id, provider = self.photo, self.pack_id, self.provider
        self.tasks.start("find the faces of a photo",
                         lambda control: people_data.photo_faces(pack_id, provider, photo, control),
                         on_success=self._analysed, on_failure=self._failed)

    def _analysed(self, result: ImageResult) -> None:
        face = choose_face(result, None)
        if isinstance(face, NeedsChoice):
            self.picker = FacePicker(self.photo, result.faces, self.parent_widget)
            self.picker.setWindowTitle("Which face to search for?")
            self.picker.finished.connect(lambda _code: self._picked(result))
            self.picker.open()
            return
        if isinstance(face, Refused):
            self._failed(Failure(f"{self.photo.name}: {face.reason}.",
                                 "Search by a photo needs one readable face in it."))
            return
        self._found(face.embedding)

    def _picked(self, result: ImageResult) -> None:
        picker, self.picker = self.picker, None
        if picker is not None:
            picker.deleteLater()
        chosen = picker.chosen if picker is not None else None
        face = choose_face(result, chosen) if chosen is not None else None
        if not isinstance(face, Face):  # cancelled: nothing searched
            self.ended.emit()
            return
        self._found(face.embedding)

    def _found(self, vector: np.ndarray) -> None:
        self.found.emit(vector)
        self.ended.emit()

    def _failed(self, failure: Failure) -> None:
        show_failure(self.parent_widget, failure, TITLE)
        self.ended.emit()
