"""The main window: a page list on the left (Ctrl+1…6), the pages on the right, the open
case and gallery in the status bar. Closing it mid-scan stops the scan between files; every
result so far is committed and the next start resumes it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QMainWindow,
    QStackedWidget,
    QWidget,
)

from desktop.ui.pages.cases import CasesPage
from desktop.ui.pages.gallery import GalleryPage
from desktop.ui.pages.people import PeoplePage
from desktop.ui.pages.reports import ReportsPage
from desktop.ui.pages.review import ReviewPage
from desktop.ui.pages.scan import ScanPage
from desktop.ui.plain import plain_label
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.state import AppState
from desktop.ui.tasks import TaskRunner

PAGE_CLASSES = (CasesPage, GalleryPage, ScanPage, ReviewPage, ReportsPage, PeoplePage)


class MainWindow(QMainWindow):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.setWindowTitle("Homeward")
        self.resize(1280, 800)
        self.state = state
        self.tasks = TaskRunner(self)
        self.pages = [cls(state, self.tasks) for cls in PAGE_CLASSES]
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(150)
        self.stack = QStackedWidget()
        for index, page in enumerate(self.pages):
            self.nav.addItem(page.title)
            self.stack.addWidget(page)
            shortcut = QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self)
            shortcut.activated.connect(lambda i=index: self.show_page(i))
        self.nav.currentRowChanged.connect(self._page_chosen)
        body = QWidget()
        layout = QHBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(body)
        self.where = plain_label()  # the case number and gallery name as typed
        self.statusBar().addPermanentWidget(self.where)
        state.case_changed.connect(self._show_where)
        state.gallery_changed.connect(self._show_where)
        self._show_where()
        settings = QShortcut(QKeySequence("Ctrl+,"), self)
        settings.activated.connect(self.edit_settings)
        self.menuBar().addAction("Settings…", self.edit_settings)
        self.nav.setCurrentRow(0)

    def edit_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.state, self)
        dialog.open()
        return dialog

    def page(self, cls: type) -> QWidget:
        return next(p for p in self.pages if isinstance(p, cls))

    def show_page(self, index: int) -> None:
        self.nav.setCurrentRow(index)

    def _page_chosen(self, index: int) -> None:
        if index < 0:
            return
        self.stack.setCurrentIndex(index)
        self.pages[index].activated()
        self.pages[index].setFocus(Qt.FocusReason.OtherFocusReason)

    def _show_where(self) -> None:
        case = self.state.case
        gallery = self.state.gallery
        self.where.setText(
            f"case: {case.info.case_number if case else '—'}   "
            f"gallery: {gallery.path.name if gallery else '—'}")

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.tasks.running():
            self.statusBar().showMessage("Stopping background work; everything done so far is "
                                         "kept and a scan resumes on its next start…")
        self.tasks.shutdown()
        self.state.close()
        event.accept()
