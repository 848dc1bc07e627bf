"""The main window: a page list on the left (Ctrl+1…6), the pages on the right, the open
case and gallery in the status bar, and the menus (File, Case, Tools, View). Its size fits
the screen it opens on (1366×768 laptops included) and, like every splitter in it, is
remembered between sessions. Closing it mid-scan stops the scan between files; every result
so far is committed and the next start resumes it."""

from __future__ import annotations

import logging
from dataclasses import replace

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QListWidget,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QWidget,
)

from desktop.errors import HomewardError
from desktop.ui.packs_dialog import PacksDialog
from desktop.ui.pages.base import ScreenshotView
from desktop.ui.pages.cases import CasesPage
from desktop.ui.pages.gallery import GalleryPage
from desktop.ui.pages.people import PeoplePage
from desktop.ui.pages.reports import ReportsPage
from desktop.ui.pages.review import ReviewPage
from desktop.ui.pages.scan import ScanPage
from desktop.ui.plain import plain_label
from desktop.ui.reindex_dialog import ReindexDialog
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.state import AppState
from desktop.ui.tasks import TaskRunner
from desktop.ui.theme import app_icon, apply_theme, is_dark

log = logging.getLogger(__name__)
PAGE_CLASSES = (CasesPage, GalleryPage, ScanPage, ReviewPage, ReportsPage, PeoplePage)
PREFERRED_SIZE = QSize(1280, 800)
# What a desktop takes around a window: title bar and frame (about 32 px on Windows and
# GNOME), so that the default size plus them still fits the screen's free area.
FRAME = QSize(16, 40)


def default_size(available: QSize) -> QSize:
    """The preferred size, shrunk to the screen's free area less the window frame."""
    return QSize(min(PREFERRED_SIZE.width(), available.width() - FRAME.width()),
                 min(PREFERRED_SIZE.height(), available.height() - FRAME.height()))


class MainWindow(QMainWindow):
    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.setWindowIcon(app_icon())
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
        self._build_menus()
        self._look: tuple[str, bool] | None = None  # the theme applied, and whether dark
        state.case_changed.connect(self._show_where)
        state.gallery_changed.connect(self._show_where)
        state.settings_changed.connect(self._apply_theme)
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._apply_theme)
        self._show_where()
        self._apply_theme()
        self._restore_layout()
        self.nav.setCurrentRow(0)

    def _build_menus(self) -> None:
        cases = self.page(CasesPage)
        file_menu = self.menuBar().addMenu("&File")
        self.quit_action = self._action(file_menu, "&Quit", self.close, "Ctrl+Q")
        file_menu.insertAction(self.quit_action, self._action(
            file_menu, "&Open case folder…", cases.choose_case, "Ctrl+O"))
        file_menu.insertAction(self.quit_action, self._action(
            file_menu, "&Settings…", self.edit_settings, "Ctrl+,"))
        file_menu.insertSeparator(self.quit_action)
        case_menu = self.menuBar().addMenu("&Case")
        self.audit_action = self._action(case_menu, "&Audit trail…", cases.open_audit_trail)
        tools = self.menuBar().addMenu("&Tools")
        self._action(tools, "&Model packs…", self.open_packs)
        self.reindex_action = self._action(tools, "&Reindex gallery for a pack…",
                                           self.open_reindex)
        view = self.menuBar().addMenu("&View")
        for index, page in enumerate(self.pages):
            view.addAction(f"&{index + 1} {page.title}", lambda i=index: self.show_page(i))

    def _action(self, menu, text: str, slot, shortcut: str | None = None) -> QAction:
        """Menu actions with shortcuts live on the window, so they work on every page."""
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def edit_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.state, self)
        dialog.open()
        return dialog

    def open_packs(self) -> PacksDialog:
        dialog = PacksDialog(self.state, self.tasks, self)
        dialog.open()
        return dialog

    def open_reindex(self) -> ReindexDialog:
        dialog = ReindexDialog(self.state, self.tasks, self)
        dialog.open()
        return dialog

    def screenshot_views(self) -> list[ScreenshotView]:
        """The window's own dialogs, rendered after the pages by `homeward gui --screenshot`."""
        return [ScreenshotView("model-packs", self.open_packs),
                ScreenshotView("reindex", self.open_reindex)]

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
        self.setWindowTitle(f"Homeward — {case.info.case_number}" if case else "Homeward")
        self.audit_action.setEnabled(case is not None)
        self.reindex_action.setEnabled(gallery is not None)
        self.where.setText(
            f"case: {case.info.case_number if case else '—'}   "
            f"gallery: {gallery.path.name if gallery else '—'}")

    def _apply_theme(self) -> None:
        """Only when the look changes: restyling repolishes every widget, and settings
        change at every case or gallery opened."""
        app = QApplication.instance()
        look = (self.state.settings.theme, is_dark(self.state.settings.theme))
        if isinstance(app, QApplication) and look != self._look:
            apply_theme(app, look[0])
            self._look = look

    def splitters(self) -> dict[str, QSplitter]:
        """Every splitter in the window by a stable name: its own object name, or one made
        from its page and its place there (pages need not name theirs)."""
        named: dict[str, QSplitter] = {}
        for page in self.pages:
            for number, splitter in enumerate(page.findChildren(QSplitter)):
                if not splitter.objectName():
                    splitter.setObjectName(f"{page.objectName()}.splitter{number}")
                named[splitter.objectName()] = splitter
        return named

    def _restore_layout(self) -> None:
        settings = self.state.settings
        if not (settings.window_geometry and self.restoreGeometry(
                QByteArray.fromBase64(settings.window_geometry.encode()))):
            screen = self.screen() or QGuiApplication.primaryScreen()
            self.resize(default_size(screen.availableGeometry().size()))
        for name, splitter in self.splitters().items():
            saved = settings.splitters.get(name)
            if saved:
                splitter.restoreState(QByteArray.fromBase64(saved.encode()))

    def save_layout(self) -> None:
        """The window's geometry and splitter positions, into the settings file."""
        layout = replace(
            self.state.settings,
            window_geometry=bytes(self.saveGeometry().toBase64()).decode(),
            splitters={name: bytes(s.saveState().toBase64()).decode()
                       for name, s in self.splitters().items()})
        if layout != self.state.settings:
            self.state.update_settings(layout)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.tasks.running():
            self.statusBar().showMessage("Stopping background work; everything done so far is "
                                         "kept and a scan resumes on its next start…")
        try:
            self.save_layout()
        except (HomewardError, OSError) as exc:  # it must not keep the window open
            log.warning("the window layout was not saved: %s", exc)
        self.tasks.shutdown()
        self.state.close()
        event.accept()
