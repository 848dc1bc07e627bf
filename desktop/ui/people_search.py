"""Search by face for the People page: the probe (a face of the case, or of a photo the
investigator brings), searched in the background; only the latest search's result arrives,
so a threshold changed twice quickly never shows the older answer last."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from desktop.people.case_people import SearchHit
from desktop.ui import people_data
from desktop.ui.tasks import Failure, Task, TaskRunner


@dataclass(frozen=True)
class Probe:
    label: str
    vector: np.ndarray
    back_to: int | None  # the cluster open when the search started (Esc returns there)


@dataclass(frozen=True)
class Found:
    probe: Probe
    threshold: float
    hits: list[SearchHit]


class FaceSearch(QObject):
    found = Signal(object)  # Found
    failed = Signal(object)  # Failure

    def __init__(self, tasks: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.probe: Probe | None = None
        self.searching = False
        self._latest = 0
        self._task: Task | None = None

    def run(self, folder: Path, probe: Probe, threshold: float) -> None:
        self.probe, self.searching = probe, True
        self._latest += 1
        latest = self._latest
        self._task = self.tasks.start(
            "search by face", lambda _c: people_data.search(folder, probe.vector, threshold),
            on_success=lambda hits: self._done(latest, Found(probe, threshold, hits)),
            on_failure=lambda failure: self._done(latest, failure))

    def forget(self) -> None:
        """Another case: no probe, and a search under way is dropped on arrival."""
        self._latest += 1
        self.probe, self.searching = None, False

    def wait(self) -> None:
        if self._task is not None:
            self._task.thread.wait(60_000)

    def _done(self, latest: int, result: Found | Failure) -> None:
        if latest != self._latest:
            return
        self.searching = False
        (self.failed if isinstance(result, Failure) else self.found).emit(result)
