"""Grids of face tiles for the People page: one tile per cluster, or one per face (a
cluster's faces, or search results with their scores), fit for thousands of tiles.

The review's TileGrid over a list model, so the keys and the selection are the Review page's
(arrows, Home/End, PgUp/PgDn, Shift and Ctrl select several): tiles have one fixed size
(the view never measures them), data() is a list index, and each crop comes from a
ThumbnailLoader, asked only for the tiles a view paints; an arriving crop repaints only the
tiles that asked.
Names and paths are shown as typed: the view draws display text plain, tooltips are escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPixmap
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem, QWidget

from desktop.people.case_people import Cluster, ClusterFace
from desktop.ui.people_data import FaceImages, best_face
from desktop.ui.plain import plain_tooltip
from desktop.ui.review_grid import TileGrid
from desktop.ui.thumbnails import CropRequests, ThumbnailLoader

Index = QModelIndex | QPersistentModelIndex
CLUSTER_ID_ROLE = Qt.ItemDataRole.UserRole + 1
FACE_ID_ROLE = Qt.ItemDataRole.UserRole + 2
ICON_SIDE = 96
TILE_WIDTH = 160
IRRELEVANT = "#9e9e9e"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class ClusterTile:
    cluster: Cluster
    face: ClusterFace  # the face it is shown by
    crop: str | None
    faces: int
    files: int  # distinct photos
    videos: int  # distinct videos

    @classmethod
    def of(cls, cluster: Cluster, images: dict[int, FaceImages]) -> ClusterTile:
        face = best_face(cluster, images)
        found = images.get(face.face_id)
        photos = {f.path for f in cluster.faces if f.frame is None}
        videos = {f.path for f in cluster.faces if f.frame is not None}
        return cls(cluster, face, found.crop if found else None, len(cluster.faces),
                   len(photos), len(videos))

    @property
    def title(self) -> str:
        if self.cluster.name:
            return self.cluster.name
        if self.cluster.cluster_id is None:
            return "not clustered yet"
        return f"cluster {self.cluster.cluster_id}"

    @property
    def counts(self) -> str:
        parts = [_plural(self.faces, "face"), _plural(self.files, "photo")]
        if self.videos:
            parts.append(_plural(self.videos, "video"))
        return " · ".join(parts)


@dataclass(frozen=True)
class FaceTile:
    face_id: int
    path: str | None
    frame: int | None
    box: list[float]
    crop: str | None
    cluster_id: int | None
    score: float | None = None  # a search result's similarity to the probe

    @property
    def where(self) -> str:
        name = Path(self.path).name if self.path else "(no file)"
        return name if self.frame is None else f"{name} · frame {self.frame}"

    @property
    def detail(self) -> str:
        lines = [f"face {self.face_id}"
                 + (f" · cluster {self.cluster_id}" if self.cluster_id is not None else "")
                 + (f" · score {self.score:.3f}" if self.score is not None else ""),
                 self.path or "(no file)"]
        if self.frame is not None:
            lines.append(f"frame {self.frame}")
        return "\n".join(lines)


class _TileModel(QAbstractListModel):
    """Tiles with a lazily loaded crop each; subclasses say what a tile shows."""

    def __init__(self, thumbnails: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder: Path | None = None
        self._tiles: list = []
        self._blank = QPixmap()
        self.crops = CropRequests(thumbnails, self._repaint)

    def set_tiles(self, tiles: list, folder: Path | None) -> None:
        self.beginResetModel()
        self._tiles, self.folder = tiles, folder
        self.crops.clear()
        self.endResetModel()

    def tile(self, row: int) -> Any:
        return self._tiles[row] if 0 <= row < len(self._tiles) else None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._tiles)

    def _crop(self, row: int, crop: str | None) -> QPixmap:
        pixmap = self.crops.pixmap(self.folder, crop, row)
        if pixmap is None or pixmap.isNull():  # a blank of the icon's size keeps the text still
            if self._blank.isNull():
                self._blank = QPixmap(ICON_SIDE, ICON_SIDE)
                self._blank.fill(QColor("#dddddd"))
            return self._blank
        return pixmap

    def _repaint(self, row: int) -> None:
        if row < len(self._tiles):
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class ClusterModel(_TileModel):
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        tile: ClusterTile = self._tiles[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{tile.title}\n{tile.counts}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self._crop(index.row(), tile.crop)
        if role == Qt.ItemDataRole.ToolTipRole:
            marked = "\nmarked irrelevant" if tile.cluster.irrelevant else ""
            return plain_tooltip(f"{tile.title}\n{tile.counts}{marked}")
        if role == Qt.ItemDataRole.ForegroundRole and tile.cluster.irrelevant:
            return QBrush(QColor(IRRELEVANT))
        if role == CLUSTER_ID_ROLE:
            return tile.cluster.cluster_id
        if role == FACE_ID_ROLE:
            return tile.face.face_id
        return None


class FaceModel(_TileModel):
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        tile: FaceTile = self._tiles[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return tile.where if tile.score is None else f"{tile.score:.3f}\n{tile.where}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self._crop(index.row(), tile.crop)
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(tile.detail)
        if role == CLUSTER_ID_ROLE:
            return tile.cluster_id
        if role == FACE_ID_ROLE:
            return tile.face_id
        return None


class _TileDelegate(QStyledItemDelegate):
    """Every tile's picture slot one size, whatever the crop's shape: the slot's width bounds
    the text's in icon mode, so "12 faces · 5 photos" is not cut to the face's width."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:
        super().initStyleOption(option, index)
        option.decorationSize = QSize(TILE_WIDTH, ICON_SIDE)


class PeopleGrid(TileGrid):
    """The review's grid with the People page's tiles: wide enough for "12 faces · 5 photos",
    file names elided in the middle, and a context menu."""

    def __init__(self, model: _TileModel, name: str, parent: QWidget | None = None) -> None:
        super().__init__(model, ICON_SIDE, parent)
        self.setObjectName(name)
        self.setItemDelegate(_TileDelegate(self))
        self.setGridSize(QSize(TILE_WIDTH + 12, ICON_SIDE + 48))
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setDragEnabled(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def selected_rows(self) -> list[int]:
        """The selected tiles, in order; the current one when nothing is selected."""
        rows = sorted({index.row() for index in self.selectionModel().selectedIndexes()})
        if not rows and self.currentIndex().isValid():
            rows = [self.currentIndex().row()]
        return rows
