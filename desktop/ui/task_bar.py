"""A one-line strip that follows a page's background task: what it does, how far it is,
and a Cancel button. Hidden when nothing runs."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from desktop.ui.plain import plain_label
from desktop.ui.tasks import Task


class TaskBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("taskBar")
        self.task: Task | None = None
        self.label = plain_label()  # names the file or person being worked on
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self._cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel)
        self.hide()

    def follow(self, task: Task | None, text: str) -> None:
        """Show `text` with a busy indicator until `progress` gives numbers or `finish`."""
        self.task = task
        self.label.setText(text)
        self.progress.setRange(0, 0)
        self.cancel.setEnabled(task is not None)
        self.show()

    def progressed(self, value: object) -> None:
        """(done, total) from a task's progress."""
        if isinstance(value, tuple) and len(value) == 2 and value[1]:
            done, total = value
            self.progress.setRange(0, int(total))
            self.progress.setValue(int(done))
            self.progress.setFormat(f"{done} / {total} photos")

    def finish(self) -> None:
        self.task = None
        self.hide()

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.label.setText(self.label.text() + " — cancelling…")
            self.cancel.setEnabled(False)
