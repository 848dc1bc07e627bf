"""Tools ▸ Reindex gallery for a pack…: embed every reference photo of the open gallery with
another pack (the same engine call as `homeward gallery reindex`), in the background with
progress; what each pack already has is shown first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.engine.pack_store import usable_pack_ids
from desktop.engine.types import ImageResult
from desktop.errors import Cancelled
from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import ReindexReport, reindex
from desktop.scan.analyze import pack_analyzer
from desktop.ui.dialogs import show_failure
from desktop.ui.pack_choice import PackChoice, gallery_packs
from desktop.ui.plain import plain_label
from desktop.ui.state import AppState
from desktop.ui.task_bar import TaskBar
from desktop.ui.tasks import Failure, TaskControl, TaskRunner


def reindex_gallery(path: Path, pack_id: str | None, provider: str,
                    control: TaskControl) -> ReindexReport:
    """In the task's thread, on its own connection; progress is (photos done, photos)."""
    pack, analyze = pack_analyzer(pack_id, provider)

    def followed(paths: list[Path]) -> Iterator[ImageResult]:
        for done, result in enumerate(analyze(paths), 1):
            if control.cancel.is_set():
                raise Cancelled("Reindexing cancelled; nothing was written.")
            control.progress((done, len(paths)))
            yield result

    gallery = Gallery.open(path)
    try:
        return reindex(gallery, followed, pack)
    finally:
        gallery.close()


class ReindexDialog(QDialog):
    def __init__(self, state: AppState, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reindexDialog")
        self.setWindowTitle("Reindex gallery")
        self.state, self.tasks = state, tasks
        self.gallery = plain_label(wrap=True)
        self.embedded = plain_label(wrap=True)
        self.embedded.setObjectName("galleryPacks")
        self.pack = PackChoice()
        self.start_button = QPushButton("Reindex")
        self.start_button.setObjectName("startReindex")
        self.start_button.clicked.connect(self.start)
        self.task_bar = TaskBar()
        self.outcome = plain_label(wrap=True)
        self.outcome.setObjectName("reindexOutcome")
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        form = QFormLayout()
        form.addRow("Gallery", self.gallery)
        form.addRow("Embedded now", self.embedded)
        form.addRow("Embed with pack", self.pack)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.task_bar)
        layout.addWidget(self.outcome)
        layout.addStretch(1)
        layout.addLayout(buttons)
        self._show_gallery()
        self.resize(620, 260)

    def _show_gallery(self) -> None:
        gallery = self.state.gallery
        self.start_button.setEnabled(gallery is not None)
        if gallery is None:
            self.gallery.setText("No gallery open: open one on the Gallery page.")
            self.embedded.setText("—")
            return
        self.gallery.setText(str(gallery.path))
        counts = gallery_packs(gallery)
        photos = len(gallery.photos())
        self.embedded.setText(", ".join(
            f"{pack_id}: {counts[pack_id]} of {photos} photos" for pack_id in usable_pack_ids()))

    def start(self) -> None:
        gallery = self.state.gallery
        if gallery is None:
            return
        path, pack_id, provider = gallery.path, self.pack.pack_id(), self.state.settings.provider
        task = self.tasks.start(
            "reindex", lambda control: reindex_gallery(path, pack_id, provider, control),
            on_success=self._finished, on_failure=self._failed,
            on_progress=self.task_bar.progressed)
        self.start_button.setEnabled(False)
        self.outcome.setText("")
        self.task_bar.follow(task, f"Embedding the gallery's photos with "
                                   f"{pack_id or 'the default pack'}…")

    def _finished(self, report: ReindexReport) -> None:
        self.task_bar.finish()
        problems = "".join(f"\n{p.where}: {p.reason}" for p in report.problems)
        self.outcome.setText(f"{report.embedded} photo(s) embedded with {report.pack_id}, "
                             f"{report.already_embedded} already were; {len(report.problems)} "
                             f"problem(s).{problems}")
        self._show_gallery()
        self.state.gallery_changed.emit()

    def _failed(self, failure: Failure) -> None:
        self.task_bar.finish()
        self._show_gallery()
        self.outcome.setText("" if failure.cancelled else f"Not reindexed: {failure.message}")
        show_failure(self, failure, "Reindex")
