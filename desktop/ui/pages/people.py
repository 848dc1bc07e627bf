"""The People page: every face of the case grouped into people, and the examiner's work on
them, keyboard first.

The grid shows one tile per cluster, largest first (irrelevant ones last, greyed). Enter
opens a cluster: its faces, each file, and the selected face in its context image. Keys:
N name, M merge the selected clusters (into the largest), S split the selected faces out,
X "not this person", I irrelevant on/off, F search by the selected face, L cross-case links
(reviewed with C, R, U as on the Review page), Esc back, F1 the key sheet; the grids move and
select as the Review page's (Home/End, PgUp/PgDn, Shift and Ctrl); a photo dropped on the page
searches by its face. Every change goes through
`desktop.people.operations` (as the CLI's do) under the examiner's name, then the page reads
the case again in the background; reads and searches never run on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QDoubleSpinBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.people.case_people import Cluster, face_vector
from desktop.ui import people_data, people_ops
from desktop.ui.dialogs import attempt, show_failure
from desktop.ui.pages.base import Page, ScreenshotView
from desktop.ui.people_data import People
from desktop.ui.people_grid import ClusterModel, ClusterTile, FaceTile, PeopleGrid
from desktop.ui.people_links import LinksPanel
from desktop.ui.people_panel import FacesPanel
from desktop.ui.people_probe import PhotoProbe
from desktop.ui.people_search import FaceSearch, Found, Probe
from desktop.ui.person_form import dropped_files
from desktop.ui.plain import plain_label
from desktop.ui.review_keys import PLAIN, KeyCommands
from desktop.ui.review_queue import collector_paused
from desktop.ui.shortcut_sheet import ShortcutSheet
from desktop.ui.state import AppState
from desktop.ui.tasks import Failure, Task, TaskRunner
from desktop.ui.thumbnails import ThumbnailLoader

NO_CASE = "No case is open.\n\nOpen or create one on the Cases page (Ctrl+1);\nits people are shown here."
HINT = ("Enter open · N name · M merge · S split · X not this person · I irrelevant · "
        "F search by face · L cross-case links · Esc back · F1 keys · drop a photo to search by it")
# Every key of the People page, as the F1 sheet lists it (the page and its links panel bind
# the same keys); moving and selecting are the review grid's.
PEOPLE_KEYS = (
    ("Arrows", "the next tile"), ("Home / End", "first / last tile"),
    ("PgUp / PgDn", "a page up / down"),
    ("Shift+arrows, Shift+click", "select a range of tiles"),
    ("Ctrl+click, Ctrl+Space", "add a tile to the selection, or take it out"),
    ("Enter / Return", "open the cluster (a face or link: its cluster)"),
    ("N", "name the cluster (links: a note for the next decision; Enter returns)"),
    ("M", "merge the selected clusters into the largest"),
    ("S", "open cluster: split the selected faces out, together, as another person"),
    ("X", "open cluster: not this person, each selected face leaves the cluster"),
    ("I", "mark the selected clusters (or the open one) irrelevant; again: relevant"),
    ("F", "search the case by the selected face (in the grid: the cluster's)"),
    ("L", "cross-case links, the selected cluster's first (leads, not identifications)"),
    ("C", "links: confirm the selected link"), ("R", "links: reject the selected link"),
    ("U", "links: mark the selected link unsure"),
    ("Esc", "back (from a field: to the grid)"),
    ("Drop a photo", "search the case by its face; the threshold box sets the lowest score"),
    ("F1", "this sheet"),
)
CLUSTERS, CLUSTER, SEARCH, LINKS = "clusters", "cluster", "search", "links"


def _read_with_tiles(folder: Path) -> tuple[People, list[ClusterTile]]:
    """The people of the case and their tiles, made off the GUI thread (100,000 clusters: 0.5 s)
    and kept out of the garbage collector, whose passes over them would stop the GUI too."""
    with collector_paused():  # as the review queue: no full collections over them
        people = people_data.read_people(folder)
        return people, [ClusterTile.of(c, people.images) for c in people.clusters]


class PeoplePage(Page):
    title = "People"

    def __init__(self, state: AppState, tasks: TaskRunner) -> None:
        super().__init__(state, tasks)
        self.mode = CLUSTERS
        self._people: People | None = None
        self._folder: Path | None = None
        self._open: int | None = None  # the open cluster
        self._select: int | None = None  # the cluster to select once the grid is read again
        self._load: Task | None = None
        self._probing: PhotoProbe | None = None
        self._generation = 0
        self._loading = False
        self.sheet: ShortcutSheet | None = None
        self.search = FaceSearch(tasks, self)
        self.search.found.connect(self._found)
        self.search.failed.connect(lambda failure: show_failure(self, failure, "Search not done"))
        self._stale = True
        self._build()
        self.setAcceptDrops(True)
        state.case_changed.connect(self._case_changed)
        state.hits_changed.connect(self._faces_added)
        state.settings_changed.connect(self._settings_changed)

    # --- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.thumbnails = ThumbnailLoader(side=96, capacity=4000, parent=self)
        self.cluster_model = ClusterModel(self.thumbnails, self)
        self.cluster_grid = PeopleGrid(self.cluster_model, "clusterGrid")
        self.faces = FacesPanel(self.thumbnails)
        self.face_model, self.face_grid = self.faces.model, self.faces.grid
        for grid in (self.cluster_grid, self.face_grid):
            grid.doubleClicked.connect(lambda _index: self.open_current())
            grid.customContextMenuRequested.connect(
                lambda pos, g=grid: self.context_menu(g).popup(g.viewport().mapToGlobal(pos)))
        self.examiner = QLineEdit(self.state.settings.reviewer,
                                  placeholderText="your name: recorded with every change")
        self.examiner.setObjectName("peopleExaminer")
        self.examiner.setMinimumWidth(260)
        self.examiner.editingFinished.connect(self._save_examiner)
        self.examiner.returnPressed.connect(lambda: self._keys_widget().setFocus())
        self.threshold = QDoubleSpinBox(decimals=3, minimum=-1.0, maximum=1.0, singleStep=0.01)
        self.threshold.setObjectName("searchThreshold")
        self.threshold.setKeyboardTracking(False)
        self.threshold.setToolTip("Search by face: the lowest similarity shown")
        self.threshold.valueChanged.connect(self._threshold_changed)
        tools = QHBoxLayout()
        for text, widget in (("Examiner", self.examiner), ("Search threshold", self.threshold)):
            tools.addWidget(QLabel(text))
            tools.addWidget(widget)
        tools.addStretch(1)
        self.links = LinksPanel(self.state, self.tasks, self._examiner)
        self.links.open_cluster.connect(self.open_cluster)
        self.links.back.connect(self.back)
        self.links.said.connect(self._say)
        self.no_case = QLabel(NO_CASE, alignment=Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        for widget in (self.no_case, self.cluster_grid, self.faces, self.links):
            self.stack.addWidget(widget)
        self.message = plain_label(wrap=True)
        self.message.setObjectName("peopleMessage")
        self.hint = QLabel(HINT, wordWrap=True)
        self.hint.setObjectName("peopleKeys")
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.hint)
        self._install_keys()
        self._show_mode(CLUSTERS)

    @property
    def heading(self) -> QLabel:
        return self.faces.heading

    def _install_keys(self) -> None:
        K = Qt.Key
        commands: dict[tuple[Qt.Key, Qt.KeyboardModifier], Callable[[], object]] = {
            (K.Key_Return, PLAIN): self.open_current, (K.Key_Enter, PLAIN): self.open_current,
            (K.Key_N, PLAIN): self.name_dialog, (K.Key_M, PLAIN): self.merge_selected,
            (K.Key_S, PLAIN): self.split_selected, (K.Key_X, PLAIN): self.not_this_person,
            (K.Key_I, PLAIN): self.toggle_irrelevant, (K.Key_F, PLAIN): self.search_current,
            (K.Key_L, PLAIN): self.show_links,
            (K.Key_Escape, PLAIN): self.back, (K.Key_F1, PLAIN): self.show_keys,
        }
        self.keys = KeyCommands(commands, self)
        self.keys.watch(self.cluster_grid, self.face_grid, self.faces.context)
        back = KeyCommands({(K.Key_Escape, PLAIN): lambda: self._keys_widget().setFocus()}, self)
        back.watch(self.examiner, self.threshold)
        KeyCommands({(K.Key_F1, PLAIN): self.show_keys}, self).watch(self.links.table)

    def _grid(self) -> PeopleGrid:
        return self.cluster_grid if self.mode == CLUSTERS else self.face_grid

    def _keys_widget(self) -> QWidget:
        """Where the keys go in this mode: the grid shown, or the links list."""
        return self.links.table if self.mode == LINKS else self._grid()

    def _show_mode(self, mode: str) -> None:
        self.mode = mode
        if self.state.case is None:
            self.stack.setCurrentWidget(self.no_case)
            return
        shown = {CLUSTERS: self.cluster_grid, LINKS: self.links}.get(mode, self.faces)
        self.stack.setCurrentWidget(shown)
        focus = self._keys_widget()
        self.setFocusProxy(focus)
        focus.setFocus()

    # --- reading -----------------------------------------------------------------------------

    def activated(self) -> None:
        if self._stale:
            self.reload()

    def _case_changed(self) -> None:
        self._generation += 1  # results of the previous case are dropped on arrival
        self._people, self._folder, self._open = None, None, None
        self._loading = False
        self.search.forget()
        self.links.forget()
        self.cluster_model.set_tiles([], None)
        self.faces.show_faces("", [], None, {})
        self._show_mode(CLUSTERS)
        self._stale = True
        if self.isVisible():
            self.reload()

    def _faces_added(self) -> None:
        self._stale = True
        if self.isVisible():
            self.reload()

    def reload(self) -> None:
        """Read the people of the case again (background), keeping what is on screen."""
        self._stale = False
        case = self.state.case
        if case is None:
            self._show_mode(CLUSTERS)
            return
        generation, folder = self._generation, case.folder
        self._loading = True
        self._load = self.tasks.start(
            "read the people of the case", lambda _c: _read_with_tiles(folder),
            on_success=lambda read: self._loaded(generation, folder, *read),
            on_failure=lambda failure: self._load_failed(generation, failure))

    def _load_failed(self, generation: int, failure: Failure) -> None:
        if generation == self._generation:
            self._loading = False
            self._say("The people of this case could not be read.", warn=True)
            show_failure(self, failure)

    def _loaded(self, generation: int, folder: Path, people: People,
                tiles: list[ClusterTile]) -> None:
        if generation != self._generation:
            return
        first = self._people is None
        self._loading, self._people, self._folder = False, people, folder
        if first:  # the pack's default; the examiner's choice is kept while the case is open
            self.threshold.blockSignals(True)
            self.threshold.setValue(people.search_threshold)
            self.threshold.blockSignals(False)
            self._say(f"{len(people.clusters)} people (clusters) in {len(people.images)} faces.")
        chosen = self._select if self._select is not None else self._current_cluster_id()
        self._select = None
        self.cluster_model.set_tiles(tiles, folder)
        self._select_cluster(chosen)
        if self.mode == CLUSTER and self._cluster(self._open) is not None:
            self.open_cluster(self._open)
        elif self.mode == LINKS:
            link = self.links.current()
            self.links.load(folder, link.cluster_id if link is not None else None)
        elif self.mode == SEARCH:
            self.faces.show_faces(self.heading.text(), [
                replace(t, cluster_id=people.cluster_of.get(t.face_id)) for t in self.faces.tiles()],
                folder, people.images, self.face_grid.currentIndex().row())
        else:
            self._open = None
            self._show_mode(CLUSTERS)

    def busy(self) -> bool:
        """Reading, searching, finding the faces of a photo or reading cross-case links."""
        return (self._loading or self.search.searching or self._probing is not None
                or self.links.reading)

    def settle(self) -> None:
        if self._load is not None:
            self._load.thread.wait(60_000)
        self.search.wait()
        self.links.wait()
        for _ in range(3):
            QApplication.processEvents()
            self.grab()  # paint once: the grid asks for the crops of the tiles on screen
            self.thumbnails.wait_idle()
            self.faces.contexts.wait_idle()
            QApplication.processEvents()

    # --- what is selected --------------------------------------------------------------------

    def _cluster(self, cluster_id: int | None) -> Cluster | None:
        if self._people is None or cluster_id is None:
            return None
        return next((c for c in self._people.clusters if c.cluster_id == cluster_id), None)

    def _current_tile(self) -> ClusterTile | None:
        return self.cluster_model.tile(self.cluster_grid.currentIndex().row())

    def _current_cluster_id(self) -> int | None:
        tile = self._current_tile()
        return tile.cluster.cluster_id if tile is not None else None

    def _select_cluster(self, cluster_id: int | None) -> None:
        rows = [r for r in range(self.cluster_model.rowCount())
                if self.cluster_model.tile(r).cluster.cluster_id == cluster_id] or [0]
        if self.cluster_model.rowCount():
            index = self.cluster_model.index(rows[0])
            self.cluster_grid.setCurrentIndex(index)
            self.cluster_grid.scrollTo(index)

    def _target(self) -> Cluster | None:
        """The cluster N acts on: the open one, or the grid's or result's current one."""
        if self.mode == CLUSTER:
            return self._cluster(self._open)
        if self.mode == SEARCH:
            face = self.faces.current()
            return self._cluster(face.cluster_id if face else None)
        tile = self._current_tile()
        return tile.cluster if tile is not None else None

    # --- moving around -----------------------------------------------------------------------

    def open_current(self) -> None:
        if self.mode == CLUSTERS:
            cluster_id = self._current_cluster_id()
        else:
            face = self.faces.current()
            cluster_id = face.cluster_id if face is not None else None
        if cluster_id is None:
            self._say("This face is in no cluster yet: its scan has not finished.", warn=True)
        elif self.mode != CLUSTER or cluster_id != self._open:
            self.open_cluster(cluster_id)

    def open_cluster(self, cluster_id: int) -> None:
        cluster = self._cluster(cluster_id)
        if cluster is None or self._people is None:
            return
        keep = self.face_grid.currentIndex().row() if self._open == cluster_id else 0
        images = self._people.images
        tiles = [FaceTile(f.face_id, f.path, f.frame, f.box,
                          images[f.face_id].crop if f.face_id in images else None, cluster_id)
                 for f in cluster.faces]
        tile = ClusterTile.of(cluster, images)
        marked = " · marked irrelevant" if cluster.irrelevant else ""
        self._open = cluster_id
        self._show_mode(CLUSTER)
        self.faces.show_faces(f"{tile.title} · {tile.counts}{marked}", tiles, self._folder,
                              images, keep)

    def show_links(self) -> None:
        """The case's cross-case links, the selected (or open) cluster's first made current."""
        if self.state.case is None or self._folder is None:
            return
        cluster = self._target()
        self._open = None
        self._show_mode(LINKS)
        self.links.load(self._folder, cluster.cluster_id if cluster is not None else None)

    def back(self) -> None:
        probe = self.search.probe
        if self.mode == SEARCH and probe is not None and self._cluster(probe.back_to) is not None:
            self.open_cluster(probe.back_to)
        elif self.mode == LINKS:
            link = self.links.current()
            if link is not None:
                self._select_cluster(link.cluster_id)
            self._show_mode(CLUSTERS)
        elif self.mode != CLUSTERS:
            self._select_cluster(self._open)
            self._open = None
            self._show_mode(CLUSTERS)

    def context_menu(self, grid: PeopleGrid) -> QMenu:
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        entries = [("Search by this face\tF", self.search_current),
                   ("Name…\tN", self.name_dialog), ("Irrelevant on/off\tI", self.toggle_irrelevant),
                   ("Cross-case links\tL", self.show_links)]
        if grid is self.cluster_grid:
            entries[1:1] = [("Open\tEnter", self.open_current),
                            ("Merge selected\tM", self.merge_selected)]
        elif self.mode == CLUSTER:
            entries += [("Split selected out\tS", self.split_selected),
                        ("Not this person\tX", self.not_this_person)]
        else:
            entries.append(("Open its cluster\tEnter", self.open_current))
        for text, slot in entries:
            menu.addAction(text, slot)
        return menu

    def show_keys(self) -> ShortcutSheet:
        if self.sheet is None:
            self.sheet = ShortcutSheet("People keys", PEOPLE_KEYS, self)
        self.sheet.show()
        self.sheet.raise_()
        return self.sheet

    def screenshot_views(self) -> list[ScreenshotView]:
        """The key sheet."""
        return [ScreenshotView("keys", self.show_keys)]

    # --- the examiner's operations -----------------------------------------------------------

    def _examiner(self) -> str | None:
        name = self._save_examiner()
        if not name:
            self._say("Enter your name as examiner first: every change records who made it.",
                      warn=True)
            self.examiner.setFocus()
            return None
        return name

    def _operate(self, action: Callable[..., str]) -> bool:
        """`action(db, examiner)` on the GUI thread's case (one quick sealed write), then the
        people are read again, also after a failure: what was done is shown as it is."""
        case = self.state.case
        if case is None or self._people is None:
            return False
        if self._loading:
            self._say("Still reading the people of this case; try again in a moment.", warn=True)
            return False
        examiner = self._examiner()
        if examiner is None:
            return False
        said = attempt(self, lambda: action(case.db, examiner))
        if said is not None:
            self._say(said)
        self.reload()
        return said is not None

    def name_dialog(self) -> QInputDialog | None:
        cluster = self._target()
        if cluster is None or cluster.cluster_id is None or self._examiner() is None:
            return None
        dialog = QInputDialog(self)
        dialog.setObjectName("clusterName")
        dialog.setWindowTitle("Name this person")
        dialog.setLabelText(f"A working name for cluster {cluster.cluster_id} "
                            f"({len(cluster.faces)} faces), e.g. Unknown girl, red jacket:")
        dialog.setTextValue(cluster.name or "")
        cluster_id = cluster.cluster_id
        dialog.textValueSelected.connect(lambda text: self.name_cluster(cluster_id, text))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def name_cluster(self, cluster_id: int, name: str) -> bool:
        self._select = cluster_id
        return self._operate(lambda db, examiner: people_ops.name(db, examiner, cluster_id, name))

    def merge_selected(self) -> bool:
        tiles = [self.cluster_model.tile(r) for r in self.cluster_grid.selected_rows()]
        tiles = [t for t in tiles if t.cluster.cluster_id is not None]
        if self.mode != CLUSTERS or len(tiles) < 2:
            self._say("Select two or more clusters in the grid (Ctrl+click, Shift+arrows), "
                      "then M merges them.", warn=True)
            return False
        into = max(tiles, key=lambda t: t.faces).cluster.cluster_id  # the first of the largest
        others = [t.cluster.cluster_id for t in tiles if t.cluster.cluster_id != into]
        self._select = into
        return self._operate(lambda db, examiner: people_ops.merge(db, examiner, into, others))

    def _selected_faces(self, verb: str) -> list[int]:
        if self.mode != CLUSTER or self._open is None:
            self._say(f"Open a cluster (Enter) and select the faces to {verb}.", warn=True)
            return []
        return [tile.face_id for tile in self.faces.selected()]

    def split_selected(self) -> bool:
        faces, cluster_id = self._selected_faces("split out"), self._open
        return bool(faces) and cluster_id is not None and self._operate(
            lambda db, examiner: people_ops.split(db, examiner, cluster_id, faces))

    def not_this_person(self) -> bool:
        faces, cluster_id = self._selected_faces("take out"), self._open
        return bool(faces) and cluster_id is not None and self._operate(
            lambda db, examiner: people_ops.take_out(db, examiner, cluster_id, faces))

    def toggle_irrelevant(self) -> bool:
        """The selected clusters in the grid, or the open (or current result's) cluster."""
        if self.mode == CLUSTERS:
            chosen = [self.cluster_model.tile(r).cluster for r in self.cluster_grid.selected_rows()]
        else:
            chosen = [c for c in (self._target(),) if c is not None]
        marks = [(c.cluster_id, c.irrelevant) for c in chosen if c.cluster_id is not None]
        return bool(marks) and self._operate(
            lambda db, examiner: people_ops.toggle_irrelevant(db, examiner, marks))

    # --- search by face ----------------------------------------------------------------------

    def search_current(self) -> None:
        """Search by the selected face (in the grid: the cluster's face)."""
        case = self.state.case
        if self.mode == CLUSTERS:
            tile = self._current_tile()
            face_id = tile.face.face_id if tile is not None else None
        else:
            face = self.faces.current()
            face_id = face.face_id if face is not None else None
        vector = face_vector(case.db, face_id) if case is not None and face_id is not None else None
        if vector is not None:
            self.search_by(f"face {face_id}", vector)

    def search_photo(self, photo: Path) -> PhotoProbe | None:
        """Search the case by the face of a photo the investigator brings."""
        case, generation = self.state.case, self._generation
        if case is None or self._probing is not None:
            return None
        name = Path(photo).name
        self._say(f"Finding the faces of {name}…")
        probe = PhotoProbe(self, self.tasks, photo, case.info.pack_id, self.state.settings.provider)
        probe.found.connect(lambda vector: self.search_by(name, vector)
                            if generation == self._generation else None)
        probe.ended.connect(lambda: setattr(self, "_probing", None))
        probe.ended.connect(probe.deleteLater)
        self._probing = probe
        probe.start()
        return probe

    def search_by(self, label: str, vector: np.ndarray) -> None:
        probe = self.search.probe
        back_to = self._open if self.mode == CLUSTER else (
            probe.back_to if self.mode == SEARCH and probe is not None else None)
        self._search(Probe(label, vector, back_to))

    def _search(self, probe: Probe) -> None:
        if self.state.case is not None:
            self._say(f"Searching the case for {probe.label}…")
            self.search.run(self.state.case.folder, probe, self.threshold.value())

    def _found(self, found: Found) -> None:
        if self._people is None:
            return
        images, cluster_of = self._people.images, self._people.cluster_of
        tiles = [FaceTile(h.face_id, h.path, h.frame, h.box,
                          images[h.face_id].crop if h.face_id in images else None,
                          cluster_of.get(h.face_id), h.score) for h in found.hits]
        self._show_mode(SEARCH)
        self.faces.show_faces(f"Faces like {found.probe.label}: {len(tiles)} at or above "
                              f"{found.threshold:.3f}", tiles, self._folder, images)
        self._say(f"{len(tiles)} face(s) found. Enter opens a face's cluster; Esc goes back.")

    def _threshold_changed(self, _value: float) -> None:
        if self.mode == SEARCH and self.search.probe is not None:
            self._search(self.search.probe)

    # --- examiner name, drops, messages ------------------------------------------------------

    def _save_examiner(self) -> str:
        name = self.examiner.text().strip()
        if name != self.state.settings.reviewer:
            attempt(self, lambda: self.state.update_settings(
                replace(self.state.settings, reviewer=name)))
        return name

    def _settings_changed(self) -> None:
        if not self.examiner.hasFocus() and self.examiner.text() != self.state.settings.reviewer:
            self.examiner.setText(self.state.settings.reviewer)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.state.case is not None and dropped_files(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        photos = dropped_files(event)
        if photos:
            event.acceptProposedAction()
            self.search_photo(photos[0])

    def _say(self, text: str, warn: bool = False) -> None:
        self.message.setStyleSheet("color: #b3261e;" if warn else "")
        self.message.setText(text)
