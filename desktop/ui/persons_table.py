"""The persons list of the Gallery page: the model behind a search filter, lazy thumbnails,
and the person under the cursor (where photos are dropped)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from desktop.ui.persons_model import PERSON_ID_ROLE, PersonFilter, PersonsModel
from desktop.ui.thumbnails import ThumbnailLoader

ROW_SIDE = 44


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

    def set_persons(self, persons: list[dict]) -> None:
        """New rows, keeping the selected person selected when they are still there."""
        chosen = self.selected_person_id()
        self.persons.set_persons(persons)
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
