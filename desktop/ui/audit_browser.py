"""Case ▸ Audit trail…: the case's audit rows (sequence, time, actor, action, what it
recorded), filtered by action and actor, and Verify: the same check as `homeward audit
verify`, its outcome in words."""

from __future__ import annotations

import json
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.scan.case import Case
from desktop.storage.record import verify_case
from desktop.ui.plain import plain_label, plain_tooltip

ALL = "(all)"
SUMMARY_CHARS = 160
ROOT = QModelIndex()  # the table's parent: its rows have no children
COLUMNS = ("Seq", "Time (UTC)", "Actor", "Action", "Recorded")


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: str
    actor: str
    action: str
    summary: str  # the payload as compact JSON, cut short; the tooltip holds it whole
    payload: str


def audit_rows(case: Case) -> list[AuditRow]:
    rows = []
    for row in case.db.query("SELECT seq, at, actor, action, payload FROM audit ORDER BY seq"):
        try:
            text = json.dumps(json.loads(row["payload"]), ensure_ascii=False, sort_keys=True,
                              separators=(", ", ": "))
        except ValueError:  # a damaged row is shown as stored; Verify names it
            text = row["payload"]
        summary = text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 1] + "…"
        rows.append(AuditRow(row["seq"], row["at"], row["actor"], row["action"], summary, text))
    return rows


class AuditModel(QAbstractTableModel):
    def __init__(self, rows: list[AuditRow]) -> None:
        super().__init__()
        self.all = rows
        self.shown = rows

    def filter(self, action: str | None, actor: str | None) -> None:
        self.beginResetModel()
        self.shown = [r for r in self.all if (action is None or r.action == action)
                      and (actor is None or r.actor == actor)]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(self.shown)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        row = self.shown[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.seq, row.at, row.actor, row.action, row.summary)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 4:
            return plain_tooltip(row.payload)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None


class AuditBrowser(QDialog):
    def __init__(self, case: Case, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditBrowser")
        self.setWindowTitle(f"Audit trail — {case.info.case_number}")
        self.case = case
        self.model = AuditModel(audit_rows(case))
        self.action = self._choice(sorted({r.action for r in self.model.all}))
        self.actor = self._choice(sorted({r.actor for r in self.model.all}))
        self.table = QTableView()
        self.table.setObjectName("auditRows")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)  # one line a row; the tooltip holds the whole record
        header = self.table.horizontalHeader()
        for column in range(4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.count = QLabel()
        self.verify_button = QPushButton("Verify")
        self.verify_button.setToolTip("Recompute the hash chain and every table it seals "
                                      "(the same check as `homeward audit verify`)")
        self.verify_button.clicked.connect(self.verify)
        self.outcome = plain_label(wrap=True)
        self.outcome.setObjectName("auditOutcome")
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        filters = QHBoxLayout()
        for label, widget in (("Action", self.action), ("Actor", self.actor)):
            filters.addWidget(QLabel(label))
            filters.addWidget(widget)
        filters.addStretch(1)
        filters.addWidget(self.count)
        bottom = QHBoxLayout()
        bottom.addWidget(self.verify_button)
        bottom.addWidget(self.outcome, 1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        self.action.currentIndexChanged.connect(self._filter)
        self.actor.currentIndexChanged.connect(self._filter)
        self._filter()
        self.resize(1000, 560)

    def _choice(self, values: list[str]) -> QComboBox:
        box = QComboBox()
        box.addItem(ALL, None)
        for value in values:
            box.addItem(value, value)
        return box

    def _filter(self) -> None:
        self.model.filter(self.action.currentData(), self.actor.currentData())
        self.count.setText(f"{self.model.rowCount()} of {len(self.model.all)} rows")

    def verify(self) -> None:
        report = verify_case(self.case.db)
        if report.ok:
            self.outcome.setText(f"Intact: {report.rows} rows chained, every sealed table "
                                 f"matches. Head hash {report.head}")
        else:
            self.outcome.setText(f"NOT intact — {len(report.problems)} problem(s): "
                                 + "; ".join(report.problems))
