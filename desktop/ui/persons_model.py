"""The gallery's persons as a Qt table model, with a search filter.

Rows come from `Gallery.persons()` in one query; a row's thumbnail (its first reference
photo) is looked up and loaded only when a view asks for it, so a gallery of 10,000
persons opens at once and reads only the photos on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from desktop.ui.plain import plain_tooltip
from desktop.ui.thumbnails import ThumbnailLoader

COLUMNS = ("Name", "Case ref", "Photos", "Faces", "Last seen")
PERSON_ID_ROLE = Qt.ItemDataRole.UserRole
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1

Index = QModelIndex | QPersistentModelIndex


def last_seen(person: dict) -> str:
    return ", ".join(str(v) for v in (person["last_seen_date"], person["last_seen_place"]) if v)


def search_text(person: dict) -> str:
    """What the search box matches: name, aliases and case reference."""
    return "\n".join([person["name"], *person["aliases"], person["case_ref"] or ""]).casefold()


class PersonsModel(QAbstractTableModel):
    """One row per person; `photo_of(person_id)` names the photo to show as its thumbnail."""

    def __init__(self, thumbnails: ThumbnailLoader,
                 photo_of: Callable[[int], Path | None]) -> None:
        super().__init__()
        self.thumbnails = thumbnails
        self.photo_of = photo_of
        self._persons: list[dict] = []
        self._photos: dict[int, Path | None] = {}  # person id -> thumbnail photo, once asked
        self._rows_by_photo: dict[str, list[int]] = {}
        thumbnails.ready.connect(self._thumbnail_ready)

    def set_persons(self, persons: list[dict]) -> None:
        self.beginResetModel()
        self._persons = list(persons)
        self._photos.clear()
        self._rows_by_photo.clear()
        self.endResetModel()

    def person(self, row: int) -> dict:
        return self._persons[row]

    def row_of(self, person_id: int) -> int | None:
        return next((i for i, p in enumerate(self._persons) if p["id"] == person_id), None)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._persons)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        person, column = self._persons[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (person["name"], person["case_ref"] or "", person["photos"], person["faces"],
                    last_seen(person))[column]
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self.thumbnails.pixmap(self._photo(index.row()))
        if role == Qt.ItemDataRole.ToolTipRole and person["aliases"]:
            return plain_tooltip("also known as " + "; ".join(person["aliases"]))
        if role == PERSON_ID_ROLE:
            return person["id"]
        if role == SEARCH_ROLE:
            return search_text(person)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _photo(self, row: int) -> Path | None:
        person_id = self._persons[row]["id"]
        if person_id not in self._photos:
            photo = self.photo_of(person_id) if self._persons[row]["photos"] else None
            self._photos[person_id] = photo
            if photo is not None:
                self._rows_by_photo.setdefault(str(photo), []).append(row)
        return self._photos[person_id]

    def _thumbnail_ready(self, path: str) -> None:
        for row in self._rows_by_photo.get(path, []):
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class PersonFilter(QSortFilterProxyModel):
    """Keeps the persons whose name, aliases or case reference contain every typed word."""

    def __init__(self) -> None:
        super().__init__()
        self._words: list[str] = []
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def set_query(self, text: str) -> None:
        words = text.casefold().split()
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+; invalidateRowsFilter is deprecated
            self.beginFilterChange()
            self._words = words
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._words = words
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._words:
            return True
        text = self.sourceModel().index(source_row, 0, source_parent).data(SEARCH_ROLE)
        return all(word in text for word in self._words)
