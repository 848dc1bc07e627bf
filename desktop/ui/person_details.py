"""One person as the investigator checks them: case data, reference photos with the face
that was chosen in each, and the history of every change (who, when, what)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.gallery.fields import LABELS
from desktop.gallery.gallery import Gallery
from desktop.ui.image_view import Box, ImageView
from desktop.ui.plain import plain_label, plain_tooltip
from desktop.ui.thumbnails import ThumbnailLoader, read_scaled

FACE_COLOR = "#34c759"
STRIP_SIDE = 112
PREVIEW_SIDE = 900  # decoded at most this size: a 24-megapixel photo previews quickly
PHOTO_ROLE = Qt.ItemDataRole.UserRole
NO_GALLERY = ("Open a gallery file, or create a new one, with the buttons above. A gallery can "
              "then be filled person by person (Add person…) or at once from a folder with one "
              "sub-folder of photos per person, or from a CSV file (Import…).")
NO_PERSON = ("Select a person to see their case data, reference photos and history.\n\n"
             "Drop photos on a person in the list to add them to that person; drop them here "
             "with nobody selected to start a new person. Where a photo shows several faces "
             "you will be asked which one is the missing person.")


def with_face_box(thumbnail: QPixmap, photo: dict) -> QPixmap:
    """The thumbnail with the chosen face outlined (the box is in full-size pixels)."""
    marked = QPixmap(thumbnail)
    if marked.isNull() or not photo["width"]:
        return marked
    scale = marked.width() / photo["width"]
    x1, y1, x2, y2 = (float(v) * scale for v in photo["face_box"][:4])
    painter = QPainter(marked)
    painter.setPen(QPen(QColor(FACE_COLOR), 2))
    painter.drawRect(QRectF(x1, y1, x2 - x1, y2 - y1))
    painter.end()
    return marked


def when(stamp: str) -> str:
    """A stored UTC timestamp to the second, readable."""
    return stamp[:19].replace("T", " ")


def describe(entry: dict) -> str:
    """A history row in words."""
    details = entry["details"]
    if entry["action"] == "edited":
        return "edited " + "; ".join(f"{LABELS.get(name, name)}: "
                                     f"{old if old is not None else '—'} → "
                                     f"{new if new is not None else '—'}"
                                     for name, (old, new) in details.items())
    if entry["action"] in ("photo added", "photo removed", "photo awaiting a face choice"):
        return f"{entry['action']}: {Path(details.get('original_path', '')).name}"
    return entry["action"]


class PersonDetails(QWidget):
    remove_photo_requested = Signal(int)  # a photo id; the page asks and removes

    def __init__(self, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.gallery: Gallery | None = None
        self.person_id: int | None = None
        self._photos: list[dict] = []
        self.heading = plain_label(wrap=True)  # the person's data as typed, never markup
        self.heading.setObjectName("personName")
        self.heading.setStyleSheet("font-size: 16pt; font-weight: bold;")
        self.values: dict[str, QLabel] = {}
        case_data = QFormLayout()
        for key, label in (("aliases", "Aliases"), ("sex", "Sex"), ("birth_date", "Born"),
                           ("age", "Age"), ("last_seen", "Last seen"), ("case_ref", "Case ref"),
                           ("notes", "Notes"), ("updated_at", "Updated (UTC)")):
            self.values[key] = plain_label(wrap=True)
            self.values[key].setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            case_data.addRow(label, self.values[key])
        self.preview = ImageView()
        self.preview.setObjectName("photoPreview")
        self.preview.placeholder = "no reference photo"
        self.preview.setMinimumSize(200, 160)
        self.strip = QListWidget()
        self.strip.setObjectName("photoStrip")
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setIconSize(QPixmap(STRIP_SIDE, STRIP_SIDE).size())
        self.strip.setFixedHeight(STRIP_SIDE + 34)
        self.strip.setSpacing(4)
        self.strip.setMovement(QListView.Movement.Static)
        self.strip.currentRowChanged.connect(self._preview)
        self.photos_label = QLabel(wordWrap=True)  # never the widest thing in the panel
        self.remove_photo_button = QPushButton("Remove photo…")
        self.remove_photo_button.setEnabled(False)
        self.remove_photo_button.clicked.connect(self._remove_photo_clicked)
        self.history = QTreeWidget()
        self.history.setObjectName("personHistory")
        self.history.setHeaderLabels(["When (UTC)", "Who", "What"])
        self.history.setRootIsDecorated(False)
        self.history.setColumnWidth(0, 150)
        self.history.setColumnWidth(1, 90)
        self.hint = QLabel(wordWrap=True)
        self.hint.setObjectName("galleryHint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.body = QWidget()
        top = QHBoxLayout()
        top.addLayout(case_data, 2)
        top.addWidget(self.preview, 3)
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.addLayout(top, 4)
        photos_row = QHBoxLayout()
        photos_row.addWidget(self.photos_label, 1)
        photos_row.addWidget(self.remove_photo_button)
        body.addLayout(photos_row)
        body.addWidget(self.strip)
        body.addWidget(QLabel("<b>History</b>"))
        body.addWidget(self.history, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.hint, 1)
        layout.addWidget(self.body, 1)
        thumbnails.ready.connect(self._thumbnail_ready)
        self.show_person(None, None)

    def show_person(self, gallery: Gallery | None, person_id: int | None) -> None:
        """Read the person from the GUI thread's gallery and show them (None: nobody)."""
        self.gallery, self.person_id = gallery, person_id
        self.strip.clear()
        self.history.clear()
        nobody = gallery is None or person_id is None
        self.body.setVisible(not nobody)
        self.hint.setVisible(nobody)
        if gallery is None or person_id is None:
            self._photos = []
            self.heading.setText("No gallery open" if gallery is None else "No person selected")
            self.hint.setText(NO_GALLERY if gallery is None else NO_PERSON)
            return
        person = gallery.person(person_id)
        self._photos = gallery.photos(person_id)
        self.heading.setText(person["name"])
        ages = [str(a) for a in (person["age_min"], person["age_max"]) if a is not None]
        shown = {**person, "aliases": "; ".join(person["aliases"]), "age": "–".join(ages),
                 "updated_at": when(person["updated_at"]),
                 "last_seen": ", ".join(str(v) for v in (person["last_seen_date"],
                                                         person["last_seen_place"]) if v)}
        for key, label in self.values.items():
            label.setText(str(shown.get(key) or "—"))
        self.photos_label.setText(f"<b>Reference photos ({len(self._photos)})</b> — the chosen "
                                  "face is outlined; drop image files here to add more")
        for photo in self._photos:
            item = QListWidgetItem(Path(photo["original_path"]).name, self.strip)
            item.setData(PHOTO_ROLE, str(gallery.stored_path(photo)))
            item.setToolTip(plain_tooltip(
                f"{photo['original_path']}\n{photo['width']}×{photo['height']}"
                f"{', taken ' + photo['photo_date'] if photo['photo_date'] else ''}"
                f"\npacks: {', '.join(photo['packs']) or 'none'}"))
            self._set_icon(item, photo)
        for entry in gallery.history(person_id):
            QTreeWidgetItem(self.history, [when(entry["at"]), entry["actor"],
                                           describe(entry)])
        self.preview.setVisible(bool(self._photos))
        if self._photos:
            self.strip.setCurrentRow(0)

    def history_texts(self) -> list[str]:
        return [self.history.topLevelItem(i).text(2) for i in range(self.history.topLevelItemCount())]

    def _set_icon(self, item: QListWidgetItem, photo: dict) -> None:
        pixmap = self.thumbnails.pixmap(item.data(PHOTO_ROLE))
        if pixmap is not None:
            item.setIcon(QIcon(with_face_box(pixmap, photo)))

    def _thumbnail_ready(self, path: str) -> None:
        for row, photo in enumerate(self._photos):
            item = self.strip.item(row)
            if item is not None and item.data(PHOTO_ROLE) == path:
                self._set_icon(item, photo)

    def _remove_photo_clicked(self) -> None:
        row = self.strip.currentRow()
        if 0 <= row < len(self._photos):
            self.remove_photo_requested.emit(self._photos[row]["id"])

    def _preview(self, row: int) -> None:
        self.remove_photo_button.setEnabled(0 <= row < len(self._photos))
        if 0 <= row < len(self._photos) and self.gallery is not None:
            photo = self._photos[row]
            image = read_scaled(self.gallery.stored_path(photo), QSize(PREVIEW_SIDE, PREVIEW_SIDE))
            scale = image.width() / photo["width"] if photo["width"] else 1.0
            box = [float(v) * scale for v in photo["face_box"][:4]]
            self.preview.show_image(image, [Box(box, "", FACE_COLOR)])
