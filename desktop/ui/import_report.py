"""What an import did, shown in full: counts first, then every problem, duplicate and
low-quality photo with its place, so the investigator can fix those rows and import again."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.gallery.imports import ImportReport
from desktop.ui.plain import markup


def summary(report: ImportReport) -> str:
    return (f"Persons created: {len(report.persons_created)}, updated: "
            f"{len(report.persons_updated)}; photos added: {report.photos_added}; "
            f"awaiting a face choice: {len(report.pending)}; "
            f"duplicates skipped: {len(report.duplicates)}; problems: {len(report.problems)}.")


def report_lines(report: ImportReport) -> list[str]:
    return ([f"Problem — {p.where}: {p.reason}" for p in report.problems]
            + [f"Awaiting a face choice — {p.where}: {p.faces} faces; the person was created, "
               "choose the face in the Gallery's list of photos awaiting a choice"
               for p in report.pending]
            + [f"Warning — {w.where}: {w.reason}" for w in report.warnings]
            + [f"Kept, low quality — {where}: {', '.join(flags)}"
               for where, flags in report.flagged]
            + [f"Duplicate, skipped — {where}" for where in report.duplicates])


class ImportReportDialog(QDialog):
    """Opened with `open()`: window-modal, never blocking the event loop."""

    def __init__(self, report: ImportReport, source: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importReport")
        self.setWindowTitle("Import finished" if not report.problems
                            else "Import finished with problems")
        self.resize(720, 420)
        self.report = report
        heading = QLabel(f"<b>{markup(source)}</b><br>{markup(summary(report))}")
        heading.setTextFormat(Qt.TextFormat.RichText)
        heading.setWordWrap(True)
        self.lines = QListWidget()
        self.lines.setObjectName("importProblems")
        self.lines.setWordWrap(True)
        self.lines.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.lines.addItems(report_lines(report))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        if report.problems:
            layout.addWidget(QLabel("Rows with problems were not imported; the rest were.",
                                    wordWrap=True))
        layout.addWidget(self.lines, 1)
        layout.addWidget(buttons)
