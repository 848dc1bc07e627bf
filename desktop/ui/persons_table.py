"""The persons list of the Gallery page: the model behind a search filter, lazy thumbnails,
and the person under the cursor (where photos are dropped)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QPoint, QSize, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QTableView, QWidget

from desktop.ui.persons_model import PERSON_ID_ROLE, PersonFilter, PersonsModel
from desktop.ui.thumbnails import ThumbnailLoader

ROW_SIDE = 44
NAME_CHARS = 12  # the Name column never gets narrower than this many wide characters
TEXT_CHARS = 15  # case reference and last seen are cut (…) beyond this; the details show all


class PersonsTable(QTableView):
    def __init__(self, photo_of: Callable[[int], Path | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("personsTable")
        self.thumbnails = ThumbnailLoader(ROW_SIDE, parent=self)
        self.persons = PersonsModel(self.thumbnails, photo_of)
        self.filter = PersonFilter()
        self.filter.setSourceModel(self.persons)
        self.setModel(self.filter)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the gallery's own order: by name
        self.setIconSize(self.thumbnails.size)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setDefaultSectionSize(ROW_SIDE + 6)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

    def sizeHintForColumn(self, column: int) -> int:
        """Case reference and last seen fit their text up to TEXT_CHARS: a long place never
        squeezes the names."""
        hint = super().sizeHintForColumn(column)
        if column in (1, 4):
            return min(hint, self.fontMetrics().horizontalAdvance("M" * TEXT_CHARS))
        return hint

    def name_width(self) -> int:
        """The least width of the Name column: thumbnail and NAME_CHARS wide characters."""
        margin = self.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, self)
        return (self.iconSize().width() + self.fontMetrics().horizontalAdvance("M" * NAME_CHARS)
                + 4 * (margin + 1))

    def minimumSizeHint(self) -> QSize:
        """Wide enough for a readable Name column beside the other columns, so a splitter
        never squeezes the names to "…"."""
        others = sum(max(self.sizeHintForColumn(c), self.horizontalHeader().sectionSizeHint(c))
                     for c in range(1, self.model().columnCount()))
        width = (self.name_width() + others + self.verticalScrollBar().sizeHint().width()
                 + 2 * self.frameWidth())
        return QSize(width, super().minimumSizeHint().height())

    def set_persons(self, persons: list[dict]) -> None:
        """New rows, keeping the selected person selected when they are still there."""
        chosen = self.selected_person_id()
        self.persons.set_persons(persons)
        self.updateGeometry()  # the least width follows the widest case reference
        if chosen is None or not self.select_person(chosen):
            self.clearSelection()

    def selected_person_id(self) -> int | None:
        rows = self.selectionModel().selectedRows()
        return rows[0].data(PERSON_ID_ROLE) if rows else None

    def select_person(self, person_id: int) -> bool:
        source_row = self.persons.row_of(person_id)
        if source_row is None:
            return False
        index = self.filter.mapFromSource(self.persons.index(source_row, 0))
        if not index.isValid():
            return False
        self.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.scrollTo(index)
        return True

    def person_at(self, point: QPoint, widget: QWidget) -> int | None:
        """The person whose row is under `point` (in `widget`'s coordinates), if any."""
        at = self.viewport().mapFrom(widget, point)
        if not self.viewport().rect().contains(at):
            return None
        index = self.indexAt(at)
        return index.data(PERSON_ID_ROLE) if index.isValid() else None

    def visible_names(self) -> list[str]:
        return [self.filter.index(row, 0).data() for row in range(self.filter.rowCount())]
