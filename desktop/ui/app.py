"""Starting the desktop application, and rendering its pages (and the extra views they
offer) to PNG files offscreen, at a chosen window size."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def _drop_opencv_qt_plugin_path() -> None:
    """opencv-python's wheel points QT_QPA_PLATFORM_PLUGIN_PATH at its own Qt plugins when
    cv2 is imported; PySide6 would then load plugins built for another Qt and abort."""
    import cv2

    plugins = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "")
    if plugins.startswith(str(Path(cv2.__file__).parent)):
        del os.environ["QT_QPA_PLATFORM_PLUGIN_PATH"]
        os.environ.pop("QT_QPA_FONTDIR", None)


def create_application():
    _drop_opencv_qt_plugin_path()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Homeward")
    app.setOrganizationName("Homeward")
    app.setDesktopFileName("homeward")  # resources/homeward.desktop: the dock finds the icon
    from desktop.ui.theme import app_icon

    app.setWindowIcon(app_icon())
    return app


def build_window(case: Path | None = None, gallery: Path | None = None,
                 settings_file: Path | None = None):
    """The main window with settings loaded and the case/gallery opened; problems with any
    of them are shown as dialogs once the window is up, and the window still opens."""
    from desktop.errors import HomewardError
    from desktop.settings import Settings, load_settings
    from desktop.ui.dialogs import show_failure
    from desktop.ui.main_window import MainWindow
    from desktop.ui.state import AppState
    from desktop.ui.tasks import failure_of

    problems = []
    try:
        settings = load_settings(settings_file)
    except HomewardError as exc:
        settings, problems = Settings(), [exc]
    state = AppState(settings, settings_file)
    for action, target in ((state.open_gallery, gallery), (state.open_case, case)):
        if target is None:
            continue
        try:
            action(target)
        except HomewardError as exc:
            problems.append(exc)
    if gallery is None and state.gallery is None and settings.gallery and Path(
            settings.gallery).exists():
        try:
            state.open_gallery(Path(settings.gallery))
        except HomewardError as exc:
            problems.append(exc)
    window = MainWindow(state)
    for exc in problems:
        show_failure(window, failure_of(exc))
    return window


def save_screenshots(window, folder: Path, size: tuple[int, int] | None = None) -> list[Path]:
    """Every page rendered to `NN-page.png`, each extra view a page offers to
    `NN-page-view.png`, then the window's own dialogs (documentation and review of the UI).
    With `size`, the window is first given that size (width, height)."""
    from PySide6.QtWidgets import QApplication, QDialog

    def settle() -> None:
        for _ in range(3):
            QApplication.processEvents()

    def save(widget, path: Path) -> None:
        if not widget.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        written.append(path)

    folder.mkdir(parents=True, exist_ok=True)
    if size is not None:
        window.showNormal()
        window.resize(*size)
    written: list[Path] = []
    for index, page in enumerate(window.pages):
        window.show_page(index)
        settle()
        page.settle()
        QApplication.processEvents()
        stem = f"{index + 1:02d}-{page.title.lower()}"
        save(window, folder / f"{stem}.png")
        for view in page.screenshot_views():
            shown = view.show()
            settle()
            page.settle()
            QApplication.processEvents()
            save(shown or window, folder / f"{stem}-{view.name}.png")
            if isinstance(shown, QDialog):
                shown.close()
    for number, view in enumerate(window.screenshot_views(), len(window.pages) + 1):
        shown = view.show()
        settle()
        save(shown or window, folder / f"{number:02d}-{view.name}.png")
        if isinstance(shown, QDialog):
            shown.close()
    return written


def _no_display() -> bool:
    """On Linux without X11 or Wayland, Qt would abort the process with a core dump."""
    return (sys.platform.startswith("linux") and "QT_QPA_PLATFORM" not in os.environ
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"))


def run_gui(case: Path | None = None, gallery: Path | None = None,
            screenshot_dir: Path | None = None, size: tuple[int, int] | None = None) -> int:
    """`size` (width, height): the window's size, for the screenshots or the window shown."""
    if screenshot_dir is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif _no_display():
        from desktop.errors import HomewardError

        raise HomewardError("There is no display to open the window on.",
                            "run it in a desktop session, or use the homeward commands "
                            "(`homeward gui --screenshot DIR` renders the pages offscreen)")
    from desktop.ui.dialogs import show_unexpected_errors

    app = create_application()
    window = build_window(case, gallery)
    show_unexpected_errors(window)
    if size is not None:
        window.resize(*size)
    window.show()
    if screenshot_dir is not None:
        for path in save_screenshots(window, screenshot_dir, size):
            print(path)
        window.close()
        return 0
    return app.exec()
