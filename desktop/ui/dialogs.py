"""Error and information dialogs. They open window-modal but never block the event loop
(`open()`, not `exec()`), so a scan keeps reporting progress behind an error message. Their
texts carry names, paths and error details, so they are always plain text."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtWidgets import QMessageBox, QWidget

from desktop.errors import HomewardError
from desktop.ui.plain import plain_box
from desktop.ui.tasks import Failure, failure_of

log = logging.getLogger(__name__)
T = TypeVar("T")


def show_failure(parent: QWidget, failure: Failure, title: str = "Homeward") -> QMessageBox | None:
    """The user's message up front, the technical detail one click away; silent on cancel."""
    if failure.cancelled:
        return None
    box = plain_box(QMessageBox(QMessageBox.Icon.Warning, title, failure.message,
                                QMessageBox.StandardButton.Ok, parent))
    box.setObjectName("errorDialog")
    if failure.detail:
        box.setInformativeText(failure.detail)
    if failure.traceback and not failure.detail:
        box.setDetailedText(failure.traceback)
    box.open()
    return box


def show_info(parent: QWidget, text: str, detail: str | None = None,
              title: str = "Homeward") -> QMessageBox:
    box = plain_box(QMessageBox(QMessageBox.Icon.Information, title, text,
                                QMessageBox.StandardButton.Ok, parent))
    box.setObjectName("infoDialog")
    if detail:
        box.setDetailedText(detail)
    box.open()
    return box


def confirm(parent: QWidget, name: str, title: str, text: str, detail: str,
            on_yes: Callable[[], object]) -> QMessageBox:
    """A Yes/Cancel question, Cancel the default; `on_yes` runs only on Yes."""
    box = plain_box(QMessageBox(QMessageBox.Icon.Question, title, text,
                                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                parent))
    box.setObjectName(name)
    box.setInformativeText(detail)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.button(QMessageBox.StandardButton.Yes).clicked.connect(on_yes)
    box.open()
    return box


def attempt(parent: QWidget, action: Callable[[], T]) -> T | None:
    """Run a quick action in the GUI thread; a failure becomes a dialog, not a crash."""
    try:
        return action()
    except HomewardError as exc:
        show_failure(parent, failure_of(exc))
    except OSError as exc:
        show_failure(parent, Failure("The file system refused this action.", str(exc)))
    return None


def show_unexpected_errors(parent: QWidget) -> None:
    """An error no code caught in the GUI thread (a slot's bug): its traceback goes to the
    log file and the user sees the error dialog naming that file, instead of a traceback on
    a console nobody reads."""

    def hook(kind: type[BaseException], exc: BaseException, tb: object) -> None:
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: Python's own way
            sys.__excepthook__(kind, exc, tb)  # type: ignore[arg-type]
            return
        log.critical("unexpected error in the window", exc_info=exc)
        show_failure(parent, failure_of(exc))

    sys.excepthook = hook
