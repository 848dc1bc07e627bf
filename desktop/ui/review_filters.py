"""The review list's filters: status, person, minimum score. It only collects the choice;
the review package's `filter_items` applies it."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

from desktop.review.decisions import VERDICTS
from desktop.review.queue import PENDING

STATUS_LABELS = {None: "All statuses", PENDING: "Pending", "confirm": "Confirmed",
                 "reject": "Rejected", "unsure": "Unsure"}


class ReviewFilters(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QComboBox()
        self.status.setObjectName("statusFilter")
        for value in (None, PENDING, *VERDICTS):
            self.status.addItem(STATUS_LABELS.get(value, str(value)), value)
        self.person = QComboBox()
        self.person.setObjectName("personFilter")
        self.person.setMinimumContentsLength(14)
        self.min_score = QDoubleSpinBox()
        self.min_score.setObjectName("minScoreFilter")
        self.min_score.setRange(0.0, 1.0)
        self.min_score.setSingleStep(0.05)
        self.min_score.setDecimals(2)
        self.min_score.setSpecialValueText("any score")
        self.min_score.setToolTip("Only hits scoring at least this much")
        self.set_persons([])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Show"))
        layout.addWidget(self.status)
        layout.addWidget(self.person, 1)
        layout.addWidget(QLabel("score ≥"))
        layout.addWidget(self.min_score)
        self.status.currentIndexChanged.connect(self.changed)
        self.person.currentIndexChanged.connect(self.changed)
        self.min_score.valueChanged.connect(self.changed)

    def set_persons(self, persons: list[tuple[int, str, int]]) -> None:
        """(person id, name, hit count) of every person with hits; keeps the choice if it can.
        Emits nothing: the caller filters its new list anyway."""
        chosen = self.person.currentData()
        self.person.blockSignals(True)
        self.person.clear()
        self.person.addItem("All persons", None)
        for person_id, name, count in persons:
            self.person.addItem(f"{name} ({count})", person_id)
        index = self.person.findData(chosen) if chosen is not None else 0
        self.person.setCurrentIndex(max(0, index))
        self.person.blockSignals(False)

    def values(self) -> dict[str, object]:
        """Keyword arguments for `filter_items`."""
        score = self.min_score.value()
        return {"status": self.status.currentData(), "person_id": self.person.currentData(),
                "min_score": score if score > self.min_score.minimum() else None}

    def clear(self) -> None:
        for widget in (self.status, self.person, self.min_score):
            widget.blockSignals(True)
        self.status.setCurrentIndex(0)
        self.person.setCurrentIndex(0)
        self.min_score.setValue(self.min_score.minimum())
        for widget in (self.status, self.person, self.min_score):
            widget.blockSignals(False)
        self.changed.emit()
