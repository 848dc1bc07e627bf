"""The Review page on a real scanned case: the list is the review queue, the keyboard
records decisions that land in case.db with an intact audit trail, filters, a video track,
no case, a missing gallery, a screenshot; and the hits model at 100,000 rows."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import FACEDATA, scanned_case
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QTableView

from desktop.review.decisions import decide
from desktop.review.queue import filter_items, review_items
from desktop.scan.case import Case
from desktop.settings import load_settings
from desktop.storage import audit
from desktop.ui.hits_model import FACE, STATUS, HitsModel
from desktop.ui.pages import review as review_module
from desktop.ui.pages.review import ReviewPage

REVIEWER = "Ada Lovelace"


def open_review(window, folder: Path | None) -> tuple[object, ReviewPage]:
    win = window(case=folder)
    page = win.page(ReviewPage)
    win.show_page(win.pages.index(page))
    page.settle()
    return win, page


def shown_ids(page: ReviewPage) -> list[int]:
    return [page.model.item(row)["hit_id"] for row in range(page.model.rowCount())]


def queue(folder: Path, **filters) -> list[dict]:
    case = Case.open(folder)
    try:
        return review_items(case.db, **filters)
    finally:
        case.close()


def decisions(folder: Path) -> list[tuple]:
    case = Case.open(folder)
    try:
        assert audit.verify(case.db).ok
        return [(r["hit_id"], r["verdict"], r["reviewer"], r["note"]) for r in case.db.query(
            "SELECT * FROM decisions ORDER BY id")]
    finally:
        case.close()


def key(qtbot, widget, *keys) -> None:
    for k in keys:
        qtbot.keyClick(widget, k)


def test_the_keyboard_reviews_hits_and_the_decisions_land_in_the_case(window, case_copy, qtbot,
                                                                      tmp_path):
    expected = queue(case_copy)
    _, page = open_review(window, case_copy)
    assert shown_ids(page) == [h["hit_id"] for h in expected]
    assert page.model.rowCount() >= 3
    first, second, third = (h["hit_id"] for h in expected[:3])
    assert page.current_item()["hit_id"] == first
    assert page.details.hashes["SHA-256"].text() == expected[0]["sha256"]

    key(qtbot, page.table, Qt.Key.Key_C)  # no reviewer yet: refused, and asked for
    assert "reviewer" in page.message.text() and page.focusWidget() is page.reviewer
    assert decisions(case_copy) == []
    qtbot.keyClicks(page.reviewer, REVIEWER)
    key(qtbot, page.reviewer, Qt.Key.Key_Return)
    assert page.focusWidget() is page.table
    assert load_settings(tmp_path / "settings.json").reviewer == REVIEWER

    changed = []
    page.state.decisions_changed.connect(lambda: changed.append(1))
    key(qtbot, page.table, Qt.Key.Key_C)  # confirm the first; the next pending comes up
    assert page.current_item()["hit_id"] == second
    key(qtbot, page.table, Qt.Key.Key_R)
    assert page.current_item()["hit_id"] == third
    key(qtbot, page.table, Qt.Key.Key_N)
    assert page.focusWidget() is page.note
    qtbot.keyClicks(page.note, "older photo, same mole")
    key(qtbot, page.note, Qt.Key.Key_Return)
    assert page.focusWidget() is page.table
    key(qtbot, page.table, Qt.Key.Key_U)
    assert decisions(case_copy) == [(first, "confirm", REVIEWER, None),
                                    (second, "reject", REVIEWER, None),
                                    (third, "unsure", REVIEWER, "older photo, same mole")]
    assert len(changed) == 3
    status = page.model.index(page.model.row_of(first), STATUS)
    assert page.model.data(status) == "confirm"
    key(qtbot, page.table, Qt.Key.Key_K)  # back to the unsure one: its history shows
    assert page.current_item()["hit_id"] == third
    assert "unsure by Ada Lovelace" in page.details.fields["History"].text()
    key(qtbot, page.table, Qt.Key.Key_J)
    assert page.current_item()["hit_id"] != third
    scale = page.faces.context.transform().m11()
    key(qtbot, page.table, Qt.Key.Key_Plus)  # zooms the context image, decides nothing
    assert page.faces.context.transform().m11() == pytest.approx(scale * 1.25)
    qtbot.keyClick(page.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert page.focusWidget() is page.filters.status
    key(qtbot, page.filters.status, Qt.Key.Key_Escape)
    assert page.focusWidget() is page.table
    assert len(decisions(case_copy)) == 3
    actions = [r for r in Case.open(case_copy).db.query(
        "SELECT actor, action FROM audit WHERE action = 'decision'")]
    assert actions == [{"actor": REVIEWER, "action": "decision"}] * 3


def test_filters_show_what_the_review_queue_selects(window, case_copy):
    case = Case.open(case_copy)
    top = review_items(case.db)[0]
    decide(case.db, [top["hit_id"]], "confirm", "Bob")
    case.close()
    _, page = open_review(window, case_copy)
    filters = page.filters
    filters.status.setCurrentIndex(filters.status.findData("pending"))
    pending = shown_ids(page)
    assert pending == [h["hit_id"] for h in queue(case_copy, status="pending")]
    assert top["hit_id"] not in pending
    biden = next(h["person_id"] for h in queue(case_copy) if h["person_name"] == "Joseph_Biden")
    filters.status.setCurrentIndex(0)
    filters.person.setCurrentIndex(filters.person.findData(biden))
    assert filters.person.currentText().startswith("Joseph_Biden (")
    assert shown_ids(page) == [h["hit_id"] for h in queue(case_copy, person_id=biden)]
    filters.person.setCurrentIndex(0)
    filters.min_score.setValue(0.9)
    assert shown_ids(page) == [h["hit_id"] for h in queue(case_copy, min_score=0.9)]
    filters.status.setCurrentIndex(filters.status.findData("confirm"))
    assert shown_ids(page) == [top["hit_id"]]
    hidden = next(h["hit_id"] for h in queue(case_copy) if h["hit_id"] != top["hit_id"])
    page.details.candidate_chosen.emit(hidden)  # a rival hidden by the filters: shown anyway
    assert page.current_item()["hit_id"] == hidden
    assert filters.values() == {"status": None, "person_id": None, "min_score": None}


def test_candidates_list_the_faces_rivals_and_choosing_one_jumps(qapp, qtbot):
    from desktop.ui.review_panel import HitDetails

    details = HitDetails()
    qtbot.addWidget(details)
    item = {**_synthetic(7), "other_candidates": [
        {"hit_id": 8, "person_id": 2, "person_name": "Joseph_Biden", "score": 0.41, "rank": 2}]}
    details.show_hit(item, [], {8: "reject"}.get)  # the face's candidates, ranked, ▶ shown
    assert details.candidates.item(0).text().startswith("▶ #1  Person 0  0.007  · pending")
    assert details.candidates.item(1).text().startswith("  #2  Joseph_Biden  0.410  · reject")
    with qtbot.waitSignal(details.candidate_chosen) as chosen:
        details.candidates.itemActivated.emit(details.candidates.item(1))
    assert chosen.args == [8]


@pytest.fixture
def video_case(tmp_path: Path, test_pack) -> Path:
    """A case with a video of Bob Menendez, whom the gallery knows: one track, one hit."""
    from desktop.engine.engine import EngineOptions
    from desktop.gallery.fields import PersonFields
    from desktop.gallery.imports import PackInfo, import_rows
    from desktop.gallery.sources import ImportRow
    from desktop.scan.analyze import analyze_paths
    from desktop.scan.job import ScanJob

    case, gallery, _ = scanned_case(tmp_path, test_pack, "V-1", "examiner", extra_sources={
        "clip.mp4": FACEDATA / "videos" / "WDA_BobMenendez_000.mp4"})
    bob = FACEDATA / "lfw" / "Bob_Menendez" / "Bob_Menendez_0001.jpg"
    import_rows(gallery, [ImportRow("Bob_Menendez", PersonFields(name="Bob_Menendez"), bob)],
                lambda p: analyze_paths(p, test_pack, EngineOptions(), 1),
                PackInfo(test_pack.id, test_pack.manifest.model_hashes), "examiner")
    ScanJob(case, test_pack, gallery, workers=1).run()  # matches the case again: Bob's track
    folder = case.folder
    case.close()
    gallery.close()
    return folder


def test_t_gives_the_selected_hits_verdict_and_note_to_its_video_track(window, video_case, qtbot,
                                                                       monkeypatch):
    """Issue 15 fault 1: T right after C applied the last verdict to the next hit (C had
    moved on), and on the track's hit it recorded a second decision without the note given.
    T now gives the selected hit's own verdict and note to its track, never twice."""
    items = queue(video_case)
    track_hit = next(h for h in items if h["track_id"] is not None)
    photo_hit = next(h for h in items if h["track_id"] is None)
    assert track_hit["person_name"] == "Bob_Menendez" and track_hit["timestamp"] is not None
    asked = []
    real = review_module.hits_of_track
    monkeypatch.setattr(review_module, "hits_of_track",
                        lambda db, hit_id: asked.append(hit_id) or real(db, hit_id))
    _, page = open_review(window, video_case)
    page.reviewer.setText(REVIEWER)
    page.go_to(track_hit["hit_id"])
    key(qtbot, page.table, Qt.Key.Key_T)  # not decided yet: nothing to give the track
    assert "Decide hit" in page.message.text() and decisions(video_case) == []
    assert "frame" in page.details.fields["Video time"].text()
    page.go_to(photo_hit["hit_id"])
    key(qtbot, page.table, Qt.Key.Key_C)
    page.go_to(photo_hit["hit_id"])
    key(qtbot, page.table, Qt.Key.Key_T)  # a photo: no track
    assert "not from a video track" in page.message.text()
    page.go_to(track_hit["hit_id"])
    key(qtbot, page.table, Qt.Key.Key_N)
    qtbot.keyClicks(page.note, "same tattoo")
    key(qtbot, page.note, Qt.Key.Key_Return)
    key(qtbot, page.table, Qt.Key.Key_C)
    moved_to = page.current_item()["hit_id"]
    key(qtbot, page.table, Qt.Key.Key_T)  # right after C: about the hit now shown, a pending one
    assert page.current_item()["hit_id"] == moved_to and "Decide hit" in page.message.text()
    page.go_to(track_hit["hit_id"])
    key(qtbot, page.table, Qt.Key.Key_T)  # the track's only hit has this verdict and note
    assert asked == [track_hit["hit_id"]] and "nothing recorded" in page.message.text()
    assert decisions(video_case) == [(photo_hit["hit_id"], "confirm", REVIEWER, None),
                                     (track_hit["hit_id"], "confirm", REVIEWER, "same tattoo")]


def test_the_list_follows_new_hits_and_a_closed_case(window, case_copy):
    _, page = open_review(window, case_copy)
    hit_id = page.current_item()["hit_id"]
    case = Case.open(case_copy)  # decided elsewhere (the command line), then a scan reports
    decide(case.db, [hit_id], "reject", "Carol", "by the CLI")
    case.close()
    page.state.hits_changed.emit()
    assert page.model.rowCount() == 0  # the old list is gone at once, never decided on
    page.settle()
    assert shown_ids(page) == [h["hit_id"] for h in queue(case_copy)]
    assert page.model.item(page.model.row_of(hit_id))["status"] == "reject"
    page.state.close_case()
    assert page.stack.currentWidget() is page.hint and page.model.rowCount() == 0


def test_without_a_case_the_page_says_what_to_do(window, qtbot):
    _, page = open_review(window, None)
    assert page.stack.currentWidget() is page.hint
    assert "No case is open" in page.hint.text()
    key(qtbot, page.table, Qt.Key.Key_C, Qt.Key.Key_J, Qt.Key.Key_T)  # nothing to act on
    assert page.model.rowCount() == 0


def test_a_missing_gallery_hides_only_the_reference_photos(window, case_copy, qtbot):
    case = Case.open(case_copy)  # the gallery file was moved away since the scan
    case.db.execute("UPDATE case_info SET value = ? WHERE key = 'gallery'",
                    [json.dumps(str(case_copy / "moved-away.db"))])
    case.close()
    _, page = open_review(window, case_copy)
    assert "is missing" in page.faces.reference_note.text()
    assert page.faces.reference_note.isVisible() and not page.faces.strip_area.isVisible()
    assert page.faces.probe.pixmap() is not None and not page.faces.probe.pixmap().isNull()
    page.reviewer.setText(REVIEWER)
    first = page.current_item()["hit_id"]
    key(qtbot, page.table, Qt.Key.Key_R)  # deciding needs no gallery
    assert decisions(case_copy) == [(first, "reject", REVIEWER, None)]


def test_another_gallery_at_the_cases_path_shows_no_reference_photos(window, case_copy, tmp_path):
    """Issue 12 fault 3: the Review page showed reference photos of whatever gallery sat at
    the case's path; person ids of another gallery name other people."""
    from desktop.gallery.gallery import Gallery

    impostor = Gallery.create(tmp_path / "other.db")  # another gallery file at its path
    impostor.close()
    case = Case.open(case_copy)
    case.db.execute("UPDATE case_info SET value = ? WHERE key = 'gallery'",
                    [json.dumps(str(tmp_path / "other.db"))])
    case.close()
    _, page = open_review(window, case_copy)
    assert page.current_item() is not None
    assert "no longer the one this case was matched against" in page.faces.reference_note.text()
    assert not page.faces.strip_area.isVisible()


def test_the_review_page_renders_to_a_screenshot(window, case_copy, tmp_path):
    win, page = open_review(window, case_copy)
    page.settle()
    assert page.faces.reference_caption.text().startswith("Reference · ")
    path = tmp_path / "review.png"
    assert win.grab().save(str(path))
    assert path.stat().st_size > 50_000
    image = QImage(str(path)).scaled(QSize(64, 40))
    colors = {image.pixel(x, y) for x in range(64) for y in range(40)}
    assert len(colors) > 100  # faces, photo and text, not a blank page


# --- the model at scale ---------------------------------------------------------------------

def _synthetic(hit_id: int) -> dict:
    return {"hit_id": hit_id, "face_id": hit_id, "person_id": 1 + hit_id % 7,
            "person_name": f"Person {hit_id % 7}", "score": (hit_id % 1000) / 1000, "rank": 1,
            "threshold": 0.3, "pack_id": "p", "flags": [], "track_id": None, "frame": None,
            "timestamp": None, "box": [1, 2, 3, 4], "crop": f"{hit_id}.jpg", "thumbnail": None,
            "sha256": "0" * 64, "md5": "0" * 32, "kind": "image", "paths": [f"d/{hit_id}.jpg"],
            "path": f"d/{hit_id}.jpg", "other_candidates": [], "status": "pending",
            "reviewer": None, "decided_at": None, "note": None, "image_width": 10,
            "image_height": 10}


class CountingLoader(QObject):
    """A ThumbnailLoader stand-in that records which paths were asked for."""

    ready = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.size = QSize(48, 48)
        self.asked: list[str] = []

    def pixmap(self, path) -> None:
        self.asked.append(str(path))
        return None


def test_the_hits_model_serves_100000_rows_lazily(qapp, qtbot, tmp_path):
    items = [_synthetic(i) for i in range(1, 100_001)]
    loader = CountingLoader()
    model = HitsModel(loader)  # type: ignore[arg-type]
    started = time.perf_counter()
    model.set_items(filter_items(items, min_score=0.0), tmp_path)
    assert time.perf_counter() - started < 1.0
    assert model.rowCount() == 100_000 and model.row_of(100_000) == 99_999
    started = time.perf_counter()
    for row in range(50_000, 51_000):
        for column in range(model.columnCount()):
            model.data(model.index(row, column))
    assert time.perf_counter() - started < 0.5  # 8,000 cells
    loader.asked.clear()
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.verticalHeader().setDefaultSectionSize(52)
    view.resize(900, 600)
    view.show()
    view.grab()
    assert 0 < len(set(loader.asked)) <= 20  # the rows on screen, not 100,000
    assert all(Path(p).name in {f"{i}.jpg" for i in range(1, 21)} for p in loader.asked)
    with qtbot.waitSignal(model.dataChanged) as changed:
        loader.ready.emit(str(tmp_path / "crops" / "3.jpg"))
    top_left, bottom_right = changed.args[:2]
    assert (top_left.row(), top_left.column(), bottom_right.row()) == (2, FACE, 2)
