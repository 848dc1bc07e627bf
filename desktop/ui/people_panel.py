"""The faces side of the People page: a grid of faces (an open cluster, or search results)
with a heading, and the selected face's file and context image with the face outlined."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from desktop.scan.derived import thumbnail_path
from desktop.ui.image_view import Box, ImageView
from desktop.ui.people_data import FaceImages
from desktop.ui.people_grid import FaceModel, FaceTile, PeopleGrid
from desktop.ui.plain import plain_label
from desktop.ui.thumbnails import ThumbnailLoader

FACE_COLOR = "#ff3b30"


class FacesPanel(QWidget):
    def __init__(self, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._images: dict[int, FaceImages] = {}
        self._folder: Path | None = None
        self.contexts = ThumbnailLoader(side=640, capacity=32, parent=self)
        self.contexts.ready.connect(lambda _path: self.show_face())
        self.model = FaceModel(thumbnails, self)
        self.grid = PeopleGrid(self.model, "faceGrid")
        self.grid.selectionModel().currentChanged.connect(lambda *_: self.show_face())
        self.heading = plain_label(wrap=True)  # a cluster's name as typed
        self.heading.setObjectName("peopleHeading")
        self.context = ImageView()
        self.context.setObjectName("peopleContext")
        self.context.setToolTip("The image or video frame the face was found in: "
                                "wheel or + / - zoom, 0 fits, drag pans")
        self.detail = plain_label(wrap=True)  # paths as they are
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.context, 1)
        right_layout.addWidget(self.detail)
        split = QSplitter()
        split.addWidget(self.grid)
        split.addWidget(right)
        split.setSizes([640, 480])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(split, 1)

    def show_faces(self, heading: str, tiles: list[FaceTile], folder: Path | None,
                   images: dict[int, FaceImages], row: int = 0) -> None:
        """These faces, the one at `row` (clamped) current."""
        self._images, self._folder = images, folder
        self.heading.setText(heading)
        self.model.set_tiles(tiles, folder)
        self.grid.setCurrentIndex(self.model.index(min(max(row, 0), len(tiles) - 1)))
        self.show_face()

    def tiles(self) -> list[FaceTile]:
        return [self.model.tile(r) for r in range(self.model.rowCount())]

    def current(self) -> FaceTile | None:
        return self.model.tile(self.grid.currentIndex().row())

    def selected(self) -> list[FaceTile]:
        return [self.model.tile(r) for r in self.grid.selected_rows()]

    def show_face(self) -> None:
        """The current face's file and its context image, the face outlined."""
        face, folder = self.current(), self._folder
        if face is None or folder is None:
            self.detail.setText("")
            self.context.placeholder = "no face selected"
            self.context.show_image(None)
            return
        self.detail.setText(face.detail)
        images = self._images.get(face.face_id)
        path = thumbnail_path(folder, images.thumbnail) if images else None
        pixmap = self.contexts.pixmap(path) if path else QPixmap()
        if pixmap is None or pixmap.isNull():
            self.context.placeholder = ("loading…" if pixmap is None else
                                        "the context image is missing from the case folder")
            self.context.show_image(None)
            return
        scale = pixmap.width() / images.width if images and images.width else 1.0
        self.context.show_image(pixmap.toImage(), [
            Box([float(v) * scale for v in face.box[:4]], f"face {face.face_id}", FACE_COLOR)])
