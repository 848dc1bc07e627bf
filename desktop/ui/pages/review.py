"""The Review page: a reviewer goes through the candidate hits with the keyboard and records
a verdict on each; no hit is an identification until a person confirms it.

J / Down next, K / Up previous, C confirm, R reject, U unsure, N note (Enter returns to the
list), T the last verdict for every hit of the selected hit's video track, + / - / 0 zoom the
context image, Ctrl+F the filters. What is decided is always the hit on screen. Decisions go
through `desktop.review.decisions.decide`, as `homeward review decide` does; the queue is
read in the background, and the list, the faces and the details follow the selection.
"""

from __future__ import annotations

from dataclasses import replace
from operator import itemgetter
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.review.decisions import decide, history
from desktop.review.queue import PENDING, filter_items, hits_of_track, with_decision
from desktop.ui.dialogs import attempt, show_failure
from desktop.ui.hits_model import HitsModel, HitsTable
from desktop.ui.pages.base import Page
from desktop.ui.plain import plain_label
from desktop.ui.review_faces import FacesView, ReferencePhotos
from desktop.ui.review_filters import ReviewFilters
from desktop.ui.review_keys import PLAIN, KeyCommands
from desktop.ui.review_panel import DecisionBar, HitDetails
from desktop.ui.review_queue import Queue, read_queue
from desktop.ui.state import AppState
from desktop.ui.tasks import Failure, Task, TaskRunner
from desktop.ui.thumbnails import ThumbnailLoader

ROW_HEIGHT = 52
NO_CASE = ("No case is open.\n\nOpen or create one on the Cases page (Ctrl+1);\n"
           "its hits are reviewed here.")


class ReviewPage(Page):
    title = "Review"

    def __init__(self, state: AppState, tasks: TaskRunner) -> None:
        super().__init__(state, tasks)
        self._all: list[dict] = []
        self._by_id: dict[int, dict] = {}
        self._folder: Path | None = None
        self._load: Task | None = None
        self._generation = 0
        self._stale = True
        self._last_verdict: str | None = None
        self.references = ReferencePhotos(state)
        self._build()
        state.case_changed.connect(self._case_changed)
        state.hits_changed.connect(self._case_changed)
        state.gallery_changed.connect(self._gallery_changed)
        state.settings_changed.connect(self._settings_changed)

    # --- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.filters = ReviewFilters()
        self.filters.changed.connect(self.apply_filters)
        self.thumbnails = ThumbnailLoader(side=ROW_HEIGHT - 4, parent=self)
        self.model = HitsModel(self.thumbnails, self)
        self.table = HitsTable(self.model, ROW_HEIGHT)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.message = plain_label(wrap=True)  # names the reviewer as typed
        self.message.setObjectName("reviewMessage")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.filters)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.message)
        self.faces = FacesView()
        self.details = HitDetails()
        self.details.candidate_chosen.connect(self.go_to)
        self.bar = DecisionBar(self.state.settings.reviewer)
        self.reviewer, self.note = self.bar.reviewer, self.bar.note
        self.bar.verdict.connect(self.decide)
        self.bar.track.connect(self.decide_track)
        self.bar.done_typing.connect(self.table.setFocus)
        self.reviewer.editingFinished.connect(self._save_reviewer)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.faces, 3)
        right_layout.addWidget(self.details, 2)
        right_layout.addWidget(self.bar)
        self.content = QSplitter()
        self.content.addWidget(left)
        self.content.addWidget(right)
        self.content.setSizes([620, 510])
        self.hint = QLabel(NO_CASE)
        self.hint.setObjectName("reviewHint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.hint)
        self.stack.addWidget(self.content)
        QVBoxLayout(self).addWidget(self.stack)
        self.setFocusProxy(self.table)
        self._install_keys()

    def _install_keys(self) -> None:
        K, ctrl = Qt.Key, Qt.KeyboardModifier.ControlModifier
        zoom = self.faces.context
        commands = {
            (K.Key_J, PLAIN): lambda: self.step(1), (K.Key_K, PLAIN): lambda: self.step(-1),
            (K.Key_C, PLAIN): lambda: self.decide("confirm"),
            (K.Key_R, PLAIN): lambda: self.decide("reject"),
            (K.Key_U, PLAIN): lambda: self.decide("unsure"),
            (K.Key_T, PLAIN): self.decide_track, (K.Key_N, PLAIN): self.note.setFocus,
            (K.Key_F, ctrl): self.filters.status.setFocus,
            (K.Key_Plus, PLAIN): lambda: zoom.zoom(1.25), (K.Key_Equal, PLAIN): lambda: zoom.zoom(1.25),
            (K.Key_Minus, PLAIN): lambda: zoom.zoom(0.8), (K.Key_0, PLAIN): zoom.fit,
        }
        self.keys = KeyCommands(commands, self)
        self.keys.watch(self.table, self.details.candidates)
        back = KeyCommands({(K.Key_Escape, PLAIN): self.table.setFocus}, self)
        back.watch(self.note, self.reviewer, self.details.candidates, self.filters.status,
                   self.filters.person, self.filters.min_score)

    # --- loading and filtering ---------------------------------------------------------------

    def activated(self) -> None:
        if self._stale:
            self.reload()

    def _case_changed(self) -> None:
        self._clear()
        self._stale = True
        if self.isVisible():
            self.reload()

    def _clear(self) -> None:
        """Forget the shown queue at once: no key may decide on another case's hit."""
        self._generation += 1
        self._all, self._by_id, self._folder = [], {}, None
        self.model.set_items([], None)
        self.faces.clear()
        self.details.clear()
        self.references.forget()

    def reload(self) -> None:
        self._clear()
        self._stale = False
        case = self.state.case
        if case is None:
            self.stack.setCurrentWidget(self.hint)
            return
        self.stack.setCurrentWidget(self.content)
        generation, folder = self._generation, case.folder
        self._say("Loading the review queue…")
        self._load = self.tasks.start(
            "load review queue", lambda _control: read_queue(folder),
            on_success=lambda queue: self._loaded(generation, folder, queue),
            on_failure=lambda failure: self._load_failed(generation, failure))

    def _loaded(self, generation: int, folder: Path, queue: Queue) -> None:
        if generation != self._generation:
            return  # another case was opened meanwhile
        self._all, self._by_id, self._folder = queue.items, queue.by_id, folder
        self.filters.set_persons(queue.persons)
        self.apply_filters()
        if not queue.items:
            self._say("This case has no hits yet: scan it on the Scan page (Ctrl+3).")

    def _load_failed(self, generation: int, failure: Failure) -> None:
        if generation == self._generation:
            self._say("The review queue could not be read.", warn=True)
            show_failure(self, failure)

    def apply_filters(self) -> None:
        current = self.current_item()
        shown = filter_items(self._all, **self.filters.values())
        self.model.set_items(shown, self._folder)
        row = self.model.row_of(current["hit_id"]) if current else None
        self.select(row if row is not None else 0)
        pending = list(map(itemgetter("status"), self._all)).count(PENDING)
        self._say(f"{len(shown)} of {len(self._all)} hits shown · {pending} pending")

    # --- navigation --------------------------------------------------------------------------

    def current_item(self) -> dict | None:
        index = self.table.currentIndex()
        return self.model.item(index.row()) if index.isValid() else None

    def select(self, row: int) -> None:
        if not 0 <= row < self.model.rowCount():
            self.faces.clear("no hit to show")
            self.details.clear()
            return
        index = self.model.index(row, 0)
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)

    def step(self, delta: int) -> None:
        row = self.table.currentIndex().row()
        self.select(min(max(0, row + delta), self.model.rowCount() - 1))

    def go_to(self, hit_id: int) -> None:
        """Show this hit, clearing the filters if they hide it."""
        if self.model.row_of(hit_id) is None and hit_id in self._by_id:
            self.filters.clear()
            self._say(f"Filters cleared to show hit {hit_id}.")
        row = self.model.row_of(hit_id)
        if row is not None:
            self.select(row)
            self.table.setFocus()

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        item = self.model.item(current.row())
        case = self.state.case
        self.note.clear()
        if item is None or case is None or self._folder is None:
            return
        self.details.show_hit(item, history(case.db, item["hit_id"]),
                              lambda hit_id: (self._by_id.get(hit_id) or {}).get("status"))
        photos, why = self.references.of(item["person_id"])
        self.faces.show_hit(item, self._folder, photos, why)

    # --- decisions ---------------------------------------------------------------------------

    def decide(self, verdict: str, hit_ids: list[int] | None = None) -> bool:
        """Record `verdict` on the selected hit (or `hit_ids`), then go to the next pending."""
        item, case = self.current_item(), self.state.case
        if item is None or case is None:
            self._say("No hit is selected.", warn=True)
            return False
        reviewer = self._save_reviewer()
        if not reviewer:
            self._say("Enter your name as reviewer first: every decision records who made it.",
                      warn=True)
            self.reviewer.setFocus()
            return False
        ids = hit_ids or [item["hit_id"]]
        if attempt(self, lambda: decide(case.db, ids, verdict, reviewer, self.note.text())) is None:
            return False
        self._last_verdict = verdict
        for hit_id in ids:
            if hit_id in self._by_id:
                with_decision(self._by_id[hit_id], history(case.db, hit_id)[-1])
        self.model.refresh(ids)
        self.state.decisions_changed.emit()
        self._say(f"{verdict} recorded for {len(ids)} hit(s) by {reviewer}.")
        self._next_pending()
        return True

    def decide_track(self) -> None:
        item, case = self.current_item(), self.state.case
        if item is None or case is None:
            return
        if self._last_verdict is None:
            self._say("Decide one hit first (C, R or U); T then gives that verdict to a whole "
                      "video track.", warn=True)
        elif item.get("track_id") is None:
            self._say(f"Hit {item['hit_id']} is not from a video track.", warn=True)
        else:
            self.decide(self._last_verdict, hits_of_track(case.db, item["hit_id"]))

    def _next_pending(self) -> None:
        rows = self.model.rowCount()
        here = self.table.currentIndex().row()
        for row in [*range(here + 1, rows), *range(0, here + 1)]:
            if self.model.item(row)["status"] == PENDING:
                self.select(row)
                return
        self._current_changed(self.table.currentIndex(), QModelIndex())  # show the new status
        self._say("No pending hit left in this list.")

    # --- reviewer, messages, screenshots -----------------------------------------------------

    def _save_reviewer(self) -> str:
        name = self.reviewer.text().strip()
        if name != self.state.settings.reviewer:
            attempt(self, lambda: self.state.update_settings(
                replace(self.state.settings, reviewer=name)))
        return name

    def _settings_changed(self) -> None:
        if not self.reviewer.hasFocus() and self.reviewer.text() != self.state.settings.reviewer:
            self.reviewer.setText(self.state.settings.reviewer)

    def _gallery_changed(self) -> None:
        self.references.forget()
        self._current_changed(self.table.currentIndex(), QModelIndex())

    def _say(self, text: str, warn: bool = False) -> None:
        self.message.setStyleSheet("color: #b3261e;" if warn else "")
        self.message.setText(text)

    def settle(self) -> None:
        if self._load is not None and self._load.is_running():
            self._load.thread.wait(60_000)
        for _ in range(3):
            QApplication.processEvents()
            self.grab()  # paint once: the list asks for the thumbnails of the rows on screen
            self.thumbnails.wait_idle()
            self.faces.wait_idle()
            QApplication.processEvents()
