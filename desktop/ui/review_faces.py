"""The faces a reviewer compares: the probe face from the case beside the gallery person's
reference face(s), framed alike, and the context image with the face outlined (zoomable).

Every picture comes through ThumbnailLoaders (decoded off the GUI thread); until one
arrives its slot says "loading…", and its arrival repaints only that slot, so a zoom on the
context image survives a reference photo arriving late.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from desktop.scan.derived import crop_bounds, crop_path, thumbnail_path
from desktop.ui.image_view import Box, ImageView
from desktop.ui.plain import plain_label, plain_tooltip
from desktop.ui.state import AppState
from desktop.ui.thumbnails import ThumbnailLoader

FACE_SIDE = 180
PROBE_COLOR = "#ff3b30"
REFERENCE_SIDE = 1600  # reference photos decoded at most this size: the face stays sharp


@dataclass(frozen=True)
class Reference:
    """A gallery photo of the hit's person and where its face is (full-size pixels)."""

    path: Path
    box: list[float] | None
    width: int


class ReferencePhotos:
    """The case's gallery photos of a person, cached per person. Reference photos are shown
    only from the gallery the case was matched against: person ids mean nothing elsewhere."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._cache: dict[int, list[Reference]] = {}

    def forget(self) -> None:
        self._cache.clear()

    def of(self, person_id: int) -> tuple[list[Reference], str]:
        """The person's references, or none and the reason why."""
        case, gallery = self.state.case, self.state.gallery
        if case is None:
            return [], ""
        wanted = Path(case.info.gallery)
        if gallery is None or gallery.path.resolve() != wanted.resolve():
            why = "is missing" if not wanted.exists() else "is not open"
            return [], (f"The case's gallery {wanted} {why}: reference photos cannot be shown. "
                        "Everything else works.")
        if case.info.gallery_id not in (None, gallery.identity):
            return [], (f"The gallery at {wanted} is no longer the one this case was matched "
                        f"against (it is gallery {gallery.identity}, the case's is "
                        f"{case.info.gallery_id}): reference photos cannot be shown.")
        if person_id not in self._cache:
            self._cache[person_id] = [
                Reference(gallery.stored_path(photo), photo["face_box"], photo["width"])
                for photo in gallery.photos(person_id)]
        if not self._cache[person_id]:
            return [], "This person has no reference photo in the gallery (any more)."
        return self._cache[person_id], ""


def face_of(pixmap: QPixmap, box: list[float] | None, full_width: int) -> QPixmap:
    """The face region of a (possibly scaled) photo, with the margin the case's crops have."""
    if pixmap.isNull() or not box or not full_width:
        return pixmap
    scale = pixmap.width() / full_width
    left, top, right, bottom = crop_bounds([v * scale for v in box], pixmap.width(),
                                           pixmap.height())
    return pixmap.copy(QRect(left, top, right - left, bottom - top))


def _face_label(tooltip: str) -> QLabel:
    label = QLabel()
    label.setFixedSize(FACE_SIDE, FACE_SIDE)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("background: #222; color: #ddd;")
    label.setToolTip(tooltip)
    return label


def _show(label: QLabel, pixmap: QPixmap | None, missing: str = "no image") -> None:
    if pixmap is None:
        label.setPixmap(QPixmap())
        label.setText("loading…")
    elif pixmap.isNull():
        label.setPixmap(QPixmap())
        label.setText(missing)
    else:
        label.setPixmap(pixmap.scaled(label.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation))


class FacesView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.images = ThumbnailLoader(side=640, capacity=64, parent=self)  # crops, context
        self.photos = ThumbnailLoader(side=REFERENCE_SIDE, capacity=12, parent=self)
        self.images.ready.connect(self._arrived)
        self.photos.ready.connect(self._arrived)
        self._item: dict | None = None
        self._folder: Path | None = None
        self._references: list[Reference] = []
        self.probe = _face_label("The face found in the case (crop made by the scan)")
        self.probe_caption = plain_label("Probe")
        self.reference_caption = plain_label("Reference")  # the person's name as typed
        self.reference_caption.setWordWrap(True)
        self.strip = QWidget()
        self.strip_layout = QHBoxLayout(self.strip)
        self.strip_layout.setContentsMargins(0, 0, 0, 0)
        self.strip_layout.addStretch(1)
        self.reference_note = plain_label()  # instead of the strip: why there is no reference
        self.reference_note.setObjectName("referenceNote")
        self.reference_note.setWordWrap(True)
        self.reference_note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.strip_area = strip_area = QScrollArea()
        strip_area.setWidget(self.strip)
        strip_area.setWidgetResizable(True)
        strip_area.setFrameShape(QScrollArea.Shape.NoFrame)
        strip_area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        strip_area.setFixedHeight(FACE_SIDE + strip_area.horizontalScrollBar().sizeHint().height())
        strip_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.context = ImageView()
        self.context.setObjectName("contextView")
        self.context.setMinimumHeight(200)
        self.context.setToolTip("The image or video frame the face was found in: "
                                "wheel or + / - zoom, 0 fits, drag pans")
        probe_box = QVBoxLayout()
        probe_box.addWidget(self.probe_caption)
        probe_box.addWidget(self.probe)
        probe_box.addStretch(1)  # the probe level with the references
        reference_box = QVBoxLayout()
        reference_box.addWidget(self.reference_caption)
        reference_box.addWidget(strip_area)
        reference_box.addWidget(self.reference_note, 1)
        faces = QHBoxLayout()
        faces.addLayout(probe_box)
        faces.addLayout(reference_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(faces)
        layout.addWidget(self.context, 1)

    def clear(self, text: str = "") -> None:
        self._item, self._references = None, []
        self.probe.setPixmap(QPixmap())
        self.probe.setText("")
        self.probe_caption.setText("Probe")
        self._set_references([], text)
        self.context.placeholder = text or "no hit selected"
        self.context.show_image(None)

    def show_hit(self, item: dict, folder: Path, references: list[Reference],
                 reference_note: str) -> None:
        """The hit's faces and context; `reference_note` says why references may be missing."""
        self._item, self._folder = item, folder
        self.probe_caption.setText(f"Probe · hit {item['hit_id']}")
        self._show_probe()
        self._set_references(references, reference_note)
        self.reference_caption.setText(
            f"Reference · {item['person_name']}"
            + (f" ({len(references)} photos)" if len(references) > 1 else ""))
        self._show_context()

    def wait_idle(self) -> None:
        self.images.wait_idle()
        self.photos.wait_idle()

    # --- the three kinds of picture ----------------------------------------------------------

    def _show_probe(self) -> None:
        if self._item is not None and self._folder is not None:
            path = crop_path(self._folder, self._item.get("crop"))
            _show(self.probe, self.images.pixmap(path) if path else QPixmap(), "no crop")

    def _set_references(self, references: list[Reference], note: str) -> None:
        self._references = references
        while self.strip_layout.count() > 1:
            widget = self.strip_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.strip_area.setVisible(bool(references))
        self.reference_note.setVisible(not references)
        self.reference_note.setText(note or "No reference photo of this person in the gallery.")
        for index, reference in enumerate(references):
            label = _face_label(plain_tooltip(f"Gallery photo {reference.path.name}"))
            self.strip_layout.insertWidget(index, label)
            self._show_reference(index)

    def _show_reference(self, index: int) -> None:
        reference = self._references[index]
        label = self.strip_layout.itemAt(index).widget()
        pixmap = self.photos.pixmap(reference.path)
        if isinstance(label, QLabel):
            _show(label, None if pixmap is None else face_of(pixmap, reference.box,
                                                              reference.width), "unreadable")

    def _show_context(self) -> None:
        item, folder = self._item, self._folder
        if item is None or folder is None:
            return
        path = thumbnail_path(folder, item.get("thumbnail"))
        pixmap = self.images.pixmap(path) if path else QPixmap()
        if pixmap is None:
            self.context.placeholder = "loading…"
            self.context.show_image(None)
            return
        self.context.placeholder = "the context image is missing from the case folder"
        if pixmap.isNull():
            self.context.show_image(None)
            return
        scale = pixmap.width() / item["image_width"] if item.get("image_width") else 1.0
        box = [float(v) * scale for v in item["box"][:4]]
        label = f"{item['person_name']} {item['score']:.2f}"
        self.context.show_image(pixmap.toImage(), [Box(box, label, PROBE_COLOR)])

    def _arrived(self, path: str) -> None:
        item, folder = self._item, self._folder
        if item is None or folder is None:
            return
        if path == str(crop_path(folder, item.get("crop"))):
            self._show_probe()
        if path == str(thumbnail_path(folder, item.get("thumbnail"))):
            self._show_context()
        for index, reference in enumerate(self._references):
            if path == str(reference.path):
                self._show_reference(index)
