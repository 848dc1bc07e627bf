"""The one way the UI runs work in the background.

A task is a plain function `work(control) -> result` that receives a `TaskControl` (a progress
callback, cancel and pause events) and never sees a widget. It runs on its own QThread; its
result, failure or progress comes back to the GUI thread through queued signals. A user's
cancel is silent; any other failure keeps its traceback for the log and a clear message for
the user.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from desktop.errors import Cancelled, HomewardError
from desktop.logfile import LogSetup

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    message: str
    detail: str | None = None
    traceback: str = ""
    cancelled: bool = False


@dataclass
class TaskControl:
    progress: Callable[[object], None]
    cancel: threading.Event = field(default_factory=threading.Event)
    pause: threading.Event = field(default_factory=threading.Event)


def failure_of(exc: BaseException) -> Failure:
    if isinstance(exc, Cancelled):
        return Failure("Cancelled.", cancelled=True)
    text = "".join(traceback.format_exception(exc))
    if isinstance(exc, HomewardError):
        return Failure(exc.message, exc.detail, text)
    setup = LogSetup.current()  # the running command's (its traceback is logged there)
    where = f"\nIts details are in the log file {setup.file}" if setup and setup.file else ""
    return Failure("An unexpected error stopped this task; nothing already saved was lost.",
                   f"{type(exc).__name__}: {exc}{where}", text)


class _TaskThread(QThread):
    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)

    def __init__(self, name: str, work: Callable[[TaskControl], Any]) -> None:
        super().__init__()
        self.setObjectName(name)
        self.work = work
        self.control = TaskControl(progress=self.progressed.emit)

    def run(self) -> None:
        try:
            result = self.work(self.control)
        except BaseException as exc:
            failure = failure_of(exc)
            if not failure.cancelled and not isinstance(exc, HomewardError):
                log.error("task %s failed:\n%s", self.objectName(), failure.traceback)
            self.failed.emit(failure)
        else:
            self.succeeded.emit(result)


class Task(QObject):
    """A running background task, as the page that started it sees it. Its callbacks run
    in the GUI thread (this object lives there; the thread's signals are queued to it)."""

    done = Signal()

    def __init__(self, name: str, work: Callable[[TaskControl], Any],
                 on_success: Callable[[Any], None] | None,
                 on_failure: Callable[[Failure], None] | None,
                 on_progress: Callable[[Any], None] | None) -> None:
        super().__init__()
        self.name = name
        self._on_success, self._on_failure, self._on_progress = on_success, on_failure, on_progress
        self.thread = _TaskThread(name, work)
        self.thread.progressed.connect(self._progressed)
        self.thread.succeeded.connect(self._succeeded)
        self.thread.failed.connect(self._failed)
        self.thread.finished.connect(self.done)

    @property
    def control(self) -> TaskControl:
        return self.thread.control

    def cancel(self) -> None:
        self.control.pause.clear()
        self.control.cancel.set()

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.control.pause.set()
        else:
            self.control.pause.clear()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    @Slot(object)
    def _progressed(self, value: object) -> None:
        if self._on_progress:
            self._on_progress(value)

    @Slot(object)
    def _succeeded(self, result: object) -> None:
        if self._on_success:
            self._on_success(result)

    @Slot(object)
    def _failed(self, failure: Failure) -> None:
        if self._on_failure:
            self._on_failure(failure)


class TaskRunner(QObject):
    """Keeps running tasks alive and, on close, cancels them and waits: a scan stops between
    files with everything so far committed, so it resumes on the next start."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: list[Task] = []

    def start(self, name: str, work: Callable[[TaskControl], Any], *,
              on_success: Callable[[Any], None] | None = None,
              on_failure: Callable[[Failure], None] | None = None,
              on_progress: Callable[[Any], None] | None = None) -> Task:
        task = Task(name, work, on_success, on_failure, on_progress)
        self._tasks.append(task)
        task.done.connect(lambda: self._tasks.remove(task) if task in self._tasks else None)
        task.thread.start()
        return task

    def running(self) -> list[Task]:
        return [t for t in self._tasks if t.is_running()]

    def shutdown(self, timeout_ms: int = 120_000) -> bool:
        """Cancel every task and wait; False if one did not stop in time."""
        for task in self._tasks:
            task.cancel()
        return all(task.thread.wait(timeout_ms) for task in list(self._tasks))
