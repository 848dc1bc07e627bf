"""The People page's cross-case links: clusters of this case that look like clusters of other
cases registered in its lab index, each a candidate for review as a gallery hit is.

Keys on the list, as on the Review page: C confirm, R reject, U unsure, N note (Enter returns
to the list), Enter opens the cluster here, Esc back. The decision goes through
`desktop.people.link_review.decide_link`, as `homeward lab decide` does, on the page's case
connection; the links are read in the background (the index may be on a shared volume).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.people.lab_index import CaseLinks, Link
from desktop.people.link_review import PENDING, decide_link, review_text, with_decision
from desktop.ui import people_data
from desktop.ui.dialogs import attempt
from desktop.ui.plain import plain_label
from desktop.ui.review_keys import PLAIN, KeyCommands
from desktop.ui.state import AppState
from desktop.ui.tasks import Failure, Task, TaskRunner

COLUMNS = ("Cluster here", "Other case", "Its cluster", "Similarity", "Review")
LEADS = ("Leads for review, not identifications: C confirm · R reject · U unsure · N note · "
         "Enter open the cluster here · Esc back")


class LinksPanel(QWidget):
    """The case's links, best first; what is decided is always the current row's link."""

    open_cluster = Signal(int)
    back = Signal()
    said = Signal(str, bool)  # a message for the page, and whether it warns

    def __init__(self, state: AppState, tasks: TaskRunner, reviewer: Callable[[], str | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.tasks, self._reviewer = state, tasks, reviewer
        self.links: list[Link] = []
        self.reading = False
        self._task: Task | None = None
        self._latest = 0
        self._focus: int | None = None  # the cluster whose first link is made current once read
        self.heading = plain_label(wrap=True)  # names the index's path as it is
        self.heading.setObjectName("linksHeading")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("linksTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.doubleClicked.connect(lambda _index: self._open_current())
        self.note = QLineEdit(placeholderText="note for the next decision (optional)")
        self.note.setObjectName("linkNote")
        self.note.returnPressed.connect(self.table.setFocus)
        notes = QHBoxLayout()
        notes.addWidget(QLabel("Note"))
        notes.addWidget(self.note, 1)
        hint = QLabel(LEADS, wordWrap=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        layout.addLayout(notes)
        layout.addWidget(hint)
        K = Qt.Key
        self.keys = KeyCommands({
            (K.Key_C, PLAIN): lambda: self.decide("confirm"),
            (K.Key_R, PLAIN): lambda: self.decide("reject"),
            (K.Key_U, PLAIN): lambda: self.decide("unsure"),
            (K.Key_N, PLAIN): self.note.setFocus,
            (K.Key_Return, PLAIN): self._open_current, (K.Key_Enter, PLAIN): self._open_current,
            (K.Key_Escape, PLAIN): self.back.emit}, self)
        self.keys.watch(self.table)
        KeyCommands({(K.Key_Escape, PLAIN): self.table.setFocus}, self).watch(self.note)
        self.setFocusProxy(self.table)

    # --- reading -----------------------------------------------------------------------------

    def load(self, folder: Path, cluster_id: int | None) -> None:
        """Read the case's links again (background); then `cluster_id`'s first is current."""
        self._latest += 1
        latest, self._focus, self.reading = self._latest, cluster_id, True
        self.heading.setText("Reading the lab index…")
        self._task = self.tasks.start(
            "read the cross-case links", lambda _c: people_data.read_links(folder),
            on_success=lambda found: self._read(latest, found),
            on_failure=lambda failure: self._failed(latest, failure))

    def forget(self) -> None:
        """Another case: nothing shown, and a read under way is dropped on arrival."""
        self._latest += 1
        self.reading = False
        self._show([])
        self.heading.setText("")

    def wait(self) -> None:
        if self._task is not None:
            self._task.thread.wait(60_000)

    def _read(self, latest: int, found: CaseLinks | None) -> None:
        if latest != self._latest:
            return
        self.reading = False
        if found is None:
            self._show([])
            self.heading.setText("This case is not registered in a lab index: register it "
                                 "(homeward lab register --case DIR) to link its people to "
                                 "other cases.")
            return
        stale = ("" if found.current else " The case's clusters changed since it was registered: "
                 "register it again to compare what it holds now.")
        self.heading.setText(f"{len(found.links)} cross-case link(s) in the lab index "
                             f"{found.index}.{stale}")
        rows = [n for n, k in enumerate(found.links) if k.cluster_id == self._focus]
        self._show(found.links, rows[0] if rows else 0)
        if self._focus is not None and not rows:
            self.said.emit(f"Cluster {self._focus} has no cross-case link; all links are listed.",
                           False)

    def _failed(self, latest: int, failure: Failure) -> None:
        if latest == self._latest:
            self.reading = False
            self._show([])
            self.heading.setText(f"The cross-case links could not be read: {failure.message}"
                                 + (f" ({failure.detail})" if failure.detail else ""))

    def _show(self, links: list[Link], row: int = 0) -> None:
        self.links = list(links)
        self.table.setRowCount(len(links))
        for n, link in enumerate(links):
            self._fill(n, link)
        if links:
            self.table.selectRow(min(row, len(links) - 1))

    def _fill(self, row: int, link: Link) -> None:
        cells = (str(link.cluster_id), link.other_case_number, str(link.other_cluster_id),
                 f"{link.score:.4f}", review_text(link))
        for column, text in enumerate(cells):
            self.table.setItem(row, column, QTableWidgetItem(text))

    def current(self) -> Link | None:
        row = self.table.currentRow()
        return self.links[row] if 0 <= row < len(self.links) else None

    def _open_current(self) -> None:
        link = self.current()
        if link is not None:
            self.open_cluster.emit(link.cluster_id)

    # --- decisions ---------------------------------------------------------------------------

    def decide(self, verdict: str) -> bool:
        """Record `verdict` on the current link, then go to the next pending one."""
        link, case = self.current(), self.state.case
        if link is None or case is None:
            self.said.emit("No cross-case link is selected.", True)
            return False
        reviewer = self._reviewer()
        if reviewer is None:
            return False
        decision = attempt(self, lambda: decide_link(case.db, link, verdict, reviewer,
                                                     self.note.text()))
        if decision is None:
            return False
        row = self.table.currentRow()
        self.links[row] = with_decision(link, decision)
        self._fill(row, self.links[row])
        self.note.clear()
        self.said.emit(f"{verdict} recorded by {decision.reviewer} for cluster {link.cluster_id} ~ "
                       f"case {link.other_case_number} cluster {link.other_cluster_id} (a lead, "
                       "not an identification).", False)
        pending = [n for n in [*range(row + 1, len(self.links)), *range(row)]
                   if self.links[n].status == PENDING]
        if pending:
            self.table.selectRow(pending[0])
        return True
