"""Measuring how responsive the event loop is: a timer asks to fire every `interval_ms`;
any lateness beyond that is time the GUI thread could not handle input or paint."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer


@dataclass(frozen=True)
class StallReport:
    samples: int
    worst_ms: float
    p99_ms: float


class StallMeter(QObject):
    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self._late: list[float] = []

    def start(self) -> None:
        self._late.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> StallReport:
        self._timer.stop()
        late = sorted(self._late) or [0.0]
        return StallReport(len(self._late), late[-1], late[min(len(late) - 1,
                                                               int(len(late) * 0.99))])

    def _tick(self) -> None:
        now = time.perf_counter()
        self._late.append(max(0.0, (now - self._last) * 1000 - self.interval_ms))
        self._last = now
