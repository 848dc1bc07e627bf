"""The evidence of a case as the examiner gathers it: folders and container files (zip, tar,
UFDR, disk images, E01), added by dialog or dropped from a file manager. Each row says what
Homeward recognised the path as, or why it cannot read it, before any case is touched."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.sources.base import SourceError
from desktop.sources.detect import detect_kind
from desktop.ui.plain import plain_tooltip

KIND_NAMES = {"folder": "folder", "zip": "zip", "tar": "tar", "ufdr": "UFDR (Cellebrite)",
              "raw": "raw disk image", "e01": "E01"}

FILE_FILTERS = ";;".join((
    "All files (*)",
    "E01 images (*.E01 *.e01 *.Ex01 *.ex01)",
    "Disk images (*.dd *.raw *.img *.bin *.001 *.iso)",
    "Archives (*.zip *.tar *.tar.gz *.tgz *.tar.bz2 *.tbz2 *.tar.xz *.txz)",
    "Cellebrite UFDR (*.ufdr)",
))


class _Rows(QListWidget):
    """The list itself: Delete (or Backspace) removes the selected rows."""

    delete_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class SourceList(QWidget):
    """Paths of evidence, each shown with the kind `detect_kind` found or its SourceError."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows = _Rows()
        self.rows.setObjectName("sourceList")
        self.rows.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.rows.delete_pressed.connect(self.remove_selected)
        add_folder = QPushButton("Add folder…")
        add_folder.clicked.connect(self._choose_folder)
        add_file = QPushButton("Add file…")
        add_file.clicked.connect(self._choose_files)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        for button in (add_folder, add_file, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.rows, 1)
        layout.addLayout(buttons)
        self.rows.setToolTip(plain_tooltip("Folders and evidence files (zip, tar, UFDR, disk "
                                           "images, E01): add them or drop them here."))
        self.setAcceptDrops(True)  # the list does not take drops: they reach this widget

    def paths(self) -> tuple[Path, ...]:
        return tuple(Path(self.rows.item(row).data(Qt.ItemDataRole.UserRole))
                     for row in range(self.rows.count()))

    def add_paths(self, paths: Iterable[Path | str]) -> None:
        """Each path once, in the order given, with what Homeward makes of it."""
        known = set(self.paths())
        for path in paths:
            path = Path(path).expanduser().absolute()
            if path in known:
                continue
            known.add(path)
            try:
                shown, detail = KIND_NAMES.get(kind := detect_kind(path), kind), None
            except SourceError as exc:
                shown, detail = f"cannot be read: {exc.message}", exc.detail
            item = QListWidgetItem(f"{path}  —  {shown}")  # item text is never rich text
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(plain_tooltip(f"{path}\n{shown}" + (f"\n{detail}" if detail else "")))
            self.rows.addItem(item)
        self.changed.emit()

    def remove_selected(self) -> None:
        for item in self.rows.selectedItems():
            self.rows.takeItem(self.rows.row(item))
        self.changed.emit()

    def clear(self) -> None:
        self.rows.clear()
        self.changed.emit()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add an evidence folder (only ever read)")
        if folder:
            self.add_paths([folder])

    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Add evidence files (only ever read; an E01: its first segment)", "", FILE_FILTERS)
        self.add_paths(files)

    # Drag and drop of folders and files from a file manager.

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _local_paths(event):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if _local_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = _local_paths(event)
        if paths:
            self.add_paths(paths)
            event.acceptProposedAction()


def _local_paths(event: QDropEvent) -> list[Path]:
    """The local files and folders a drag carries (web links and the like are not evidence)."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
