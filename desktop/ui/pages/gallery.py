"""The Gallery page: the missing persons, searchable, with their case data, reference photos
and history; adding, editing, removing and importing them.

Every change runs `homeward gallery …`'s own code (desktop/ui/gallery_work.py) on a
background task with its own gallery connection; the page then re-reads the GUI thread's
gallery. The file dialogs only pick a path and call the method of the same name, so tests
(and drag and drop) use exactly what the buttons use.

Photos showing several faces wait under the persons list until someone chooses the face:
choosing one (double click, Enter or Choose face…) opens the face picker on its stored copy.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.gallery.fields import EDITABLE, PersonFields
from desktop.gallery.gallery import PendingPhoto
from desktop.gallery.imports import ImportReport
from desktop.ui import gallery_work
from desktop.ui.dialogs import attempt, confirm, show_failure
from desktop.ui.enrolment import Enrolment
from desktop.ui.gallery_work import Engine
from desktop.ui.import_report import ImportReportDialog
from desktop.ui.pages.base import Page
from desktop.ui.person_details import STRIP_SIDE, PersonDetails
from desktop.ui.person_form import PersonDialog, dropped_files
from desktop.ui.persons_table import PersonsTable
from desktop.ui.plain import plain_tooltip
from desktop.ui.state import AppState
from desktop.ui.task_bar import TaskBar
from desktop.ui.tasks import Failure, TaskControl, TaskRunner
from desktop.ui.thumbnails import ThumbnailLoader


class GalleryPage(Page):
    title = "Gallery"

    def __init__(self, state: AppState, tasks: TaskRunner) -> None:
        super().__init__(state, tasks)
        self.import_workers: int | None = None  # engine processes for imports; None: per core
        self.busy = False  # a gallery change is under way; one writer at a time
        self.photo_thumbnails = ThumbnailLoader(STRIP_SIDE, parent=self)
        self.table = PersonsTable(self._first_photo)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())
        self.table.doubleClicked.connect(lambda _index: self.edit_person_dialog())
        self.search = QLineEdit(placeholderText="Search name, alias or case reference",
                                clearButtonEnabled=True)
        self.search.setObjectName("personSearch")
        self.search.textChanged.connect(self.table.filter.set_query)
        self.details = PersonDetails(self.photo_thumbnails)
        self.details.remove_photo_requested.connect(self.confirm_remove_photo)
        self.bar = TaskBar()
        self.buttons = {key: QPushButton(text) for key, text in (
            ("open", "Open gallery…"), ("new", "New gallery…"), ("add", "Add person…"),
            ("edit", "Edit…"), ("remove", "Remove…"), ("folder", "Import folder…"),
            ("csv", "Import CSV…"), ("choose", "Choose face…"))}
        for key, slot in (("open", self._browse_open), ("new", self._browse_new),
                          ("add", lambda: self.add_person_dialog()),
                          ("edit", lambda: self.edit_person_dialog()),
                          ("remove", lambda: self.confirm_remove()),
                          ("folder", self._browse_folder), ("csv", self._browse_csv),
                          ("choose", lambda: self.choose_pending())):
            self.buttons[key].clicked.connect(slot)
        self.pending_label = QLabel()
        self.pending = QListWidget()
        self.pending.setObjectName("pendingPhotos")
        self.pending.setMaximumHeight(96)
        self.pending.currentRowChanged.connect(lambda _row: self._update_actions())
        self.pending.itemActivated.connect(lambda _item: self.choose_pending())
        self._lay_out()
        self.setAcceptDrops(True)
        state.gallery_changed.connect(self.reload)
        self.reload()

    def _lay_out(self) -> None:
        tools = QHBoxLayout()
        for group in (("open", "new"), ("add", "edit", "remove"), ("folder", "csv")):
            for key in group:
                tools.addWidget(self.buttons[key])
            tools.addWidget(QFrame(frameShape=QFrame.Shape.VLine))
        tools.addWidget(self.search, 1)
        self.pending_box = QWidget()
        waiting = QVBoxLayout(self.pending_box)
        waiting.setContentsMargins(0, 0, 0, 0)
        heading = QHBoxLayout()
        heading.addWidget(self.pending_label, 1)
        heading.addWidget(self.buttons["choose"])
        waiting.addLayout(heading)
        waiting.addWidget(self.pending)
        persons = QWidget()
        column = QVBoxLayout(persons)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.table, 1)
        column.addWidget(self.pending_box)
        split = QSplitter()
        split.setChildrenCollapsible(False)
        split.addWidget(persons)
        split.addWidget(self.details)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([520, 560])
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(split, 1)
        layout.addWidget(self.bar)

    # --- reading ------------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the persons from the GUI thread's gallery, keeping the selection."""
        gallery = self.state.gallery
        self.table.set_persons(gallery.persons() if gallery is not None else [])
        self._list_pending(gallery.pending() if gallery is not None else [])
        self._show_selected()

    def _list_pending(self, waiting: list[PendingPhoto]) -> None:
        chosen = self.selected_pending_id()
        self.pending.clear()
        for photo in waiting:
            item = QListWidgetItem(f"{photo.person_name} — {Path(photo.original_path).name} "
                                   f"({photo.faces} faces)", self.pending)
            item.setData(Qt.ItemDataRole.UserRole, photo.id)
            item.setToolTip(plain_tooltip(photo.original_path))
            if photo.id == chosen:
                self.pending.setCurrentItem(item)
        if self.pending.currentItem() is None and waiting:
            self.pending.setCurrentRow(0)  # Choose face… is ready for the oldest
        self.pending_label.setText(f"<b>Photos awaiting a face choice ({len(waiting)})</b>")
        self.pending_box.setVisible(bool(waiting))

    def selected_pending_id(self) -> int | None:
        item = self.pending.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def activated(self) -> None:
        self.reload()

    def settle(self) -> None:
        for loader in (self.table.thumbnails, self.photo_thumbnails):
            loader.wait_idle()
        QApplication.processEvents()

    def selected_person_id(self) -> int | None:
        return self.table.selected_person_id()

    def select_person(self, person_id: int) -> bool:
        return self.table.select_person(person_id)

    def _show_selected(self) -> None:
        self.details.show_person(self.state.gallery, self.selected_person_id())
        self._update_actions()

    def _first_photo(self, person_id: int) -> Path | None:
        gallery = self.state.gallery
        photos = gallery.photos(person_id) if gallery is not None else []
        return gallery.stored_path(photos[0]) if gallery is not None and photos else None

    def _update_actions(self) -> None:
        has_gallery, chosen = self.state.gallery is not None, self.selected_person_id() is not None
        for key, enabled in (("add", has_gallery), ("folder", has_gallery), ("csv", has_gallery),
                             ("edit", chosen), ("remove", chosen),
                             ("choose", self.selected_pending_id() is not None)):
            self.buttons[key].setEnabled(enabled and not self.busy)
        for key in ("open", "new"):
            self.buttons[key].setEnabled(not self.busy)

    # --- opening ------------------------------------------------------------------------------

    def open_gallery(self, path: Path) -> None:
        attempt(self, lambda: self.state.open_gallery(Path(path)))

    def create_gallery(self, path: Path) -> None:
        path = Path(path) if Path(path).suffix else Path(path).with_suffix(".db")
        attempt(self, lambda: self.state.open_gallery(path, create=True))

    # --- changing (background tasks) ----------------------------------------------------------

    @property
    def actor(self) -> str:
        return self.state.settings.reviewer or getpass.getuser()

    def engine(self, workers: int | None = None) -> Engine:
        settings = self.state.settings
        return Engine(settings.default_pack, settings.provider, workers)

    def add_person_dialog(self, photos: list[Path] | None = None) -> PersonDialog:
        dialog = PersonDialog(self, photos=photos)
        dialog.accepted.connect(lambda: self.add_photos(dialog.photos, person=dialog.person))
        dialog.open()
        return dialog

    def edit_person_dialog(self) -> PersonDialog | None:
        person_id, gallery = self.selected_person_id(), self.state.gallery
        if person_id is None or gallery is None or self.busy:
            return None
        dialog = PersonDialog(self, person=gallery.person_fields(person_id))
        dialog.accepted.connect(lambda: self.edit_person(person_id, dialog.person))
        dialog.open()
        return dialog

    def add_photos(self, photos: list[Path], person_id: int | None = None,
                   person: PersonFields | None = None) -> Enrolment | None:
        """Photos for an existing person, or a new person with photos (or none)."""
        if self.state.gallery is None or self.busy:
            return None
        enrolment = Enrolment(self, self.tasks, self.bar, self.state.gallery.path, self.engine(),
                              self.actor, photos, person=person, person_id=person_id)
        enrolment.added.connect(self._photos_added)
        enrolment.ended.connect(lambda: self._set_busy(False))
        enrolment.ended.connect(enrolment.deleteLater)
        self._set_busy(True)
        enrolment.start()
        return enrolment

    def choose_pending(self, pending_id: int | None = None) -> Enrolment | None:
        """Point at the face of a photo awaiting a choice (the selected one by default): the
        engine finds the faces of its stored copy, the picker asks, the choice is stored."""
        pending_id = self.selected_pending_id() if pending_id is None else pending_id
        if self.state.gallery is None or self.busy or pending_id is None:
            return None
        photo = self.state.gallery.pending_photo(pending_id)
        enrolment = Enrolment(self, self.tasks, self.bar, self.state.gallery.path, self.engine(),
                              self.actor, [self.state.gallery.store / photo.stored_name],
                              person_id=photo.person_id, pending=photo)
        enrolment.added.connect(lambda _photo_id: self._face_chosen(photo.person_id))
        enrolment.ended.connect(lambda: self._set_busy(False))
        enrolment.ended.connect(enrolment.deleteLater)
        self._set_busy(True)
        enrolment.start()
        return enrolment

    def _face_chosen(self, person_id: int) -> None:
        self.reload()
        self.select_person(person_id)

    def edit_person(self, person_id: int, person: PersonFields | None) -> None:
        if person is None or self.state.gallery is None:
            return
        changes = {name: getattr(person, name) for name in EDITABLE}
        gallery, actor = self.state.gallery.path, self.actor
        self._write("Saving…", lambda _c: gallery_work.edit_person(
            gallery, person_id, changes, actor), lambda _diff: None)

    def confirm_remove(self) -> QMessageBox | None:
        person_id = self.selected_person_id()
        if person_id is None or self.state.gallery is None or self.busy:
            return None
        name = self.state.gallery.person(person_id)["name"]
        return confirm(self, "confirmRemove", "Remove person",
                       f"Remove {name} and their reference photos from the gallery?",
                       "The history keeps a record of the removal and of their data.",
                       lambda: self.remove_person(person_id))

    def confirm_remove_photo(self, photo_id: int) -> QMessageBox | None:
        if self.state.gallery is None or self.busy:
            return None
        return confirm(self, "confirmRemovePhoto", "Remove reference photo",
                       "Remove this reference photo and its embeddings from the person?",
                       "The history keeps a record of the removal.",
                       lambda: self.remove_photo(photo_id))

    def remove_photo(self, photo_id: int) -> None:
        if self.state.gallery is None or self.busy:
            return
        gallery, actor = self.state.gallery.path, self.actor
        self._write("Removing the photo…", lambda _c: gallery_work.remove_photo(
            gallery, photo_id, actor), lambda _none: None)

    def remove_person(self, person_id: int) -> None:
        if self.state.gallery is None or self.busy:
            return
        gallery, actor = self.state.gallery.path, self.actor
        self._write("Removing…", lambda _c: gallery_work.remove_person(
            gallery, person_id, actor), lambda _none: None)

    def import_folder(self, folder: Path) -> None:
        self._import(Path(folder), is_csv=False)

    def import_csv(self, path: Path) -> None:
        self._import(Path(path), is_csv=True)

    def _import(self, source: Path, is_csv: bool) -> None:
        if self.state.gallery is None or self.busy:
            return
        gallery, engine, actor = self.state.gallery.path, self.engine(self.import_workers), self.actor
        self._write(f"Importing {source.name}…", lambda control: gallery_work.import_source(
            gallery, source, is_csv, engine, actor, control),
            lambda report: ImportReportDialog(report, str(source), self).open(), cancel=True)

    def _write(self, text: str, work: Callable[[TaskControl], object],
               done: Callable[[Any], object], cancel: bool = False) -> None:
        """Run one gallery change in the background; the page is read again afterwards."""
        def succeeded(result: object) -> None:
            self._finished()
            done(result)

        def failed(failure: Failure) -> None:
            self._finished()
            show_failure(self, failure, "Gallery not changed")

        self._set_busy(True)
        task = self.tasks.start(text, work, on_success=succeeded, on_failure=failed,
                                on_progress=self.bar.progressed)
        self.bar.follow(task if cancel else None, text)

    def _finished(self) -> None:
        self.bar.finish()
        self._set_busy(False)
        self.reload()

    def _photos_added(self, report: ImportReport) -> None:
        self.reload()
        for person_id in report.persons_created or report.persons_updated:
            self.select_person(person_id)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._update_actions()

    # --- drag and drop ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.state.gallery is not None and not self.busy and dropped_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """Photos dropped on a person's row (or anywhere, with a person selected) are added
        to that person; with nobody selected they start a new person."""
        photos = dropped_files(event)
        if not photos:
            return
        event.acceptProposedAction()
        person_id = self.table.person_at(event.position().toPoint(), self)
        if person_id is None:
            person_id = self.selected_person_id()
        if person_id is None:
            self.add_person_dialog(photos)
        else:
            self.select_person(person_id)
            self.add_photos(photos, person_id=person_id)

    # --- file dialogs -------------------------------------------------------------------------

    def _browse_open(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open gallery", "", "Gallery (*.db)")
        if name:
            self.open_gallery(Path(name))

    def _browse_new(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "New gallery", "", "Gallery (*.db)")
        if name:
            self.create_gallery(Path(name))

    def _browse_folder(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Import a folder per person")
        if name:
            self.import_folder(Path(name))

    def _browse_csv(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Import a CSV", "", "CSV (*.csv);;All (*)")
        if name:
            self.import_csv(Path(name))
