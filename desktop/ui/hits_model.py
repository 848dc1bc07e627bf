"""The review queue as a Qt table model and view, fit for 100,000 hits.

The rows are the review package's item dicts, held as a list: data() is a list index and a
dict lookup, with no database access and no per-row widget. The face column's picture comes
from a ThumbnailLoader, asked only for the rows a view paints; when one arrives, only the
rows that asked for it are repainted.

Filtering is not done here: the page reads the whole queue once, in the background (about
2 s for 100,000 hits, mostly SQLite), and filters that list with the review package's own
`filter_items`, then hands the result to `set_items`. A QSortFilterProxyModel would restate
the filter rules in the UI and call Python once per row on every change. Sorting by a column
(a header click) reorders the list itself and moves the views' persistent indexes with their
hits, so a selection follows its hits; the chosen sort holds across new `set_items`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from desktop.match.hits import SAME_PERSON_TWICE
from desktop.review.calibrated import fmr_text
from desktop.ui.plain import plain_tooltip
from desktop.ui.thumbnails import CropRequests, ThumbnailLoader

Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("Face", "Score", "FMR", "Rank", "Person", "Status", "File", "Time", "Flags")
FACE, SCORE, FMR, RANK, PERSON, STATUS, FILE, TIME, FLAGS = range(len(COLUMNS))
HIT_ID_ROLE = Qt.ItemDataRole.UserRole + 1
FLAG_LABELS = {SAME_PERSON_TWICE: "twice in image"}
STATUS_COLORS = {"confirm": "#1e7d32", "reject": "#b3261e", "unsure": "#b06000"}


def when(item: dict) -> str:
    """Where in a video the face is ('12.5 s, frame 312'); empty for a photo."""
    if item.get("timestamp") is None:
        return ""
    frame = f", frame {item['frame']}" if item.get("frame") is not None else ""
    return f"{item['timestamp']:.1f} s{frame}"


SORT_KEYS = {  # None sorts last in either order: (missing, value)
    FACE: lambda h: (False, h["face_id"]), SCORE: lambda h: (False, h["score"]),
    FMR: lambda h: (h.get("fmr_estimate") is None, h.get("fmr_estimate") or 0.0),
    RANK: lambda h: (False, h["rank"]), PERSON: lambda h: (False, h["person_name"].casefold()),
    STATUS: lambda h: (False, h["status"]), FILE: lambda h: (False, (h.get("path") or "").casefold()),
    TIME: lambda h: (h.get("timestamp") is None, h.get("timestamp") or 0.0),
    FLAGS: lambda h: (False, len(h.get("flags") or ())),
}


def _display(item: dict, column: int) -> str:
    if column == SCORE:
        return f"{item['score']:.3f}"
    if column == FMR:
        return fmr_text(item.get("fmr_estimate"))
    if column == RANK:
        return str(item["rank"])
    if column == PERSON:
        return item["person_name"]
    if column == STATUS:
        return item["status"]
    if column == FILE:
        return item.get("path") or ""
    if column == TIME:
        return when(item)
    if column == FLAGS:
        return ", ".join(FLAG_LABELS.get(f, f) for f in item.get("flags") or ())
    return ""


class HitsModel(QAbstractTableModel):
    def __init__(self, thumbnails: ThumbnailLoader | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[dict] = []
        self._queue: list[dict] = []  # the items in the order given, for "no sort"
        self._rows: dict[int, int] = {}  # hit id -> row
        self._folder: Path | None = None
        self._sort: tuple[int, Qt.SortOrder] | None = None  # None: the queue's own order
        self.crops = CropRequests(thumbnails, self._repaint)

    # --- content -----------------------------------------------------------------------------

    def set_items(self, items: list[dict], case_folder: Path | None) -> None:
        """Show these items (already filtered and ordered by the review package)."""
        self.beginResetModel()
        self._queue = items
        self._items = self._sorted(items)
        self._rows = {item["hit_id"]: row for row, item in enumerate(self._items)}
        self._folder = case_folder
        self.crops.clear()
        self.endResetModel()

    def items(self) -> list[dict]:
        return self._items

    def item(self, row: int) -> dict | None:
        return self._items[row] if 0 <= row < len(self._items) else None

    def row_of(self, hit_id: int) -> int | None:
        return self._rows.get(hit_id)

    def refresh(self, hit_ids: list[int]) -> None:
        """Repaint the rows of these hits (their item dicts were updated in place)."""
        last = len(COLUMNS) - 1
        for hit_id in hit_ids:
            row = self._rows.get(hit_id)
            if row is not None:
                self.dataChanged.emit(self.index(row, 0), self.index(row, last))

    def _sorted(self, items: list[dict]) -> list[dict]:
        if self._sort is None:
            return items
        column, order = self._sort
        key = SORT_KEYS[column]
        if order == Qt.SortOrder.AscendingOrder:
            return sorted(items, key=lambda h: (key(h), h["hit_id"]))
        # Descending, with missing values still last and ties by hit id.
        return sorted(items, key=lambda h: (not key(h)[0], key(h)[1], -h["hit_id"]), reverse=True)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Reorder by `column` (-1: the queue's own order); the views' selection and current
        row stay on their hits."""
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        hit_ids = [self._items[index.row()]["hit_id"] for index in before]
        self._sort = (column, order) if column in SORT_KEYS else None
        self._items = self._sorted(self._queue)
        self._rows = {item["hit_id"]: row for row, item in enumerate(self._items)}
        self.changePersistentIndexList(
            before, [self.index(self._rows[hit_id], index.column())
                     for index, hit_id in zip(before, hit_ids, strict=True)])
        self.layoutChanged.emit()

    # --- QAbstractTableModel -----------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self._items[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(item, column)
        if role == Qt.ItemDataRole.DecorationRole and column == FACE:
            return self._face(item)
        if role == Qt.ItemDataRole.ForegroundRole and column == STATUS:
            color = STATUS_COLORS.get(item["status"])
            return QBrush(QColor(color)) if color else None
        if role == Qt.ItemDataRole.ToolTipRole and column in (FILE, FLAGS):
            lines = item.get("paths" if column == FILE else "flags")
            return plain_tooltip("\n".join(lines)) if lines else None
        if role == Qt.ItemDataRole.ToolTipRole and column == FMR:
            return ("False-match rate: how often an impostor scores this high, by the pack's "
                    "calibration (an upper bound); 'uncalibrated': the pack has none")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (SCORE, RANK):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == HIT_ID_ROLE:
            return item["hit_id"]
        return None

    def _face(self, item: dict) -> Any:
        return self.crops.pixmap(self._folder, item.get("crop"), item["hit_id"])

    def _repaint(self, hit_id: int) -> None:
        row = self._rows.get(hit_id)
        if row is not None:
            self.dataChanged.emit(self.index(row, FACE), self.index(row, FACE),
                                  [Qt.ItemDataRole.DecorationRole])


class HitsTable(QTableView):
    """A table for the hits model that never measures its rows (fixed height: 100,000 rows
    cost nothing until painted) and selects whole rows: one, or several with Shift and Ctrl
    for a bulk decision. A header click sorts; Home and End go to the first and last row."""

    WIDTHS = (56, 50, 84, 40, 100, 60, 160, 90, 70)

    def __init__(self, model: HitsModel, row_height: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hitsTable")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setIconSize(QSize(row_height - 4, row_height - 4))
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a cut path keeps its file name
        rows = self.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(row_height)
        for column, width in enumerate(self.WIDTHS):
            self.setColumnWidth(column, width)
        self.horizontalHeader().setSectionResizeMode(FILE, QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setSectionResizeMode(FACE, QHeaderView.ResizeMode.Fixed)
        self.horizontalHeader().setSortIndicatorShown(True)
        self.horizontalHeader().setSortIndicatorClearable(True)
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.horizontalHeader().setSectionsClickable(True)
        self.horizontalHeader().sortIndicatorChanged.connect(model.sort)

    def moveCursor(self, action: QAbstractItemView.CursorAction,
                   modifiers: Qt.KeyboardModifier) -> QModelIndex:
        """Home and End move between rows (a table's default moves between columns)."""
        rows = self.model().rowCount()
        if rows and action == QAbstractItemView.CursorAction.MoveHome:
            return self.model().index(0, max(0, self.currentIndex().column()))
        if rows and action == QAbstractItemView.CursorAction.MoveEnd:
            return self.model().index(rows - 1, max(0, self.currentIndex().column()))
        return super().moveCursor(action, modifiers)
