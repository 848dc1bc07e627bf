"""Choosing which face of a reference photo is the missing person.

The faces are numbered the way `homeward gallery add --face N` numbers them (enrol's left to
right order), so a number said over the phone means the same face in the app and the CLI.
The largest face, most often the subject, is chosen to begin with. Click an entry, or press
1…9; Enter or a double click confirms.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.engine.types import Face
from desktop.gallery.enrol import faces_left_to_right, largest
from desktop.ui.image_view import Box, ImageView, load_image
from desktop.ui.plain import markup

CHOSEN, OTHER = "#34c759", "#ff9500"
DIGITS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(1, 10)}


class FacePicker(QDialog):
    """Opens window-modal over the page; `chosen` is the face number once accepted."""

    def __init__(self, photo: Path, faces: list[Face], parent: QWidget | None = None, *,
                 name: str | None = None) -> None:
        """`name`: the photo's name to show, where `photo` is a store copy named by hash."""
        super().__init__(parent)
        self.setObjectName("facePicker")
        self.setWindowTitle("Which face is the missing person?")
        self.resize(760, 620)
        self.photo = Path(photo)
        self.faces = faces_left_to_right(faces)
        self.chosen: int | None = None
        self.image = load_image(self.photo)
        self.view = ImageView()
        self.view.setMinimumHeight(360)
        self.choices = QListWidget()
        self.choices.setObjectName("faceChoices")
        self.choices.setMaximumHeight(120)
        first = largest(self.faces)
        for number, face in enumerate(self.faces, start=1):
            size = min(face.quality.size_px, 9999)
            QListWidgetItem(f"{number}  —  face {number} from the left "
                            f"({size:.0f} px, detector score {face.detection.det_score:.2f})"
                            + ("  — the largest" if number == first + 1 else ""),
                            self.choices)
        self.choices.installEventFilter(self)
        self.choices.currentRowChanged.connect(self._draw)
        self.choices.itemDoubleClicked.connect(lambda _item: self.accept())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        heading = QLabel(f"<b>{markup(name or self.photo.name)}</b> shows {len(self.faces)} faces. "
                         "Choose the missing person's face (press its number).")
        heading.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(heading)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.choices)
        layout.addWidget(buttons)
        self.choices.setCurrentRow(first)
        self._draw(first)

    def current(self) -> int | None:
        row = self.choices.currentRow()
        return row + 1 if row >= 0 else None

    def pick(self, number: int) -> None:
        """Choose face `number` (from 1, left to right) and close."""
        if 1 <= number <= len(self.faces):
            self.choices.setCurrentRow(number - 1)
            self.accept()

    def accept(self) -> None:
        self.chosen = self.current()
        super().accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in DIGITS:
            self.pick(DIGITS[event.key()])
        else:
            super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Digits pick a face even while the list has the focus (it would search with them)."""
        if (watched is self.choices and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent) and event.key() in DIGITS):
            self.pick(DIGITS[event.key()])
            return True
        return super().eventFilter(watched, event)

    def _draw(self, row: int) -> None:
        self.view.show_image(self.image, [
            Box(face.detection.box, str(number), CHOSEN if number == row + 1 else OTHER)
            for number, face in enumerate(self.faces, start=1)])
