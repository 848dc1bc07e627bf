"""What every page shares: the application state, the task runner, a title."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from desktop.ui.state import AppState
from desktop.ui.tasks import TaskRunner


class Page(QWidget):
    title = ""

    def __init__(self, state: AppState, tasks: TaskRunner) -> None:
        super().__init__()
        self.setObjectName(f"{self.title.lower()}Page")
        self.state = state
        self.tasks = tasks

    def activated(self) -> None:
        """The page was brought to the front: refresh what may have changed elsewhere."""

    def settle(self) -> None:
        """Finish lazy loading (thumbnails) so an offscreen screenshot shows the page whole."""
