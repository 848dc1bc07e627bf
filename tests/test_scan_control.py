"""Scan control from a GUI thread: pause holds new work back, cancel stops and resumes."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from conftest import FACEDATA, require_shared

from desktop.engine.engine import EngineOptions
from desktop.errors import Cancelled
from desktop.gallery.fields import PersonFields
from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import PackInfo, import_rows
from desktop.gallery.sources import ImportRow
from desktop.scan.analyze import analyze_paths
from desktop.scan.case import Case, CaseInfo
from desktop.scan.job import Progress, ScanJob

WINDOW_SPARE = 1  # files handed to the pool beyond one per worker (desktop/scan/workers.py)


@pytest.fixture
def small_case(tmp_path: Path, test_pack):
    require_shared()
    source = tmp_path / "source"
    source.mkdir()
    for photo in sorted((FACEDATA / "lfw").rglob("*.jpg"))[:40]:
        shutil.copyfile(photo, source / photo.name)
    gallery = Gallery.create(tmp_path / "g.db")
    obama = FACEDATA / "face_recognition" / "Barack_Obama" / "obama.jpg"
    import_rows(gallery, [ImportRow("o", PersonFields(name="Obama"), obama)],
                lambda p: analyze_paths(p, test_pack, EngineOptions(), 1),
                PackInfo(test_pack.id, test_pack.manifest.model_hashes), "t")
    case = Case.create(tmp_path / "case", CaseInfo(
        "T-1", "tester", str(source), str(tmp_path / "g.db"), test_pack.id,
        test_pack.manifest.model_hashes, test_pack.manifest.match_threshold, 2.0, ""))
    return case, gallery, test_pack


def processed(case: Case) -> int:
    return next(case.db.query(
        "SELECT COUNT(*) AS n FROM contents WHERE processed_at IS NOT NULL"))["n"]


def test_pause_holds_work_and_cancel_leaves_a_resumable_case(small_case):
    case, gallery, pack = small_case
    pause, cancel = threading.Event(), threading.Event()
    seen: list[Progress] = []
    at_pause: list[int] = []

    def on_progress(p: Progress) -> None:  # called on the scanning thread, as a GUI would be
        seen.append(p)
        if p.stage == "analysing" and p.done >= 5 and not pause.is_set():
            at_pause.append(p.done)
            pause.set()
            threading.Timer(1.5, cancel.set).start()

    job = ScanJob(case, pack, gallery, options=EngineOptions(), workers=1,
                  on_progress=on_progress, pause=pause, cancel=cancel)
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        job.run()
    assert time.perf_counter() - started < 60
    done = processed(case)
    assert at_pause and at_pause[0] <= done <= at_pause[0] + 1  # only work in flight finished
    assert done < 40
    statuses = [r["status"] for r in case.db.query("SELECT status FROM scans")]
    assert statuses == ["cancelled"]
    # Listing a source has no total to show (an image's file count is known once listed).
    assert seen[0].stage == "listing" and seen[1].stage == "hashing"
    assert all(p.total for p in seen if p.stage != "listing")
    summary = ScanJob(case, pack, gallery, options=EngineOptions(), workers=1).run()
    assert processed(case) == 40 and summary.new_contents == 40 - done


def _processed_now(folder: Path) -> int:
    """What case.db holds, read through a connection of its own (as another program would)."""
    db = sqlite3.connect(folder / "case.db")
    try:
        return db.execute("SELECT COUNT(*) FROM contents WHERE processed_at IS NOT NULL"
                          ).fetchone()[0]
    finally:
        db.close()


def test_pause_stops_new_work_within_one_file_per_worker(small_case):
    """Issue 12 fault 6: after Pause the pool went on analysing every remaining file (its
    feeder had taken them all) and the progress shown froze on a stale count. With two
    workers, only the files already handed out may finish; the last progress reported equals
    what case.db holds; cancel while paused is prompt."""
    case, gallery, pack = small_case
    pause, cancel = threading.Event(), threading.Event()
    seen: list[Progress] = []
    at_pause: list[int] = []
    held: list[tuple[int, Progress, float]] = []

    def look_then_cancel() -> None:  # a user looking at the paused scan, then cancelling
        held.append((_processed_now(case.folder), seen[-1], time.monotonic()))
        cancel.set()

    def on_progress(p: Progress) -> None:  # called on the scanning thread, as a GUI would be
        seen.append(p)
        if p.stage == "analysing" and not pause.is_set():
            pause.set()
            at_pause.append(_processed_now(case.folder))
            threading.Timer(3.0, look_then_cancel).start()

    job = ScanJob(case, pack, gallery, options=EngineOptions(), workers=2,
                  on_progress=on_progress, pause=pause, cancel=cancel)
    with pytest.raises(Cancelled):
        job.run()
    cancelled_after = time.monotonic()
    assert at_pause and held, "the scan never reached analysis"
    count, last, cancelled_at = held[0]
    assert at_pause[0] >= 1
    assert count <= at_pause[0] + 2 + WINDOW_SPARE, (at_pause, count)
    assert last.stage == "analysing" and last.done == count
    assert _processed_now(case.folder) == count
    assert cancelled_after - cancelled_at < 10


def test_scan_page_shows_the_true_counts_while_paused(window, small_case, qtbot):
    """Issue 12 fault 6: on the Scan page, after Pause the display kept a stale count (progress
    was ignored while paused). Paused, the page shows the count case.db holds."""
    from desktop.ui.pages.scan import ScanPage

    case, gallery, _ = small_case
    folder = case.folder
    case.close()
    gallery.close()
    win = window(case=folder)
    page = win.page(ScanPage)
    page.workers.setValue(2)
    page.start()
    qtbot.waitUntil(lambda: page.last_progress is not None
                    and page.last_progress.stage == "analysing", timeout=120_000)
    page.pause_button.setChecked(True)
    qtbot.wait(3000)
    held = _processed_now(folder)
    assert held < 40
    assert f"{held} of 40" in page.stage.text(), page.stage.text()
    assert "Paused" in page.stage.text()
    page.cancel()
    page.pause_button.setChecked(False)
    qtbot.waitUntil(lambda: page.task is None, timeout=60_000)
    assert page.stage.text().startswith("Cancelled")
