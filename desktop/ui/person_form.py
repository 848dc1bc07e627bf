"""The form for a person's case data, and the add/edit dialog around it.

The form only collects text: `PersonFields` (the same class a CSV import and the CLI use)
decides what is valid, and its message is shown under the form while the dialog stays
open, so nothing typed is lost. Values that are valid but contradict one another (a birth
date outside the age range) are warned about as they are typed, and still saved.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.gallery.fields import SEXES, InvalidField, PersonFields, split_aliases
from desktop.ui.plain import plain_label

IMAGE_FILTER = ("Images (*.jpg *.jpeg *.png *.bmp *.tif *.tiff *.webp *.heic *.heif);;"
                "All files (*)")
DATE_HINT = "YYYY, YYYY-MM or YYYY-MM-DD"


def dropped_files(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    """The local files a drag carries (folders and remote URLs are not photos)."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls()
            if url.isLocalFile() and Path(url.toLocalFile()).is_file()]


class PersonForm(QWidget):
    """Every field of `PersonFields`, as the user types it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLineEdit()
        self.aliases = QLineEdit(placeholderText="separated by ;")
        self.sex = QComboBox()
        self.sex.addItems(["", *SEXES])
        self.birth_date = QLineEdit(placeholderText=DATE_HINT)
        self.age_min = QLineEdit(placeholderText="from")
        self.age_max = QLineEdit(placeholderText="to")
        self.last_seen_date = QLineEdit(placeholderText=DATE_HINT)
        self.last_seen_place = QLineEdit()
        self.case_ref = QLineEdit()
        self.notes = QPlainTextEdit()
        self.notes.setFixedHeight(70)
        ages = QHBoxLayout()
        ages.addWidget(self.age_min)
        ages.addWidget(QLabel("–"))
        ages.addWidget(self.age_max)
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for label, widget in (("&Name", self.name), ("&Aliases", self.aliases),
                              ("&Sex", self.sex), ("&Birth date", self.birth_date),
                              ("Age (years)", ages), ("Last seen &date", self.last_seen_date),
                              ("Last seen &place", self.last_seen_place),
                              ("&Case reference", self.case_ref), ("N&otes", self.notes)):
            layout.addRow(label, widget)

    def set_person(self, person: PersonFields) -> None:
        for name in ("name", "birth_date", "last_seen_date", "last_seen_place", "case_ref"):
            getattr(self, name).setText(getattr(person, name) or "")
        self.aliases.setText("; ".join(person.aliases))
        self.sex.setCurrentText(person.sex or "")
        self.age_min.setText("" if person.age_min is None else str(person.age_min))
        self.age_max.setText("" if person.age_max is None else str(person.age_max))
        self.notes.setPlainText(person.notes or "")

    def person(self) -> PersonFields:
        """The typed values as PersonFields; InvalidField names the first bad field."""
        text = {name: getattr(self, name).text() or None
                for name in ("birth_date", "age_min", "age_max", "last_seen_date",
                             "last_seen_place", "case_ref")}
        return PersonFields(name=self.name.text(), aliases=split_aliases(self.aliases.text()),
                            sex=self.sex.currentText() or None,
                            notes=self.notes.toPlainText() or None, **text)  # type: ignore[arg-type]


class PersonDialog(QDialog):
    """Add a person (case data and photos) or edit one (case data). Accepted only with valid
    fields; `person` and `photos` then hold what to save."""

    def __init__(self, parent: QWidget | None, person: PersonFields | None = None,
                 photos: list[Path] | None = None) -> None:
        super().__init__(parent)
        self.editing = person is not None
        self.setObjectName("editPersonDialog" if self.editing else "addPersonDialog")
        self.setWindowTitle("Edit person" if self.editing else "Add person")
        self.form = PersonForm()
        if person is not None:
            self.form.set_person(person)
        self.error = plain_label(wrap=True)  # a message may quote what was typed
        self.error.setObjectName("formError")
        self.error.setStyleSheet("color: #c62828; font-weight: bold;")
        self.error.hide()
        self.warning = plain_label(wrap=True)
        self.warning.setObjectName("formWarning")
        self.warning.setStyleSheet("color: #b26a00;")
        self.warning.hide()
        for field in (self.form.birth_date, self.form.age_min, self.form.age_max,
                      self.form.last_seen_date):
            field.textChanged.connect(self._check_consistency)
        self.photo_list = QListWidget()
        self.photo_list.setObjectName("formPhotos")
        self.photo_list.setFixedHeight(90)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(
            "Save" if self.editing else "Add")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        if not self.editing:
            layout.addWidget(QLabel("Reference photos (drop image files here; with several "
                                    "faces in a photo you will be asked which one):"))
            layout.addWidget(self.photo_list)
            row = QHBoxLayout()
            for text, slot in (("Add photos…", self._browse), ("Remove photo", self._remove)):
                button = QPushButton(text)
                button.clicked.connect(slot)
                row.addWidget(button)
            row.addStretch(1)
            layout.addLayout(row)
            self.setAcceptDrops(True)
        layout.addWidget(self.error)
        layout.addWidget(self.warning)
        layout.addWidget(self.buttons)
        self.person: PersonFields | None = None
        self.photos: list[Path] = []
        self.add_photos(photos or [])
        self.form.name.setFocus(Qt.FocusReason.OtherFocusReason)

    def add_photos(self, paths: list[Path]) -> None:
        for path in paths:
            if Path(path) not in self.photos:
                self.photos.append(Path(path))
                self.photo_list.addItem(str(path))

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    def _check_consistency(self) -> None:
        """Show what contradicts itself in the typed values (nothing while a value is invalid:
        its error comes when saving)."""
        try:
            warnings = self.form.person().warnings()
        except InvalidField:
            warnings = []
        self.warning.setText("\n".join(f"Warning: {w}" for w in warnings))
        self.warning.setVisible(bool(warnings))

    def accept(self) -> None:
        try:
            self.person = self.form.person()
        except InvalidField as exc:
            self.show_error(exc.message)
            return
        self.error.hide()
        super().accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.add_photos(dropped_files(event))
        event.acceptProposedAction()

    def _browse(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Reference photos", "", IMAGE_FILTER)
        self.add_photos([Path(n) for n in names])

    def _remove(self) -> None:
        row = self.photo_list.currentRow()
        if row >= 0:
            self.photo_list.takeItem(row)
            del self.photos[row]
