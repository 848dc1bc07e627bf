"""Issue 15, review: what a Griffeye or IPED user expects of the Review page, on a real
scanned case with more than a hundred hits: decisions that never wrap, multi-select and bulk
decisions with one note, sortable columns, Home/End, undo (audited), the F1 sheet, a grid of
faces (one tile per face, with its candidates), a face-centred candidates view, a calibrated
score beside the cosine; a keyboard-only review of 100 hits; the grid at 100,000 faces."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from desktop.match.hits import GalleryMatrix, load_probes, match_case
from desktop.review.queue import review_items
from desktop.scan.case import Case
from desktop.storage.record import verify_case
from desktop.ui.pages.review import ReviewPage

REVIEWER = "Ada Lovelace"
SHIFT, CTRL = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier


@pytest.fixture(scope="module")
def big_case(pristine_case: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared scanned case with more hits, added through the matcher's own code path:
    every face matched against a gallery matrix holding copies of every face's embedding
    ("clone" persons), so each face has several candidates. No model runs."""
    folder = tmp_path_factory.mktemp("examiner") / "case"
    shutil.copytree(pristine_case, folder)
    case = Case.open(folder)
    probes, vectors = load_probes(case.db)
    copies = max(3, math.ceil(130 / len(probes)))
    ids = np.arange(10_000, 10_000 + len(probes) * copies)
    names = {int(pid): f"Clone {i // copies}-{i % copies}" for i, pid in enumerate(ids)}
    info = case.info
    scan_id = next(case.db.query("SELECT MAX(id) AS id FROM scans"))["id"]
    match_case(case.db, GalleryMatrix(ids, np.repeat(vectors, copies, axis=0), names,
                                      info.gallery_id or ""),
               pack_id=info.pack_id, threshold=info.match_threshold, scan_id=scan_id,
               actor="test", top_k=copies)
    assert len(review_items(case.db)) >= 110
    case.close()
    return folder


@pytest.fixture
def big_copy(big_case: Path, tmp_path: Path) -> Path:
    target = tmp_path / "case"
    shutil.copytree(big_case, target)
    return target


def open_review(window, folder: Path) -> ReviewPage:
    win = window(case=folder)
    page = win.page(ReviewPage)
    win.show_page(win.pages.index(page))
    page.settle()
    page.reviewer.setText(REVIEWER)
    return page


def recorded(folder: Path) -> list[tuple]:
    case = Case.open(folder)
    try:
        assert verify_case(case.db).ok
        return [(r["hit_id"], r["verdict"], r["note"]) for r in case.db.query(
            "SELECT * FROM decisions ORDER BY id")]
    finally:
        case.close()


def statuses(folder: Path) -> dict[int, str]:
    case = Case.open(folder)
    try:
        return {h["hit_id"]: h["status"] for h in review_items(case.db)}
    finally:
        case.close()


def row_ids(page: ReviewPage) -> list[int]:
    return [page.model.item(row)["hit_id"] for row in range(page.model.rowCount())]


def press(qtbot, widget, key, modifier=Qt.KeyboardModifier.NoModifier, times: int = 1) -> None:
    for _ in range(times):
        qtbot.keyClick(widget, key, modifier)


def test_a_decision_on_the_last_row_stays_there(window, big_copy, qtbot):
    """Issue 15 fault 2: C/R/U on the last row wrapped to the first pending hit, which the
    reviewer had not seen (and the next key decided it)."""
    page = open_review(window, big_copy)
    first, last = row_ids(page)[0], row_ids(page)[-1]
    page.select(page.model.rowCount() - 1)
    press(qtbot, page.table, Qt.Key.Key_R)
    assert page.current_item()["hit_id"] == last
    assert "no more pending below" in page.message.text()
    press(qtbot, page.table, Qt.Key.Key_U)  # a change of mind on the same, last hit
    assert recorded(big_copy) == [(last, "reject", None), (last, "unsure", None)]
    assert statuses(big_copy)[first] == "pending"


def test_home_end_and_shift_select_a_range_decided_with_one_note(window, big_copy, qtbot):
    """Issue 15 faults 3: no multi-select and no bulk decision; Home/End did nothing."""
    page = open_review(window, big_copy)
    ids = row_ids(page)
    press(qtbot, page.table, Qt.Key.Key_End)
    assert page.current_item()["hit_id"] == ids[-1]
    press(qtbot, page.table, Qt.Key.Key_Home)
    assert page.current_item()["hit_id"] == ids[0]
    press(qtbot, page.table, Qt.Key.Key_Down, SHIFT, times=4)
    press(qtbot, page.table, Qt.Key.Key_N)
    qtbot.keyClicks(page.note, "five of one series")
    press(qtbot, page.note, Qt.Key.Key_Return)
    press(qtbot, page.table, Qt.Key.Key_R)
    assert recorded(big_copy) == [(h, "reject", "five of one series") for h in ids[:5]]
    assert page.current_item()["hit_id"] == ids[5]  # the next pending below the range
    page.table.selectRow(7)  # Ctrl-click adds rows 7 and 9 to the selection
    for row in (9,):
        rect = page.table.visualRect(page.model.index(row, 1))
        qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, CTRL, rect.center())
    press(qtbot, page.table, Qt.Key.Key_C)
    assert recorded(big_copy)[5:] == [(ids[7], "confirm", None), (ids[9], "confirm", None)]


def test_a_header_click_sorts_and_the_selection_stays_on_its_hit(window, big_copy, qtbot):
    """Issue 15 fault 4: the columns could not be sorted."""
    page = open_review(window, big_copy)
    header = page.table.horizontalHeader()
    person = next(c for c in range(page.model.columnCount())
                  if page.model.headerData(c, Qt.Orientation.Horizontal) == "Person")
    page.select(3)
    chosen = page.current_item()["hit_id"]
    where = QPoint(header.sectionViewportPosition(person) + 5, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=where)
    names = [page.model.item(r)["person_name"].casefold() for r in range(page.model.rowCount())]
    assert names == sorted(names) and len(set(names)) > 2
    assert page.current_item()["hit_id"] == chosen
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=where)
    names = [page.model.item(r)["person_name"].casefold() for r in range(page.model.rowCount())]
    assert names == sorted(names, reverse=True)
    press(qtbot, page.table, Qt.Key.Key_C)  # decides the hit shown, wherever sorting put it
    assert recorded(big_copy) == [(chosen, "confirm", None)]


def test_ctrl_z_undoes_the_last_decision_as_an_audited_record(window, big_copy, qtbot):
    """Issue 15 fault 5: there was no undo; a wrong key press could only be overridden by
    another verdict, never taken back to pending."""
    page = open_review(window, big_copy)
    ids = row_ids(page)
    press(qtbot, page.table, Qt.Key.Key_Down, SHIFT, times=2)
    press(qtbot, page.table, Qt.Key.Key_C)  # three confirmed in bulk
    press(qtbot, page.table, Qt.Key.Key_R)  # the fourth rejected
    press(qtbot, page.table, Qt.Key.Key_Z, CTRL)
    assert page.current_item()["hit_id"] == ids[3] and "Undone" in page.message.text()
    assert page.current_item()["status"] == "pending"
    press(qtbot, page.table, Qt.Key.Key_Z, CTRL)
    now = statuses(big_copy)
    assert [now[h] for h in ids[:4]] == ["pending"] * 4
    assert "(undone)" in page.details.fields["History"].text()
    assert len(recorded(big_copy)) == 4  # nothing deleted: the decisions stay, withdrawn
    case = Case.open(big_copy)
    undos = [json.loads(r["payload"]) for r in case.db.query(
        "SELECT payload FROM audit WHERE action = 'undo' ORDER BY seq")]
    case.close()
    assert [u["hit_ids"] for u in undos] == [[ids[3]], sorted(ids[:3])]
    press(qtbot, page.table, Qt.Key.Key_Z, CTRL)
    assert "Nothing to undo" in page.message.text()


def test_f1_lists_every_review_key(window, big_copy, qtbot):
    """Issue 15 fault 6: no shortcut help."""
    page = open_review(window, big_copy)
    press(qtbot, page.table, Qt.Key.Key_F1)
    assert page.sheet is not None and page.sheet.isVisible()
    listed = " ".join(page.sheet.keys())
    for needed in ("C", "R", "U", "T", "N", "Ctrl+Z", "G", "Home / End", "Shift", "F1"):
        assert needed in listed


def test_the_grid_shows_a_tile_per_face_and_decides_a_tile_selection(window, big_copy, qtbot):
    """Issue 15 faults 3 and 7: no grid of faces; a face with several candidates appeared as
    separate rows far apart."""
    page = open_review(window, big_copy)
    faces = {page.model.item(r)["face_id"] for r in range(page.model.rowCount())}
    press(qtbot, page.table, Qt.Key.Key_G)
    assert page.in_grid() and page.grid.isVisible()
    assert page.grid_model.rowCount() == len(faces)
    caption = page.grid_model.data(page.grid_model.index(0))
    assert "candidates" in caption
    press(qtbot, page.grid, Qt.Key.Key_End)
    assert page.grid.currentIndex().row() == len(faces) - 1
    press(qtbot, page.grid, Qt.Key.Key_Home)
    press(qtbot, page.grid, Qt.Key.Key_Right, SHIFT)
    leads = [page.grid_model.group(r).lead["hit_id"] for r in (0, 1)]
    press(qtbot, page.grid, Qt.Key.Key_U)
    assert recorded(big_copy) == [(h, "unsure", None) for h in leads]
    assert page.grid.currentIndex().row() == 2
    press(qtbot, page.grid, Qt.Key.Key_G)  # back to the table, on the same hit
    assert not page.in_grid() and page.current_item() == page.grid_model.group(2).lead


def test_the_face_centred_view_lists_the_faces_ranked_candidates(window, big_copy, qtbot):
    """Issue 15 fault 7: one probe face's candidates could not be seen together, ranked."""
    page = open_review(window, big_copy)
    press(qtbot, page.table, Qt.Key.Key_G)
    group = page.grid_model.group(0)
    lines = [page.details.candidates.item(i).text() for i in range(page.details.candidates.count())]
    ranked = group.ranked()
    assert len(lines) == len(ranked) >= 3
    for line, hit in zip(lines, ranked, strict=True):
        assert f"#{hit['rank']}  {hit['person_name']}" in line
    assert sum(line.startswith("▶") for line in lines) == 1
    other = ranked[-1]
    page.details.candidate_chosen.emit(other["hit_id"])  # pick another candidate of the face
    assert page.current_item()["hit_id"] == other["hit_id"] and page.grid.currentIndex().row() == 0
    assert page.faces.reference_caption.text().startswith(f"Reference · {other['person_name']}")
    press(qtbot, page.grid, Qt.Key.Key_R)
    assert recorded(big_copy) == [(other["hit_id"], "reject", None)]


def test_the_calibrated_false_match_rate_stands_beside_the_score(big_copy, capsys):
    """Issue 15 fault 8: scores of different packs live on different scales; nothing said
    how often an impostor scores that high."""
    from desktop.cli import main
    from desktop.engine.manifest import Calibration, calibration_to_dict

    assert main(["review", "list", "--case", str(big_copy), "--format", "json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert items and all(h["fmr_estimate"] is None for h in items)  # uncalibrated pack
    case = Case.open(big_copy)
    info = case.info
    calibration = Calibration(info.pack_id, info.model_hashes, info.match_threshold, 0.001,
                              0.0008, 0.02, 300, 5000, 0, None, "pairs file pairs.txt", "0" * 64,
                              "2026-11-30T00:00:00+00:00")
    case.update_info({"calibration": calibration_to_dict(calibration)}, "test", "calibrated",
                     {})
    case.close()
    assert main(["review", "list", "--case", str(big_copy), "--format", "json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert {h["fmr_estimate"] for h in items} == {0.0008}
    assert {"hit_id", "score", "rank", "status", "person_name"} <= set(items[0])
    # A calibration that kept its impostor scores: the rate is read at each hit's own score.
    scores = sorted({round(h["score"], 4) for h in items})
    low, high = scores[0], scores[-1]
    tail = (high + 0.01, (low + high) / 2, low - 0.001)  # of 5000: 2 at or above `low`
    case = Case.open(big_copy)
    case.update_info({"calibration": calibration_to_dict(dataclasses.replace(
        calibration, impostor_tail=tail))}, "test", "calibrated", {})
    case.close()
    assert main(["review", "list", "--case", str(big_copy), "--format", "json"]) == 0
    by_score = {round(h["score"], 4): h["fmr_estimate"] for h in json.loads(capsys.readouterr().out)}
    assert by_score[high] == 1 / 5000  # only the impostor above every hit
    assert by_score[low] == 2 / 5000
    assert set(by_score.values()) == {1 / 5000, 2 / 5000}


def test_a_keyboard_only_review_of_100_hits_in_bulk(window, big_copy, qtbot):
    """Issue 15 evidence: 100 hits decided with the keyboard alone, in bulk ranges with one
    note each; case.db holds exactly the decisions intended and its record verifies."""
    page = open_review(window, big_copy)
    ids = row_ids(page)
    plan = [(10, Qt.Key.Key_C, "confirm", "same scar"), (25, Qt.Key.Key_R, "reject", None),
            (15, Qt.Key.Key_U, "unsure", "poor light"), (50, Qt.Key.Key_R, "reject", "child")]
    intended, start = [], 0
    press(qtbot, page.table, Qt.Key.Key_Home)
    for size, key, verdict, note in plan:
        assert page.current_item()["hit_id"] == ids[start]
        if note:
            press(qtbot, page.table, Qt.Key.Key_N)
            qtbot.keyClicks(page.note, note)
            press(qtbot, page.note, Qt.Key.Key_Return)
        press(qtbot, page.table, Qt.Key.Key_Down, SHIFT, times=size - 1)
        press(qtbot, page.table, key)
        intended += [(h, verdict, note) for h in ids[start:start + size]]
        start += size
    assert start == 100 and recorded(big_copy) == intended
    now = statuses(big_copy)
    assert [now[h] for h in ids[100:]] == ["pending"] * (len(ids) - 100)


GRID_AT_100000 = """
import json, time
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from desktop.review.decisions import Decision
from desktop.review.queue import group_by_face, with_decision
from desktop.ui.review_grid import FaceTilesModel, TileGrid
from desktop.ui.review_queue import collector_paused
from desktop.ui.stall import StallMeter

def wait(ms):
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()

with collector_paused():  # as the page's queue is read
    items = [{"hit_id": i, "face_id": i // 2, "person_name": f"Person {i % 7}",
              "score": (i % 1000) / 1000, "rank": 1 + i % 2, "status": "pending",
              "fmr_estimate": None, "crop": None, "path": f"d/{i}.jpg"} for i in range(200_000)]
    groups = group_by_face(items)
model = FaceTilesModel()
grid = TileGrid(model)
grid.resize(700, 600)
grid.show()
started = time.perf_counter()
model.set_groups(groups, None)
rows = model.rowCount()
meter = StallMeter()
meter.start()
while grid.verticalScrollBar().maximum() <= 100_000 and time.perf_counter() - started < 30:
    wait(10)
laid_out = time.perf_counter() - started
bar = grid.verticalScrollBar()
for step in range(60):
    bar.setValue(bar.maximum() * step // 60)
    grid.setCurrentIndex(model.index(step * 1_600))
    decided = model.group(step * 1_600).lead
    with_decision(decided, Decision(step, decided["hit_id"], "reject", "A", None, "t"))
    model.refresh([decided["hit_id"]])
    wait(10)  # the event loop paints and the meter ticks
stall = meter.stop()
print(json.dumps({"rows": rows, "laid_out": laid_out, "worst_ms": stall.worst_ms,
                  "p99_ms": stall.p99_ms, "samples": stall.samples,
                  "status": model.group(1_600).lead["status"]}))
"""


def test_the_grid_stays_responsive_at_100000_faces():
    """Issue 15 evidence: review in grid mode at 100,000 hits; the event loop never stalls
    100 ms while scrolling and deciding (measured as the scan's responsiveness test does).
    In a fresh process, as the application runs: not in one that earlier tests have loaded
    with their threads and caches (117 ms seen there in a CI run, 12-25 ms alone)."""
    run = subprocess.run([sys.executable, "-c", GRID_AT_100000], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"\ngrid of 100,000 faces: laid out in {found['laid_out']:.2f} s; worst stall "
          f"{found['worst_ms']:.1f} ms, p99 {found['p99_ms']:.1f} ms over {found['samples']} ticks")
    assert found["rows"] == 100_000 and found["status"] == "reject"
    assert found["samples"] > 50 and found["worst_ms"] < 100


def test_review_undo_on_the_command_line_withdraws_once(big_copy, capsys):
    """Issue 15 fault 5, for the command line: a decision could not be taken back."""
    from desktop.cli import main

    hit_id = statuses(big_copy).popitem()[0]
    assert main(["review", "decide", "--case", str(big_copy), "--hit", str(hit_id),
                 "--decision", "confirm", "--reviewer", "Bob"]) == 0
    said = capsys.readouterr().out
    decision_id = said.split("decision ids ")[1].split(";")[0]
    assert main(["review", "undo", "--case", str(big_copy), "--decision", decision_id,
                 "--reviewer", "Bob"]) == 0
    assert statuses(big_copy)[hit_id] == "pending"
    assert main(["review", "undo", "--case", str(big_copy), "--decision", decision_id,
                 "--reviewer", "Bob"]) != 0
    assert "undone already" in capsys.readouterr().err
    assert recorded(big_copy) == [(hit_id, "confirm", None)]
