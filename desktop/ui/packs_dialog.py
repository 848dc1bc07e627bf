"""Tools ▸ Model packs…: the installed packs, importing one from a zip or a folder (the same
engine call as `homeward models import`), re-hashing them (`homeward models verify`) in the
background with progress, and choosing the default pack for new cases and enrolments."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.engine.pack_install import import_pack
from desktop.engine.pack_store import InstalledPack, default_pack_id, installed_packs, verify_pack
from desktop.ui.dialogs import show_failure
from desktop.ui.plain import plain_label
from desktop.ui.state import AppState
from desktop.ui.task_bar import TaskBar
from desktop.ui.tasks import Failure, TaskControl, TaskRunner

COLUMNS = ("Default", "Pack", "Title", "Threshold", "Calibration", "Folder")


@dataclass(frozen=True)
class PackVerdict:
    pack_id: str
    problems: list[str]  # "file: STATUS detail" of every file that failed


def verify_packs(packs: list[InstalledPack], control: TaskControl) -> list[PackVerdict]:
    """Each pack re-hashed in turn; progress is (packs done, packs)."""
    verdicts = []
    for done, pack in enumerate(packs):
        control.progress((done, len(packs), pack.id))
        problems = [f"{c.file}: {c.status.upper()} {c.detail}".rstrip()
                    for c in verify_pack(pack) if not c.ok]
        verdicts.append(PackVerdict(pack.id, problems))
    return verdicts


class PacksDialog(QDialog):
    def __init__(self, state: AppState, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("packsDialog")
        self.setWindowTitle("Model packs")
        self.state, self.tasks = state, tasks
        self.packs: list[InstalledPack] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("packsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.replace_box = QCheckBox("Replace an installed pack of the same id")
        buttons = QHBoxLayout()
        self.buttons = []
        for text, slot in (("Import zip…", self._choose_zip), ("Import folder…", self._choose_folder),
                           ("Verify all", self.verify), ("Set as default", self.set_default)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons.append(button)
        buttons.addStretch(1)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons.addWidget(close)
        self.task_bar = TaskBar()
        self.outcome = plain_label(wrap=True)  # pack ids and paths as found
        self.outcome.setObjectName("packsOutcome")
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.replace_box)
        layout.addLayout(buttons)
        layout.addWidget(self.task_bar)
        layout.addWidget(self.outcome)
        self.refresh()
        self.resize(900, 420)

    def refresh(self) -> None:
        packs, broken = installed_packs()
        self.packs = sorted(packs, key=lambda p: p.id)
        chosen = self.state.settings.default_pack or default_pack_id()
        self.table.setRowCount(len(self.packs))
        for row, pack in enumerate(self.packs):
            manifest = pack.manifest
            calibration = manifest.calibration.id if manifest.calibration else "not calibrated"
            cells = ("★" if pack.id == chosen else "", pack.id, manifest.title,
                     f"{manifest.match_threshold:.3f}", calibration, str(pack.root))
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        if broken:
            self.outcome.setText("Unreadable pack folders: " + "; ".join(
                f"{folder}: {exc.message}" for folder, exc in broken))

    def selected(self) -> InstalledPack | None:
        rows = self.table.selectionModel().selectedRows()
        return self.packs[rows[0].row()] if rows else None

    def _choose_zip(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Import a model pack", "", "Zip (*.zip)")
        if name:
            self.import_from(Path(name))

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a model pack folder")
        if folder:
            self.import_from(Path(folder))

    def import_from(self, source: Path) -> None:
        """Every file is copied and hashed in the background; nothing is installed unless
        all of them check out."""
        replace_installed = self.replace_box.isChecked()
        task = self.tasks.start(
            "import pack", lambda _control: import_pack(source, replace=replace_installed),
            on_success=self._imported, on_failure=self._failed)
        self._busy(task, f"Importing {source.name}: checking every file's size and hash…")

    def verify(self) -> None:
        packs = list(self.packs)
        task = self.tasks.start("verify packs", lambda control: verify_packs(packs, control),
                                on_success=self._verified, on_failure=self._failed,
                                on_progress=self._progressed)
        self._busy(task, "Re-hashing every installed pack's files…")

    def set_default(self) -> None:
        pack = self.selected()
        if pack is None:
            self.outcome.setText("Select a pack first.")
            return
        self.state.update_settings(replace(self.state.settings, default_pack=pack.id))
        self.outcome.setText(f"{pack.id} is now the default pack for new cases and enrolments.")
        self.refresh()

    def _busy(self, task, text: str) -> None:
        for button in self.buttons:
            button.setEnabled(False)
        self.task_bar.follow(task, text)

    def _idle(self) -> None:
        for button in self.buttons:
            button.setEnabled(True)
        self.task_bar.finish()

    def _progressed(self, value: object) -> None:
        done, total, pack_id = value  # type: ignore[misc]
        self.task_bar.progress.setRange(0, total)
        self.task_bar.progress.setValue(done)
        self.task_bar.progress.setFormat(f"{done} / {total} packs")
        self.task_bar.label.setText(f"Re-hashing {pack_id}…")

    def _imported(self, pack: InstalledPack) -> None:
        self._idle()
        self.outcome.setText(f"Installed {pack.id} into {pack.root}.")
        self.refresh()
        self.state.packs_changed.emit()

    def _verified(self, verdicts: list[PackVerdict]) -> None:
        self._idle()
        bad = [v for v in verdicts if v.problems]
        if not bad:
            self.outcome.setText(f"All {len(verdicts)} pack(s) intact: every file matches its "
                                 "recorded SHA-256.")
            return
        self.outcome.setText(f"{len(bad)} of {len(verdicts)} pack(s) DAMAGED — " + "; ".join(
            f"{v.pack_id}: {', '.join(v.problems)}" for v in bad))

    def _failed(self, failure: Failure) -> None:
        self._idle()
        self.outcome.setText("" if failure.cancelled else f"Failed: {failure.message}")
        show_failure(self, failure, "Model packs")
