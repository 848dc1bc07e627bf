"""The Review page: a reviewer goes through the candidate hits with the keyboard and records
a verdict on each; no hit is an identification until a person confirms it.

The hits show as a table (one row per hit, sortable by any column) or as a grid of faces (one
tile per probe face, however many candidates it has; G switches). J / Down next, K / Up
previous, Home / End first and last, Shift / Ctrl select several; C confirm, R reject, U
unsure (all selected hits, with one note), N note (Enter returns to the list), T the selected
hit's verdict and note for every hit of its video track, Ctrl+Z undo the last decision made
here, + / - / 0 zoom the context image, Ctrl+F the filters, F1 every key. What is decided is
always what is selected on screen; after a decision the next pending hit below comes up, and
at the end the selection stays (a decision never wraps to a hit the reviewer has not seen).
Decisions go through `desktop.review.decisions`, as `homeward review decide` and `undo` do;
the queue is read in the background, and the list, the faces and the details follow the
selection.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from operator import itemgetter
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.review.decisions import current_decisions, decide, history, undo
from desktop.review.queue import PENDING, filter_items, group_by_face, hits_of_track, with_decision
from desktop.ui.dialogs import attempt, show_failure
from desktop.ui.hits_model import HitsModel, HitsTable
from desktop.ui.pages.base import Page, ScreenshotView
from desktop.ui.plain import plain_label
from desktop.ui.review_faces import FacesView, ReferencePhotos
from desktop.ui.review_filters import ReviewFilters
from desktop.ui.review_grid import TILE_SIDE, FaceTilesModel, TileGrid
from desktop.ui.review_keys import PLAIN, REVIEW_KEYS, KeyCommands
from desktop.ui.review_panel import DecisionBar, HitDetails
from desktop.ui.review_queue import Queue, read_queue
from desktop.ui.shortcut_sheet import ShortcutSheet
from desktop.ui.state import AppState
from desktop.ui.tasks import Failure, Task, TaskRunner
from desktop.ui.thumbnails import ThumbnailLoader

ROW_HEIGHT = 52
NO_CASE = ("No case is open.\n\nOpen or create one on the Cases page (Ctrl+1);\n"
           "its hits are reviewed here.")
AT_THE_END = "no more pending below; the selection stays here"


@dataclass(frozen=True)
class Done:
    """One decision made on this page, as Ctrl+Z takes it back."""

    decision_ids: list[int]
    hit_ids: list[int]
    verdict: str


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
        self._done: list[Done] = []  # this page's decisions, newest last, for Ctrl+Z
        self._chosen: dict[int, int] = {}  # face id -> the candidate hit its tile shows
        self._note_hit: int | None = None  # the hit shown when the note was typed
        self.sheet: ShortcutSheet | None = None
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
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.tiles = ThumbnailLoader(side=TILE_SIDE, parent=self)
        self.grid_model = FaceTilesModel(self.tiles, self)
        self.grid = TileGrid(self.grid_model)
        self.grid.setObjectName("reviewGrid")
        self.grid.selectionModel().currentChanged.connect(self._current_changed)
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        self.views = QStackedWidget()
        self.views.addWidget(self.table)
        self.views.addWidget(self.grid)
        self.grid_button = QPushButton("Grid of faces (G)")
        self.grid_button.setObjectName("gridToggle")
        self.grid_button.setCheckable(True)
        self.grid_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.grid_button.setToolTip("One tile per face, however many candidates it has")
        self.grid_button.toggled.connect(self.show_grid)
        keys_button = QPushButton("Keys (F1)")
        keys_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        keys_button.clicked.connect(self.show_keys)
        self.message = plain_label(wrap=True)  # names the reviewer as typed
        self.message.setObjectName("reviewMessage")
        top = QHBoxLayout()
        top.addWidget(self.filters, 1)
        top.addWidget(self.grid_button)
        top.addWidget(keys_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(top)
        left_layout.addWidget(self.views, 1)
        left_layout.addWidget(self.message)
        self.faces = FacesView()
        self.details = HitDetails()
        self.details.candidate_chosen.connect(self.go_to)
        self.bar = DecisionBar(self.state.settings.reviewer)
        self.reviewer, self.note = self.bar.reviewer, self.bar.note
        self.note.textEdited.connect(self._note_typed)
        self.bar.verdict.connect(self.decide)
        self.bar.track.connect(self.decide_track)
        self.bar.undo.connect(self.undo_last)
        self.bar.done_typing.connect(self._focus_list)
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
            (K.Key_Z, ctrl): self.undo_last, (K.Key_F1, PLAIN): self.show_keys,
            (K.Key_G, PLAIN): lambda: self.grid_button.setChecked(not self.grid_button.isChecked()),
            (K.Key_F, ctrl): self.filters.status.setFocus,
            (K.Key_Plus, PLAIN): lambda: zoom.zoom(1.25), (K.Key_Equal, PLAIN): lambda: zoom.zoom(1.25),
            (K.Key_Minus, PLAIN): lambda: zoom.zoom(0.8), (K.Key_0, PLAIN): zoom.fit,
        }
        self.keys = KeyCommands(commands, self)
        self.keys.watch(self.table, self.grid, self.details.candidates)
        back = KeyCommands({(K.Key_Escape, PLAIN): self._focus_list}, self)
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
        self._done.clear()
        self._chosen.clear()
        self._clear_note()
        self.model.set_items([], None)
        self.grid_model.set_groups([], None)
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
        self.grid_model.set_groups(group_by_face(shown), self._folder)
        row = self._row_of(current["hit_id"]) if current else None
        self.select(row if row is not None else 0)
        pending = list(map(itemgetter("status"), self._all)).count(PENDING)
        self._say(f"{len(shown)} of {len(self._all)} hits shown · {pending} pending")

    # --- the two views: a row per hit, or a tile per face ------------------------------------

    def in_grid(self) -> bool:
        return self.views.currentWidget() is self.grid

    def _view(self) -> QAbstractItemView:
        return self.grid if self.in_grid() else self.table

    def _count(self) -> int:
        return self.grid_model.rowCount() if self.in_grid() else self.model.rowCount()

    def _item_at(self, row: int) -> dict | None:
        """The hit a row of the shown view stands for (a tile: its chosen candidate)."""
        if not self.in_grid():
            return self.model.item(row)
        group = self.grid_model.group(row)
        if group is None:
            return None
        chosen = self._chosen.get(group.face_id)
        return next((h for h in group.hits if h["hit_id"] == chosen), group.lead)

    def _row_of(self, hit_id: int) -> int | None:
        return self.grid_model.row_of(hit_id) if self.in_grid() else self.model.row_of(hit_id)

    def show_grid(self, grid: bool) -> None:
        """Switch views, keeping the shown hit (in the grid, its face's tile)."""
        current = self.current_item()
        if current is not None and grid:
            self._chosen[current["face_id"]] = current["hit_id"]
        self.views.setCurrentWidget(self.grid if grid else self.table)
        self.setFocusProxy(self._view())
        row = self._row_of(current["hit_id"]) if current else None
        self.select(row if row is not None else 0)
        self._focus_list()

    def _focus_list(self) -> None:
        self._view().setFocus()

    # --- navigation --------------------------------------------------------------------------

    def current_item(self) -> dict | None:
        index = self._view().currentIndex()
        return self._item_at(index.row()) if index.isValid() else None

    def selected_items(self) -> list[dict]:
        """The hits a decision applies to: every selected row or tile, else the current one."""
        rows = sorted({index.row() for index in self._view().selectionModel().selectedIndexes()})
        items = [item for item in map(self._item_at, rows) if item is not None]
        current = self.current_item()
        return items or ([current] if current else [])

    def select(self, row: int) -> None:
        if not 0 <= row < self._count():
            self.faces.clear("no hit to show")
            self.details.clear()
            return
        view = self._view()
        index = view.model().index(row, 0)
        view.setCurrentIndex(index)
        view.scrollTo(index)

    def step(self, delta: int) -> None:
        row = self._view().currentIndex().row()
        self.select(min(max(0, row + delta), self._count() - 1))

    def go_to(self, hit_id: int) -> None:
        """Show this hit, clearing the filters if they hide it."""
        if self._row_of(hit_id) is None and hit_id in self._by_id:
            self.filters.clear()
            self._say(f"Filters cleared to show hit {hit_id}.")
        row = self._row_of(hit_id)
        if row is None:
            return
        if self.in_grid():
            self._chosen[self._by_id[hit_id]["face_id"]] = hit_id
            self.grid_model.refresh([hit_id])
            if self.grid.currentIndex().row() == row:
                self._show_current()
        self.select(row)
        self._focus_list()

    def _current_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_current()

    def _note_typed(self) -> None:
        if self._note_hit is None:
            item = self.current_item()
            self._note_hit = item["hit_id"] if item else None

    def _selection_changed(self) -> None:
        """A note belongs to the hit it was typed on: it goes when that hit leaves the
        selection (a move), and stays while Shift or Ctrl adds hits to decide with it."""
        if self._note_hit is not None and self._note_hit not in {
                item["hit_id"] for item in self.selected_items()}:
            self._clear_note()

    def _clear_note(self) -> None:
        self.note.clear()
        self._note_hit = None

    def _show_current(self) -> None:
        item, case = self.current_item(), self.state.case
        if item is None or case is None or self._folder is None:
            return
        self.details.show_hit(item, history(case.db, item["hit_id"]),
                              lambda hit_id: (self._by_id.get(hit_id) or {}).get("status"))
        photos, why = self.references.of(item["person_id"])
        self.faces.show_hit(item, self._folder, photos, why)

    # --- decisions ---------------------------------------------------------------------------

    def _reviewer_or_ask(self) -> str:
        reviewer = self._save_reviewer()
        if not reviewer:
            self._say("Enter your name as reviewer first: every decision records who made it.",
                      warn=True)
            self.reviewer.setFocus()
        return reviewer

    def decide(self, verdict: str) -> bool:
        """Record `verdict` on the selected hits with the note typed, then go to the next
        pending hit below them (never back to the top: at the end the selection stays)."""
        items, case = self.selected_items(), self.state.case
        if not items or case is None:
            self._say("No hit is selected.", warn=True)
            return False
        if not self._record(verdict, [item["hit_id"] for item in items], self.note.text()):
            return False
        last = max(self._row_of(item["hit_id"]) or 0 for item in items)
        self._next_pending(last)
        return True

    def _record(self, verdict: str, hit_ids: list[int], note: str | None) -> bool:
        case, reviewer = self.state.case, self._reviewer_or_ask()
        if case is None or not reviewer:
            return False
        ids = attempt(self, lambda: decide(case.db, hit_ids, verdict, reviewer, note))
        if ids is None:
            return False
        self._done.append(Done(ids, hit_ids, verdict))
        self._clear_note()  # used: the next decision starts without one
        self._update(hit_ids)
        self._say(f"{verdict} recorded for {len(hit_ids)} hit(s) by {reviewer}.")
        return True

    def _update(self, hit_ids: list[int]) -> None:
        """Take these hits' current decisions into the shown queue and repaint them."""
        case = self.state.case
        if case is None:
            return
        now = current_decisions(case.db, hit_ids)
        for hit_id in hit_ids:
            if hit_id in self._by_id:
                with_decision(self._by_id[hit_id], now.get(hit_id))
        self.model.refresh(hit_ids)
        self.grid_model.refresh(hit_ids)
        self.state.decisions_changed.emit()

    def decide_track(self) -> None:
        """The selected hit's verdict and note, for every hit of its video track that does not
        have them yet (a hit already decided alike gets no second decision)."""
        item, case = self.current_item(), self.state.case
        if item is None or case is None:
            return
        if item["status"] == PENDING:
            self._say(f"Decide hit {item['hit_id']} first (C, R or U): T then gives its verdict "
                      "and note to its whole video track.", warn=True)
            return
        if item.get("track_id") is None:
            self._say(f"Hit {item['hit_id']} is not from a video track.", warn=True)
            return
        track = hits_of_track(case.db, item["hit_id"])
        todo = [hit_id for hit_id in track if hit_id not in self._by_id
                or (self._by_id[hit_id]["status"], self._by_id[hit_id]["note"])
                != (item["status"], item["note"])]
        if not todo:
            self._say(f"Every hit of track {item['track_id']} is already {item['status']} with "
                      "this note: nothing recorded.")
            return
        self._record(item["status"], todo, item["note"])
        self._show_current()

    def undo_last(self) -> None:
        """Take back the newest decision made here: an undo recorded (and audited) in the
        case, the hits' earlier verdicts (or pending) current again."""
        case = self.state.case
        if case is None or not self._done:
            self._say("Nothing to undo: no decision was made here since the case was opened.",
                      warn=True)
            return
        reviewer = self._reviewer_or_ask()
        if not reviewer:
            return
        done = self._done[-1]
        if attempt(self, lambda: undo(case.db, done.decision_ids, reviewer)) is None:
            return
        self._done.pop()
        self._update(done.hit_ids)
        self.go_to(done.hit_ids[0])
        self._show_current()
        now = sorted({self._by_id[h]["status"] for h in done.hit_ids if h in self._by_id})
        self._say(f"Undone: {done.verdict} on {len(done.hit_ids)} hit(s); now "
                  f"{', '.join(now) or 'pending'}.")

    def _next_pending(self, after: int) -> None:
        for row in range(after + 1, self._count()):
            item = self._item_at(row)
            if item is not None and item["status"] == PENDING:
                self.select(row)
                return
        self._show_current()  # the new status, where the selection stays
        self._say(f"{self.message.text()} Last hit — {AT_THE_END}.")

    def show_keys(self) -> ShortcutSheet:
        if self.sheet is None:
            self.sheet = ShortcutSheet("Review keys", REVIEW_KEYS, self)
        self.sheet.show()
        self.sheet.raise_()
        return self.sheet

    def screenshot_views(self) -> list[ScreenshotView]:
        """The grid of faces (the face-centred candidates beside it), then the key sheet."""

        def grid() -> None:
            self.grid_button.setChecked(True)
            self.settle()

        return [ScreenshotView("grid", grid), ScreenshotView("keys", self.show_keys)]

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
        self._show_current()

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
            self.tiles.wait_idle()
            self.faces.wait_idle()
            QApplication.processEvents()
