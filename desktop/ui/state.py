"""What the open window is working on: settings, the open case, the open gallery.

Passed to every page (no global singleton). The case and gallery connections here belong to
the GUI thread; background tasks open their own, as SQLite connections are per thread.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from desktop.gallery.gallery import Gallery
from desktop.scan.case import Case
from desktop.settings import Settings, save_settings

log = logging.getLogger(__name__)


class AppState(QObject):
    case_changed = Signal()
    gallery_changed = Signal()
    settings_changed = Signal()
    hits_changed = Signal()  # a scan added hits
    decisions_changed = Signal()  # a reviewer recorded decisions
    packs_changed = Signal()  # a model pack was installed

    def __init__(self, settings: Settings, settings_file: Path | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.settings_file = settings_file
        self.case: Case | None = None
        self.gallery: Gallery | None = None

    def update_settings(self, settings: Settings) -> None:
        save_settings(settings, self.settings_file)
        self.settings = settings
        self.settings_changed.emit()

    def open_case(self, folder: Path) -> Case:
        case = Case.open(Path(folder).resolve())
        self.close_case(notify=False)
        self.case = case
        self.update_settings(self.settings.with_recent_case(case.folder))
        gallery = Path(case.info.gallery) if case.info.gallery else None  # none: faces only
        if gallery is not None and gallery.exists() and (self.gallery is None
                                                         or self.gallery.path != gallery):
            try:
                self.open_gallery(gallery)
            except Exception:  # the case still opens; the gallery page will say why
                log.exception("the case's gallery %s could not be opened", gallery)
        self.case_changed.emit()
        return case

    def close_case(self, notify: bool = True) -> None:
        if self.case is not None:
            self.case.close()
            self.case = None
            if notify:
                self.case_changed.emit()

    def open_gallery(self, path: Path, create: bool = False) -> Gallery:
        gallery = Gallery.create(path) if create else Gallery.open(path)
        if self.gallery is not None:
            self.gallery.close()
        self.gallery = gallery
        self.update_settings(replace(self.settings, gallery=str(Path(path).resolve())))
        self.gallery_changed.emit()
        return gallery

    def close(self) -> None:
        self.close_case(notify=False)
        if self.gallery is not None:
            self.gallery.close()
            self.gallery = None

