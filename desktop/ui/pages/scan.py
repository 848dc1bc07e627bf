"""Scan: run (or resume) the open case's scan in the background, with live progress, pause,
cancel, and the list of files that could not be analysed; add a source to the case and scan
it. What it shows always belongs to the open case: its last scan when the case opens, the live
counts of the stage running, and at the end the scan's own summary."""

from __future__ import annotations

import getpass
import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
)

from desktop.review.overview import case_overview, problem_files
from desktop.scan.job import Progress, ScanSummary
from desktop.scan.sources import case_sources
from desktop.scan.start import ScanRequest, prepare_scan
from desktop.scan.workers import default_workers
from desktop.settings import PROVIDERS
from desktop.ui.dialogs import show_failure
from desktop.ui.pages.base import Page
from desktop.ui.plain import plain_label
from desktop.ui.source_list import FILE_FILTERS
from desktop.ui.tasks import Failure, Task, TaskControl

PROBLEMS_SHOWN = 1000  # the rest: `homeward case show`


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _rate_words(progress: Progress, faces_seen: int) -> str:
    """The running stage's pace and what is left; no time left once its count is complete,
    and the faces this scan found (stages after analysis report none of their own)."""
    if progress.stage == "done":
        return f"{progress.faces} faces in the case."
    unit = "MiB" if progress.stage in ("container", "verifying") else "items"
    parts = [f"{progress.rate:.1f} {unit} per second"] if progress.rate > 0 else []
    if progress.total and progress.done < progress.total and progress.eta_s is not None:
        parts.append(f"ETA {_duration(progress.eta_s)}")
    parts.append(f"faces found by this scan: {faces_seen}")
    return " · ".join(parts)


def _last_scan_words(scans: list[dict]) -> str:
    if not scans:
        return "No scan yet: Start scan reads every source of the case."
    last = scans[-1]
    return (f"Last scan {last['id']}: {last['status']}, started {last['started_at']}, ended "
            f"{last['finished_at'] or '—'}.")


class ScanPage(Page):
    title = "Scan"

    def __init__(self, state, tasks) -> None:
        super().__init__(state, tasks)
        self.task: Task | None = None
        self.last_progress: Progress | None = None
        self.faces_seen = 0  # faces found by this scan so far (later stages report none)
        self.shown_case: Path | None = None  # the case whose scan the texts below describe
        self._problems_shown_at = 0.0
        self.source = plain_label("")
        self.pack = plain_label("")
        self.gallery = plain_label("")
        self.provider = QComboBox()
        self.provider.addItems(PROVIDERS)
        self.workers = QSpinBox()
        self.workers.setRange(1, 256)
        self.workers.setValue(default_workers())
        form = QFormLayout()
        for label, widget in (("Sources (read only)", self.source), ("Model pack", self.pack),
                              ("Gallery", self.gallery), ("Run on", self.provider),
                              ("Worker processes", self.workers)):
            form.addRow(label, widget)
        self.start_button = QPushButton("Start scan")
        self.start_button.setObjectName("startScan")
        self.start_button.clicked.connect(self.start)
        self.add_button = QToolButton()
        self.add_button.setObjectName("addSource")
        self.add_button.setText("Add source…")
        self.add_button.setToolTip("Add a folder or an evidence file to this case and scan it")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        menu.addAction("Folder…", self._choose_folder)
        menu.addAction("Evidence file (zip, tar, UFDR, disk image, E01)…", self._choose_file)
        self.add_button.setMenu(menu)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.add_button, self.pause_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.stage = QLabel()
        self.stage.setObjectName("scanStage")
        self.bar = QProgressBar()
        self.rate = QLabel()
        self.rate.setObjectName("scanRate")
        self.problems = QTableWidget(0, 3)
        self.problems.setObjectName("problemFiles")
        self.problems.setHorizontalHeaderLabels(["File", "Status", "Reason"])
        self.problems.horizontalHeader().setStretchLastSection(True)
        self.problems.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.stage)
        layout.addWidget(self.bar)
        layout.addWidget(self.rate)
        layout.addWidget(QLabel("Files that could not be analysed (the scan went on):"))
        layout.addWidget(self.problems, 1)
        state.case_changed.connect(self.activated)
        self.activated()

    def activated(self) -> None:
        self.provider.setCurrentText(self.state.settings.provider)
        case = self.state.case
        running = self.task is not None and self.task.is_running()
        self.start_button.setEnabled(case is not None and not running)
        self.add_button.setEnabled(case is not None and not running)
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        if case is None:
            for label in (self.source, self.pack, self.gallery):
                label.setText("—")
            self._reset("Open or create a case on the Cases page to scan.")
            self.shown_case = None
            self.problems.setRowCount(0)
            return
        info = case.info
        self.source.setText("\n".join(f"{s.label}: {s.path}" for s in case_sources(case.db))
                            or info.source_root)
        self.pack.setText(f"{info.pack_id} (fixed for this case), threshold "
                          f"{info.match_threshold:.3f}, video {info.fps:g} frames/s")
        self.gallery.setText(f"{info.gallery} (recorded in the case)" if info.gallery
                             else "none: faces and people only, no hits")
        if not running:
            overview = case_overview(case)
            interrupted = overview.last_scan_interrupted
            self.start_button.setText("Resume scan" if interrupted else "Start scan")
            if self.shown_case != case.folder:  # another case: nothing shown is about it
                self._reset(_last_scan_words(overview.scans))
            if interrupted and not self.stage.text().startswith("Cancelled"):
                self.stage.setText("The last scan did not finish; resuming continues it.")
        self.shown_case = case.folder
        self._show_problems()

    def _reset(self, text: str) -> None:
        self.stage.setText(text)
        self.rate.setText("")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)

    def start(self) -> None:
        """Scan (or resume) every source the case holds."""
        self._start(())

    def add_source(self, path: Path) -> None:
        """Add a folder or container to the open case and scan it (the scan refuses, in its
        error dialog, a path that is not evidence Homeward can read)."""
        self._start((Path(path),))

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add an evidence folder (only ever read)")
        if folder:
            self.add_source(Path(folder))

    def _choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Add an evidence file (only ever read; an E01: its first segment)", "",
            FILE_FILTERS)
        if name:
            self.add_source(Path(name))

    def _start(self, sources: tuple[Path, ...]) -> None:
        case = self.state.case
        if case is None or (self.task is not None and self.task.is_running()):
            return
        settings = replace(self.state.settings, provider=self.provider.currentText())
        if settings != self.state.settings:
            self.state.update_settings(settings)
        request = ScanRequest(
            sources=sources, case_dir=case.folder,  # (): every source the case holds
            gallery=None,  # the case's own, even when another one is open on the Gallery page
            examiner=settings.reviewer or case.info.examiner or getpass.getuser(),
            provider=settings.provider, workers=self.workers.value())

        def work(control: TaskControl) -> ScanSummary:
            job = prepare_scan(request, on_progress=control.progress, cancel=control.cancel,
                               pause=control.pause)
            try:
                return job.run()
            finally:
                job.case.close()
                if job.gallery is not None:
                    job.gallery.close()

        self.last_progress = None
        self.faces_seen = 0
        self.stage.setText("Starting…")
        self.bar.setRange(0, 0)
        self.task = self.tasks.start("scan", work, on_success=self._finished,
                                     on_failure=self._failed, on_progress=self._progress)
        self.pause_button.setChecked(False)
        self.activated()

    def _pause(self, paused: bool) -> None:
        self.pause_button.setText("Continue" if paused else "Pause")
        if self.task is not None:
            self.task.set_paused(paused)
            self._show_stage()

    def _show_stage(self) -> None:
        """The counts last reported (each one committed to the case), and whether paused."""
        progress = self.last_progress
        counts = ("" if progress is None else
                  f"{progress.stage.capitalize()}: {progress.done} of {progress.total}"
                  if progress.total else f"{progress.stage.capitalize()}…")
        if self.pause_button.isChecked():
            self.stage.setText(f"Paused. {counts + ' done; ' if counts else ''}files already "
                               "handed out finish, no new ones start.")
        else:
            self.stage.setText(counts or "Starting…")

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.stage.setText("Cancelling after the files in progress…")

    def _progress(self, progress: Progress) -> None:
        self.last_progress = progress
        if progress.stage == "analysing":  # the only stage that counts faces found
            self.faces_seen = progress.faces
        self._show_stage()
        self.bar.setRange(0, progress.total)  # 0: a busy bar (a source being listed)
        self.bar.setValue(progress.done)
        self.rate.setText(_rate_words(progress, self.faces_seen))
        if progress.stage == "done" or time.monotonic() - self._problems_shown_at > 3.0:
            self._show_problems()

    def _finished(self, summary: ScanSummary) -> None:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary.status_counts.items()))
        self.stage.setText(f"Scan {summary.scan_id} finished in {_duration(summary.seconds)}: "
                           f"{summary.files} files ({statuses}); {summary.new_contents} analysed "
                           f"now; {summary.faces} faces; {summary.new_hits} new hits.")
        self.rate.setText(f"{summary.faces} faces in the case, {self.faces_seen} found by this "
                          "scan.")
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self._ended()
        self.state.hits_changed.emit()

    def _failed(self, failure: Failure) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.rate.setText("")
        self.stage.setText("Cancelled; everything done so far is kept. Start again to resume."
                           if failure.cancelled else f"Scan stopped: {failure.message}")
        self._ended()
        show_failure(self, failure, "Scan")

    def _ended(self) -> None:
        self.task = None  # first: unchecking Pause below must not overwrite the outcome shown
        self.pause_button.setChecked(False)
        self.activated()

    def _show_problems(self) -> None:
        self._problems_shown_at = time.monotonic()
        case = self.state.case
        rows = problem_files(case.db, PROBLEMS_SHOWN) if case is not None else []
        self.problems.setRowCount(len(rows))
        for index, row in enumerate(rows):
            for column, key in enumerate(("rel_path", "status", "reason")):
                self.problems.setItem(index, column, QTableWidgetItem(str(row[key] or "")))
