"""The one background mechanism: results, progress and failures reach the GUI thread; a
user's cancel is silent; an unexpected error keeps its traceback."""

from __future__ import annotations

import threading

from desktop.errors import Cancelled, HomewardError
from desktop.ui.tasks import TaskRunner


def _run(qtbot, work):
    runner = TaskRunner()
    seen: dict[str, object] = {"progress": []}
    gui = threading.current_thread()

    def record(key):
        def callback(value):
            assert threading.current_thread() is gui  # callbacks run in the GUI thread
            if key == "progress":
                seen["progress"].append(value)
            else:
                seen[key] = value
        return callback

    task = runner.start("t", work, on_success=record("result"), on_failure=record("failure"),
                        on_progress=record("progress"))
    qtbot.waitUntil(lambda: not runner.running() and ("result" in seen or "failure" in seen),
                    timeout=10_000)
    return task, seen


def test_a_task_reports_progress_then_its_result_in_the_gui_thread(qtbot):
    def work(control):
        for n in range(3):
            control.progress(n)
        return "done"
    _, seen = _run(qtbot, work)
    assert seen["progress"] == [0, 1, 2] and seen["result"] == "done"


def test_failures_carry_a_user_message_detail_and_traceback(qtbot):
    def refused(control):
        raise HomewardError("The gallery is locked.", "another Homeward has it open")

    def broken(control):
        raise ZeroDivisionError("boom")

    _, seen = _run(qtbot, refused)
    failure = seen["failure"]
    assert (failure.message, failure.detail, failure.cancelled) == (
        "The gallery is locked.", "another Homeward has it open", False)
    _, seen = _run(qtbot, broken)
    failure = seen["failure"]
    assert "unexpected" in failure.message and "ZeroDivisionError" in failure.traceback


def test_cancel_reaches_the_work_and_is_reported_as_cancelled(qtbot):
    started = threading.Event()

    def work(control):
        started.set()
        while not control.cancel.wait(0.01):
            pass
        raise Cancelled("cancelled by the user")

    runner = TaskRunner()
    failures = []
    task = runner.start("t", work, on_failure=failures.append)
    assert started.wait(5)
    assert runner.shutdown(5000)
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    assert failures[0].cancelled and task.control.cancel.is_set()


def test_the_installed_qt_binding_survives_a_long_session():
    """PySide6 6.12.0 on Python 3.11 leaks a reference to True per emit and to None per
    void Qt call, and aborts the process after a few thousand: a long scan's progress."""
    import subprocess
    import sys

    code = """
import sys
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
class Source(QObject):
    changed = Signal(object)
source = Source()
source.changed.connect(lambda value: None)
label = QLabel()
before = sys.getrefcount(True), sys.getrefcount(None)
for n in range(20000):
    source.changed.emit(n)
    label.setText(str(n))
    app.processEvents()
after = sys.getrefcount(True), sys.getrefcount(None)
print(after[0] - before[0], after[1] - before[1])
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env={"QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr[-500:]
    true_drift, none_drift = (int(v) for v in result.stdout.split())
    assert abs(true_drift) < 100 and abs(none_drift) < 100
