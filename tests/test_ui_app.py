"""The desktop application end to end on real cases: creating and opening cases, scanning in
the background (responsive, pausable, resumable after the window closes), exporting reports,
screenshots of every page. pytest-qt, offscreen, real models from ../shared."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FACEDATA, REPO

from desktop.scan.case import Case
from desktop.storage import audit
from desktop.ui.pages.cases import CasesPage
from desktop.ui.pages.reports import ReportsPage
from desktop.ui.pages.scan import ScanPage
from desktop.ui.stall import StallMeter


def _gallery_of(case_folder: Path) -> Path:
    case = Case.open(case_folder)
    try:
        return Path(case.info.gallery)
    finally:
        case.close()


def _source(folder: Path, photos: int, video: bool = True) -> Path:
    folder.mkdir()
    people = FACEDATA / "face_recognition"
    for person in ("Barack_Obama", "Joseph_Biden"):
        for photo in sorted((people / person).glob("*.jpg"))[1:3]:
            shutil.copyfile(photo, folder / f"{person}_{photo.name}")
    for photo in sorted(FACEDATA.joinpath("lfw").rglob("*.jpg"))[20:20 + photos]:
        shutil.copyfile(photo, folder / photo.name)
    if video:
        shutil.copyfile(FACEDATA / "videos" / "short_hamilton_clip.mp4", folder / "clip.mp4")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return folder


def _new_case(win, tmp_path: Path, gallery: Path, source: Path, pack_id: str) -> Path:
    page = win.page(CasesPage)
    page.new_folder.set_path(tmp_path / "new-case")
    page.new_number.setText("2026/UI-7")
    page.new_examiner.setText("Examiner Grace")
    page.new_source.add_paths([source])
    page.new_gallery.set_path(gallery)
    page.new_pack.refresh(pack_id)
    page.create_case()
    return tmp_path / "new-case"


def _error_dialogs(win) -> list:
    from PySide6.QtWidgets import QMessageBox

    return [w for w in win.findChildren(QMessageBox) if w.objectName() == "errorDialog"
            and w.isVisible()]


def test_new_case_form_creates_opens_and_remembers_the_case(window, pristine_case, test_pack,
                                                            tmp_path):
    win = window()
    source = _source(tmp_path / "src", 2, video=False)
    page = win.page(CasesPage)
    page.create_case()  # nothing filled in
    assert _error_dialogs(win) and "needs" in _error_dialogs(win)[0].text()
    assert win.state.case is None
    _error_dialogs(win)[0].close()

    folder = _new_case(win, tmp_path, _gallery_of(pristine_case), source, test_pack.id)
    assert win.state.case is not None and win.state.case.folder == folder.resolve()
    info = win.state.case.info
    assert (info.case_number, info.examiner, info.pack_id) == ("2026/UI-7", "Examiner Grace",
                                                                test_pack.id)
    assert "2026/UI-7" in page.details.toPlainText()
    assert win.state.settings.recent_cases[0] == str(folder.resolve())
    page.create_case()  # the same folder again: refused, the open case untouched
    assert "already holds a case" in _error_dialogs(win)[0].text()


def test_scan_page_scans_in_the_background_without_stalling_the_window(
        window, pristine_case, test_pack, tmp_path, qtbot):
    win = window()
    source = _source(tmp_path / "src", 40)
    _new_case(win, tmp_path, _gallery_of(pristine_case), source, test_pack.id)
    page = win.page(ScanPage)
    win.show_page(win.pages.index(page))
    page.workers.setValue(2)
    meter = StallMeter()
    meter.start()
    page.start()
    qtbot.waitUntil(lambda: page.task is None, timeout=240_000)
    stall = meter.stop()
    print(f"\nevent loop during a {len(list(source.iterdir()))}-file scan: worst stall "
          f"{stall.worst_ms:.1f} ms, p99 {stall.p99_ms:.1f} ms over {stall.samples} ticks")
    assert "finished" in page.stage.text(), page.stage.text()
    assert stall.samples > 100
    assert stall.worst_ms < 100
    problems = {page.problems.item(r, 0).text(): page.problems.item(r, 1).text()
                for r in range(page.problems.rowCount())}
    assert problems == {"broken.jpg": "corrupt"} or problems == {"broken.jpg": "unsupported"}
    db = win.state.case.db
    names = {r["person_name"] for r in db.query("SELECT person_name FROM hits")}
    assert {"Barack_Obama", "Joseph_Biden"} <= names


def test_closing_the_window_mid_scan_loses_nothing_and_the_scan_resumes(
        window, pristine_case, test_pack, tmp_path, qtbot):
    win = window()
    source = _source(tmp_path / "src", 60, video=False)
    folder = _new_case(win, tmp_path, _gallery_of(pristine_case), source, test_pack.id)
    page = win.page(ScanPage)
    page.workers.setValue(1)
    page.start()
    qtbot.waitUntil(lambda: page.last_progress is not None
                    and page.last_progress.stage == "analysing"
                    and page.last_progress.done >= 5, timeout=120_000)
    win.close()  # cancels the scan and waits for it to stop between files
    db = sqlite3.connect(folder / "case.db")
    assert db.execute("SELECT status FROM scans ORDER BY id DESC").fetchone()[0] == "cancelled"
    done_before = db.execute("SELECT COUNT(*) FROM contents WHERE processed_at IS NOT NULL"
                             ).fetchone()[0]
    total = len(list(source.iterdir()))
    assert 5 <= done_before < total
    db.close()

    again = window(case=folder)
    page = again.page(ScanPage)
    assert page.start_button.text() == "Resume scan"
    page.start()
    qtbot.waitUntil(lambda: page.task is None, timeout=240_000)
    assert "finished" in page.stage.text(), page.stage.text()
    db = again.state.case.db
    assert next(db.query("SELECT COUNT(*) AS n FROM files WHERE status IS NULL"))["n"] == 0
    assert next(db.query("SELECT COUNT(*) AS n FROM files"))["n"] == total
    duplicated = list(db.query("SELECT content_id, frame_index, box, COUNT(*) AS n FROM faces "
                               "GROUP BY content_id, frame_index, box HAVING n > 1"))
    assert duplicated == []
    assert audit.verify(db).ok


def test_pause_holds_new_work_and_cancel_stops_the_scan(window, pristine_case, test_pack,
                                                        tmp_path, qtbot):
    win = window()
    source = _source(tmp_path / "src", 40, video=False)
    _new_case(win, tmp_path, _gallery_of(pristine_case), source, test_pack.id)
    page = win.page(ScanPage)
    page.workers.setValue(1)
    page.start()
    qtbot.waitUntil(lambda: page.last_progress is not None
                    and page.last_progress.stage == "analysing", timeout=120_000)
    page.pause_button.setChecked(True)
    qtbot.wait(500)  # the file in hand finishes
    held = page.last_progress.done
    qtbot.wait(1500)
    assert page.last_progress.done <= held + 1
    page.cancel()
    page.pause_button.setChecked(False)
    qtbot.waitUntil(lambda: page.task is None, timeout=60_000)
    assert page.stage.text().startswith("Cancelled")
    assert page.start_button.text() == "Resume scan"
    assert not _error_dialogs(win)  # a user's cancel is not an error


def test_reports_page_exports_a_pdf_in_the_background_and_lists_it(window, case_copy, qtbot):
    win = window(case=case_copy)
    page = win.page(ReportsPage)
    win.show_page(win.pages.index(page))
    page.form_choice.setCurrentIndex(page.form_choice.findData("pdf"))
    assert page.out.path().suffix == ".pdf" and page.out.path().parent == case_copy.resolve()
    page.export()
    qtbot.waitUntil(lambda: page.history.rowCount() == 1, timeout=60_000)
    written = page.out.path()
    assert written.read_bytes().startswith(b"%PDF")
    assert "SHA-256" in page.result.text()
    row = next(win.state.case.db.query("SELECT payload FROM audit WHERE action = 'export'"))
    assert str(written) in row["payload"]
    page.out.set_path(case_copy / "no-such-folder" / "r.html")
    page.form_choice.setCurrentIndex(page.form_choice.findData("html"))
    page.out.set_path(case_copy / "no-such-folder" / "r.html")
    page.export()
    qtbot.waitUntil(lambda: bool(_error_dialogs(win)), timeout=30_000)
    assert "does not exist" in _error_dialogs(win)[0].text()
    assert page.history.rowCount() == 1


def test_every_page_renders_to_a_screenshot(window, case_copy, tmp_path):
    from PIL import Image

    from desktop.ui.app import save_screenshots

    win = window(case=case_copy)
    written = save_screenshots(win, tmp_path / "shots")
    pages = [p.name for p in written if p.name.count("-") == 1][:6]  # then the extra views
    assert pages == ["01-cases.png", "02-gallery.png", "03-scan.png", "04-review.png",
                     "05-reports.png", "06-people.png"]
    for path in written:
        image = Image.open(path).convert("L")
        assert image.size[0] >= 800 or path.name not in pages  # dialogs are smaller
        low, high = image.getextrema()
        assert high - low > 100, f"{path.name} is blank"


def test_gui_command_writes_screenshots_offscreen(case_copy, tmp_path, isolated_data_dir):
    result = subprocess.run(
        [sys.executable, "-m", "desktop", "gui", "--case", str(case_copy), "--screenshot",
         str(tmp_path / "shots")], capture_output=True, text=True, timeout=120, cwd=REPO,
        env={"HOMEWARD_DATA_DIR": str(isolated_data_dir), "QT_QPA_PLATFORM": "offscreen",
             "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "shots").glob("??-*.png"))) >= 6  # pages, then extra views


@pytest.mark.parametrize("broken", ["{not json", '{"schema_version": 99}'])
def test_a_broken_settings_file_is_reported_and_kept(window, tmp_path, broken):
    (tmp_path / "settings.json").write_text(broken)
    win = window()
    assert _error_dialogs(win) and "settings" in _error_dialogs(win)[0].text()
    assert (tmp_path / "settings.json").read_text() == broken


def test_settings_dialog_saves_and_new_cases_take_its_defaults(window, test_pack, tmp_path):
    from desktop.settings import load_settings

    win = window()
    dialog = win.edit_settings()
    dialog.reviewer.setText("  Insp. Maria Lopes ")
    dialog.pack.refresh(test_pack.id)
    dialog.provider.setCurrentText("cpu")
    dialog.threshold.setValue(0.42)
    dialog.fps.setValue(4.0)
    dialog.save()
    assert not dialog.isVisible()
    saved = load_settings(tmp_path / "settings.json")
    assert (saved.reviewer, saved.default_pack, saved.provider, saved.match_threshold,
            saved.fps) == ("Insp. Maria Lopes", test_pack.id, "cpu", 0.42, 4.0)
    cases = win.page(CasesPage)
    assert cases.new_pack.pack_id() == test_pack.id
    assert abs(cases.new_threshold.value() - 0.42) < 1e-9 and cases.new_fps.value() == 4.0
    win.show_page(win.pages.index(win.page(ScanPage)))
    assert win.page(ScanPage).provider.currentText() == "cpu"
    dialog = win.edit_settings()
    dialog.threshold.setValue(-1.0)  # back to "pack default"
    dialog.save()
    assert load_settings(tmp_path / "settings.json").match_threshold is None


def test_gui_without_a_display_says_so_instead_of_aborting(isolated_data_dir):
    result = subprocess.run([sys.executable, "-m", "desktop", "gui"], capture_output=True,
                            text=True, timeout=60, cwd=REPO,
                            env={"HOMEWARD_DATA_DIR": str(isolated_data_dir),
                                 "PATH": "/usr/bin:/bin"})
    assert result.returncode == 3
    assert "no display" in result.stderr
