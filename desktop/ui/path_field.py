"""A line edit with a Browse… button for a folder, an existing file or a file to write.
Tests and the rest of the UI set the text directly; only the button opens a dialog."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget

Kind = Literal["folder", "open", "save"]


class PathField(QWidget):
    def __init__(self, kind: Kind, caption: str, file_filter: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind, self.caption, self.file_filter = kind, caption, file_filter
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(caption)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(browse)

    def path(self) -> Path | None:
        text = self.edit.text().strip()
        return Path(text).expanduser() if text else None

    def set_path(self, path: Path | str | None) -> None:
        self.edit.setText(str(path) if path else "")

    def _browse(self) -> None:
        start = self.edit.text()
        if self.kind == "folder":
            chosen = QFileDialog.getExistingDirectory(self, self.caption, start)
        elif self.kind == "open":
            chosen, _ = QFileDialog.getOpenFileName(self, self.caption, start, self.file_filter)
        else:
            chosen, _ = QFileDialog.getSaveFileName(self, self.caption, start, self.file_filter)
        if chosen:
            self.edit.setText(chosen)
