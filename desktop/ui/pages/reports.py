"""Reports: export the reviewed hits in every format, in the background; each export is
recorded in the case's audit trail and listed here with its SHA-256."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from desktop.report.export import FORMATS, Exported, export_report
from desktop.review.overview import case_overview
from desktop.scan.case import Case
from desktop.ui.dialogs import show_failure
from desktop.ui.pages.base import Page
from desktop.ui.path_field import PathField
from desktop.ui.plain import plain_label
from desktop.ui.tasks import Failure, TaskControl

SUFFIX = {"html": ".html", "pdf": ".pdf", "csv": ".csv", "json": ".vics.json"}
LABELS = {"html": "HTML (self-contained)", "pdf": "PDF", "csv": "CSV",
          "json": "VICS 2.0 JSON"}


class ReportsPage(Page):
    title = "Reports"

    def __init__(self, state, tasks) -> None:
        super().__init__(state, tasks)
        self.form_choice = QComboBox()
        for form in FORMATS:
            self.form_choice.addItem(LABELS[form], form)
        self.form_choice.currentIndexChanged.connect(self._suggest_name)
        self.out = PathField("save", "Report file")
        self.examiner = QLineEdit()
        self.export_button = QPushButton("Export report")
        self.export_button.setObjectName("exportReport")
        self.export_button.clicked.connect(self.export)
        self.counts = plain_label()  # the case number and paths as typed
        self.result = plain_label(wrap=True)
        self.result.setObjectName("exportResult")
        form = QFormLayout()
        form.addRow("Format", self.form_choice)
        form.addRow("Write to", self.out)
        form.addRow("Examiner", self.examiner)
        form.addRow(self.export_button)
        self.history = QTableWidget(0, 5)
        self.history.setObjectName("exportHistory")
        self.history.setHorizontalHeaderLabels(["When", "By", "Format", "File", "SHA-256"])
        self.history.horizontalHeader().setStretchLastSection(True)
        self.history.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.addWidget(self.counts)
        layout.addLayout(form)
        layout.addWidget(self.result)
        layout.addWidget(QLabel("Reports exported from this case (from its audit trail):"))
        layout.addWidget(self.history, 1)
        for signal in (state.case_changed, state.decisions_changed, state.hits_changed):
            signal.connect(self.activated)
        self.activated()

    def activated(self) -> None:
        case = self.state.case
        self.export_button.setEnabled(case is not None)
        if case is None:
            self.counts.setText("Open a case on the Cases page to export its report.")
            self.history.setRowCount(0)
            return
        overview = case_overview(case)
        self.counts.setText(
            f"Case {overview.info.case_number}: " + ", ".join(
                f"{v} {k}" for k, v in overview.verdicts.items()) +
            ". Confirmed hits lead the report; pending and unsure ones are listed as such.")
        if not self.examiner.text():
            self.examiner.setText(self.state.settings.reviewer or overview.info.examiner)
        self._suggest_name()
        self.history.setRowCount(len(overview.exports))
        for row, entry in enumerate(overview.exports):
            for column, key in enumerate(("at", "actor", "format", "out", "sha256")):
                self.history.setItem(row, column, QTableWidgetItem(str(entry.get(key, ""))))

    def _suggest_name(self) -> None:
        case = self.state.case
        current = self.out.path()
        if case is None or (current is not None and current.parent != case.folder):
            return  # the examiner chose a place; keep it
        self.out.set_path(report_path(case.folder, case.info.case_number,
                                      self.form_choice.currentData()))

    def export(self) -> None:
        case = self.state.case
        out = self.out.path()
        if case is None or out is None:
            return
        folder, form = case.folder, self.form_choice.currentData()
        examiner = self.examiner.text().strip() or None

        def work(_control: TaskControl) -> Exported:
            own = Case.open(folder)  # this thread's own connection
            try:
                return export_report(own, form, out, examiner)
            finally:
                own.close()

        self.export_button.setEnabled(False)
        self.result.setText(f"Writing {out}…")
        self.tasks.start("report", work, on_success=self._exported, on_failure=self._failed)

    def _exported(self, done: Exported) -> None:
        counts = done.counts
        self.result.setText(f"Wrote {done.path}\nSHA-256 {done.sha256}\n{counts['confirmed']} "
                            f"confirmed, {counts['unsure']} unsure, {counts['pending']} pending, "
                            f"{counts['rejected']} rejected.")
        self.activated()

    def _failed(self, failure: Failure) -> None:
        self.result.setText(f"No report written: {failure.message}")
        self.activated()
        show_failure(self, failure, "Report")


def report_path(folder: Path, case_number: str, form: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in case_number)
    return folder / f"report-{safe}{SUFFIX[form]}"
