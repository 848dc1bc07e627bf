"""What every page shares: the application state, the task runner, a title, and the extra
views `homeward gui --screenshot` renders besides the page as it first shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from desktop.ui.state import AppState
from desktop.ui.tasks import TaskRunner


@dataclass(frozen=True)
class ScreenshotView:
    """One more view of a page (a grid mode, a dialog it opens) for the screenshots. `show`
    brings it up and returns the widget to render: a dialog it opened, or None for the
    window itself. A dialog returned is closed after its screenshot."""

    name: str  # short, file-name safe: "grid", "audit-trail"
    show: Callable[[], QWidget | None]


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

    def screenshot_views(self) -> list[ScreenshotView]:
        """Extra views to render after the page itself, in order; none by default."""
        return []
