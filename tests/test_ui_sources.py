"""Issue 14 in the desktop application: a case's evidence gathered as examiners receive it
(folders, zips, disk images, E01s), each shown with the kind Homeward recognised or why it
cannot read it; new cases created with several sources; a source added to an open case and
scanned; the case's sources, hashes and E01 verification shown as plain text. pytest-qt,
offscreen, real photos from ../shared, real containers built here, real scans."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from archive_fixtures import face_folder, make_zip
from conftest import FACEDATA
from disk_fixtures import corrupt_e01, e01_image, ext4_image, photo_folder
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.scan.case import Case, CaseInfo
from desktop.scan.sources import case_sources
from desktop.sources.base import SourceError
from desktop.sources.detect import detect_kind
from desktop.ui.pages.cases import CasesPage
from desktop.ui.pages.scan import ScanPage
from desktop.ui.source_list import SourceList

HOSTILE = "<b>bold</b>.zip"  # as a path: a folder "<b>bold<" holding "b>.zip"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _junk(folder: Path) -> Path:
    junk = folder / "notes.txt"
    junk.write_text("not evidence, just words\n" * 50, encoding="utf-8")
    return junk


def _zip_of_faces(dest: Path, name: str = "phone.zip") -> Path:
    """A zip (Python's zipfile) of four real face photos, in its own folder."""
    dest.mkdir(parents=True, exist_ok=True)
    return make_zip(face_folder(dest / "stage", count=4), dest, name)


def _error_dialogs(win) -> list[QMessageBox]:
    return [w for w in win.findChildren(QMessageBox) if w.objectName() == "errorDialog"
            and w.isVisible()]


def _rows(sources: SourceList) -> list[str]:
    return [sources.rows.item(r).text() for r in range(sources.rows.count())]


@pytest.fixture
def source_list(qtbot) -> SourceList:
    widget = SourceList()
    qtbot.addWidget(widget)
    widget.resize(600, 300)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_source_list_shows_each_kind_and_why_a_file_cannot_be_read(source_list, tmp_path):
    """Each path is shown with the kind Homeward recognises by its content (a zip renamed .bin
    is still a zip), or with the SourceError message of a file it cannot read; a path added
    twice is listed once."""
    folder = photo_folder(tmp_path / "photos")
    archive = _zip_of_faces(tmp_path / "zips")
    renamed = archive.with_name("renamed.bin")
    shutil.copyfile(archive, renamed)
    image = ext4_image(tmp_path, folder)
    junk = _junk(tmp_path)
    with pytest.raises(SourceError) as refused:
        detect_kind(junk)
    source_list.add_paths([folder, archive, renamed, image, junk, folder])
    assert source_list.paths() == (folder, archive, renamed, image, junk)
    rows = _rows(source_list)
    assert rows[:4] == [f"{folder}  —  folder", f"{archive}  —  zip", f"{renamed}  —  zip",
                        f"{image}  —  raw disk image"]
    assert rows[4] == f"{junk}  —  cannot be read: {refused.value.message}"
    assert "is not a source Homeward can read" in rows[4]


def test_delete_key_and_remove_button_take_out_the_selected_rows(source_list, qtbot, tmp_path):
    """Delete on the list removes the selected rows; so does the Remove button."""
    paths = [tmp_path / name for name in ("a", "b", "c", "d")]
    for path in paths:
        path.mkdir()
    source_list.add_paths(paths)
    source_list.rows.setCurrentRow(1)
    source_list.rows.setFocus()
    qtbot.keyClick(source_list.rows, Qt.Key.Key_Delete)
    assert source_list.paths() == (paths[0], paths[2], paths[3])
    source_list.rows.setCurrentRow(2)
    qtbot.mouseClick(source_list.remove_button, Qt.MouseButton.LeftButton)
    assert source_list.paths() == (paths[0], paths[2])


def test_dropping_a_folder_and_a_zip_from_a_file_manager_adds_both(source_list, tmp_path):
    """A real drag-enter and drop, delivered to the window as the windowing system delivers
    them (Qt finds the widget under the cursor that takes drops), adds both paths with their
    kinds; a web link dropped with them is not evidence and is left out."""
    folder = photo_folder(tmp_path / "photos")
    archive = _zip_of_faces(tmp_path / "zips")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder)), QUrl.fromLocalFile(str(archive)),
                  QUrl("https://example.org/photo.jpg")])
    where = QPointF(source_list.rows.viewport().mapTo(
        source_list, source_list.rows.viewport().rect().center()))
    window = source_list.windowHandle()
    enter = QDragEnterEvent(where.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(where, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted()
    assert source_list.paths() == (folder, archive)
    assert _rows(source_list) == [f"{folder}  —  folder", f"{archive}  —  zip"]


def test_new_case_with_a_folder_and_a_zip_scans_both_and_shows_their_hashes(
        window, pristine_case, test_pack, tmp_path, qtbot):
    """Issue 14: the new-case form takes several sources. A folder and a zip (named like
    markup) become two sources of the case; the Scan page's plain scan reads both; the case
    details list each source's label, kind, path and the zip's full SHA-256, as plain text."""
    folder = photo_folder(tmp_path / "seized")
    hostile = tmp_path / HOSTILE
    hostile.parent.mkdir()
    shutil.copyfile(_zip_of_faces(tmp_path / "zips"), hostile)
    win = window()
    page = win.page(CasesPage)
    page.new_folder.set_path(tmp_path / "new-case")
    page.new_examiner.setText("Examiner Grace")
    page.new_gallery.set_path(Case.open(pristine_case).info.gallery)
    page.new_pack.refresh(test_pack.id)

    page.create_case()  # no source yet
    assert "needs: source" in _error_dialogs(win)[0].text()
    _error_dialogs(win)[0].close()

    page.new_source.add_paths([folder, hostile])
    assert f"{hostile}  —  zip" in _rows(page.new_source)
    page.create_case()
    assert not _error_dialogs(win), _error_dialogs(win)[0].text()
    case = win.state.case
    assert case is not None and case.folder == (tmp_path / "new-case").resolve()
    assert [(s.label, s.kind, s.path) for s in case_sources(case.db)] == [
        ("seized", "folder", str(folder)), ("b>.zip", "zip", str(hostile))]
    assert "not hashed yet: the next scan hashes it" in page.details.toPlainText()

    scan = win.page(ScanPage)
    assert f"b>.zip: {hostile}" in scan.source.text()
    scan.workers.setValue(1)
    scan.start()
    qtbot.waitUntil(lambda: scan.task is None, timeout=240_000)
    assert "finished" in scan.stage.text(), scan.stage.text()
    sources = case_sources(case.db)
    assert [(s.kind, s.sha256) for s in sources] == [("folder", None), ("zip", _sha256(hostile))]
    listed = {r["source_id"]: r["n"] for r in case.db.query(
        "SELECT source_id, COUNT(*) AS n FROM files GROUP BY source_id")}
    assert listed == {sources[0].source_id: 10, sources[1].source_id: 4}

    page.activated()
    shown = page.details.toPlainText()
    assert "seized" in shown and str(folder) in shown
    assert f"b>.zip\nzip\n{hostile}\nSHA-256 {_sha256(hostile)}" in shown, shown
    assert "bold.zip" not in shown.replace(HOSTILE, "")  # never rendered as markup


def test_a_source_homeward_cannot_read_blocks_the_new_case(window, pristine_case, test_pack,
                                                           tmp_path):
    """A junk file among the sources: the form's error dialog gives detect_kind's reason and
    no case is created."""
    folder = photo_folder(tmp_path / "seized")
    junk = _junk(tmp_path)
    win = window()
    page = win.page(CasesPage)
    page.new_folder.set_path(tmp_path / "new-case")
    page.new_examiner.setText("Examiner Grace")
    page.new_gallery.set_path(Case.open(pristine_case).info.gallery)
    page.new_pack.refresh(test_pack.id)
    page.new_source.add_paths([folder, junk])
    page.create_case()
    assert _error_dialogs(win)[0].text() == f"{junk} is not a source Homeward can read."
    assert win.state.case is None
    assert not (tmp_path / "new-case").exists()


def test_scan_page_adds_e01s_to_the_open_case_and_the_details_say_how_each_verified(
        window, case_copy, tmp_path, qtbot):
    """Issue 14: "Add source…" on the Scan page scans a new source into the open case. Three
    E01s of the same disk (intact; one byte flipped; a segment file missing) are added one by
    one; the case details give each one's verification in words, and the plain scan afterwards
    reads every source the case holds."""
    disk = ext4_image(tmp_path, photo_folder(tmp_path / "photos"))
    intact = e01_image(tmp_path / "intact", disk, segment_mb=1)
    damaged = tmp_path / "damaged"
    shutil.copytree(intact.parent, damaged)
    victim = tmp_path / "photos" / "Obama" / "obama.jpg"
    corrupt_e01(damaged / "evidence.E01", victim.read_bytes()[100_000:100_064])
    partial = tmp_path / "partial"
    shutil.copytree(intact.parent, partial)
    (partial / "evidence.E03").unlink()
    junk = _junk(tmp_path)

    win = window(case=case_copy)
    page = win.page(ScanPage)
    page.workers.setValue(1)
    for e01 in (intact, damaged / "evidence.E01", partial / "evidence.E01"):
        page.add_source(e01)
        qtbot.waitUntil(lambda: page.task is None, timeout=240_000)
        assert "finished" in page.stage.text(), page.stage.text()
    sources = case_sources(win.state.case.db)
    assert [s.label for s in sources] == ["source", "evidence.E01", "evidence.E01 (2)",
                                          "evidence.E01 (3)"]
    assert [s.details["verification"]["result"] for s in sources[1:]] == [
        "verified", "mismatch", "incomplete"]
    assert "evidence.E01 (3): " + str(partial / "evidence.E01") in page.source.text()

    cases = win.page(CasesPage)
    cases.activated()
    shown = cases.details.toPlainText()
    assert "E01 verified against its stored MD5/SHA-1" in shown
    start, length = sources[2].details["damaged_ranges"][0]
    assert (f"E01 FAILS its stored MD5/SHA-1 — damaged ranges bytes {start:,}–"
            f"{start + length - 1:,}") in shown
    assert "E01 incomplete: segment files missing" in shown
    assert f"SHA-256 {sources[1].sha256}" in shown and len(sources[1].sha256) == 64

    page.add_source(junk)  # refused by the scan, in its error dialog
    qtbot.waitUntil(lambda: page.task is None, timeout=60_000)
    assert _error_dialogs(win)[0].text() == f"{junk} is not a source Homeward can read."
    assert len(case_sources(win.state.case.db)) == 4

    page.start()  # every source the case holds
    qtbot.waitUntil(lambda: page.task is None, timeout=240_000)
    assert "finished" in page.stage.text(), page.stage.text()
    last = next(win.state.case.db.query("SELECT settings FROM scans ORDER BY id DESC LIMIT 1"))
    assert all(s.label in last["settings"] for s in sources)


def test_source_list_tooltips_and_rows_show_hostile_names_as_typed(source_list, tmp_path):
    """A path that looks like markup is shown as typed in the row and its tooltip."""
    from PySide6.QtGui import QTextDocument

    hostile = tmp_path / HOSTILE
    hostile.parent.mkdir()
    shutil.copyfile(next(FACEDATA.joinpath("lfw").rglob("*.jpg")), hostile)  # not evidence
    source_list.add_paths([hostile])
    item = source_list.rows.item(0)
    assert item.text().startswith(f"{hostile}  —  cannot be read: ")
    tooltip = QTextDocument()
    tooltip.setHtml(item.toolTip())
    assert tooltip.toPlainText().startswith(f"{hostile}\ncannot be read: ")


def test_details_of_a_case_not_scanned_yet_say_its_first_scan_records_the_source(
        window, test_pack, tmp_path):
    """A case created but never scanned (its first scan records its source): the details
    say so instead of an empty list."""
    Case.create(tmp_path / "case", CaseInfo(
        "C-14", "Examiner Ada", str(tmp_path), "", test_pack.id, test_pack.manifest.model_hashes,
        test_pack.manifest.match_threshold, 2.0, "")).close()
    win = window(case=tmp_path / "case")
    assert "None recorded yet: the first scan records the case's source." in win.page(
        CasesPage).details.toPlainText()
