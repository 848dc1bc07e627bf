"""Scan control from a GUI thread: pause holds new work back, cancel stops and resumes."""

from __future__ import annotations

import shutil
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
    assert seen[0].stage == "hashing" and all(p.total for p in seen)
    summary = ScanJob(case, pack, gallery, options=EngineOptions(), workers=1).run()
    assert processed(case) == 40 and summary.new_contents == 40 - done
