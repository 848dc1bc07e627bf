"""Faces as tiles: the review queue grouped by probe face, one tile per face ("3 candidates"
when it resembles several gallery persons), for a reviewer who works by eye.

TileGrid is the reusable part (the People page shows its clusters and faces with it): a list view
in icon mode with uniform tiles, so 100,000 tiles are laid out without measuring any; the
arrows, Home/End and PgUp/PgDn move between tiles, Shift and Ctrl select several. Its model
is any list model giving a DisplayRole caption and a DecorationRole picture; FaceTilesModel
is the review's, fed with the review package's `group_by_face` and asking a ThumbnailLoader
only for the tiles a view paints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from desktop.review.calibrated import fmr_text
from desktop.review.queue import FaceGroup
from desktop.ui.hits_model import STATUS_COLORS
from desktop.ui.plain import plain_tooltip
from desktop.ui.thumbnails import CropRequests, ThumbnailLoader

Index = QModelIndex | QPersistentModelIndex
TILE_SIDE = 112  # the face picture; the caption's two lines go below it
CAPTION_HEIGHT = 40


class FaceTilesModel(QAbstractListModel):
    """One row per probe face; a decision on a tile is a decision on its lead hit."""

    def __init__(self, thumbnails: ThumbnailLoader | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._groups: list[FaceGroup] = []
        self._rows: dict[int, int] = {}  # hit id -> row of its face
        self._folder: Path | None = None
        self.crops = CropRequests(thumbnails, self._repaint)

    def set_groups(self, groups: list[FaceGroup], case_folder: Path | None) -> None:
        self.beginResetModel()
        self._groups = groups
        self._rows = {hit["hit_id"]: row for row, group in enumerate(groups) for hit in group.hits}
        self._folder = case_folder
        self.crops.clear()
        self.endResetModel()

    def group(self, row: int) -> FaceGroup | None:
        return self._groups[row] if 0 <= row < len(self._groups) else None

    def row_of(self, hit_id: int) -> int | None:
        """The row of the face this hit is a candidate of."""
        return self._rows.get(hit_id)

    def refresh(self, hit_ids: list[int]) -> None:
        """Repaint the tiles of these hits (their item dicts were updated in place)."""
        for row in {self._rows[h] for h in hit_ids if h in self._rows}:
            self.dataChanged.emit(self.index(row), self.index(row))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._groups)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        group = self._groups[index.row()]
        lead = group.lead
        if role == Qt.ItemDataRole.DisplayRole:
            more = len(group.hits)
            return (f"{lead['person_name']} {lead['score']:.2f}\n{lead['status']}"
                    + (f" · {more} candidates" if more > 1 else ""))
        if role == Qt.ItemDataRole.DecorationRole:
            return self._face(index.row(), lead)
        if role == Qt.ItemDataRole.SizeHintRole:  # the same for every tile, loaded or not
            return QSize(TILE_SIDE + 24, TILE_SIDE + CAPTION_HEIGHT)
        if role == Qt.ItemDataRole.ForegroundRole:
            color = STATUS_COLORS.get(lead["status"])
            return QBrush(QColor(color)) if color else None
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"hit {lead['hit_id']} · {lead.get('path') or ''}"]
            lines += [f"#{h['rank']} {h['person_name']} {h['score']:.3f} "
                      f"({fmr_text(h.get('fmr_estimate'))}) · {h['status']}" for h in group.ranked()]
            return plain_tooltip("\n".join(lines))
        return None

    def _face(self, row: int, item: dict) -> Any:
        return self.crops.pixmap(self._folder, item.get("crop"), row)

    def _repaint(self, row: int) -> None:
        if row < len(self._groups):
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class TileGrid(QListView):
    """Uniform tiles that wrap with the width; keyboard navigation and Shift/Ctrl selection
    are the list view's own."""

    def __init__(self, model: QAbstractListModel, side: int = TILE_SIDE,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setWrapping(True)
        self.setUniformItemSizes(True)  # no tile is measured: 100,000 cost nothing until painted
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(5000)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setIconSize(QSize(side, side))
        self.setGridSize(QSize(side + 32, side + CAPTION_HEIGHT + 8))
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setSpacing(4)
