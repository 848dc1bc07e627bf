"""The Gallery page on real photos and the real engine (pytest-qt, offscreen): adding through
the form, editing with history, validation, folder import with a bad file, dropping a photo of
two people and choosing the face with the keyboard, search, removal with confirmation."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import FACEDATA, require_shared
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox

from desktop.engine.engine import EngineOptions
from desktop.gallery.enrol import faces_left_to_right
from desktop.gallery.fields import PersonFields
from desktop.scan.analyze import analyze_paths
from desktop.ui.face_picker import FacePicker
from desktop.ui.import_report import ImportReportDialog
from desktop.ui.pages.gallery import GalleryPage
from desktop.ui.person_form import PersonDialog

PEOPLE = FACEDATA / "face_recognition"
TWO_PEOPLE = PEOPLE / "_multi" / "two_people.jpg"  # Obama left, Biden right
WAIT_MS = 60_000


@pytest.fixture
def page(window, test_pack, tmp_path: Path, qtbot) -> GalleryPage:
    """The Gallery page of a real window, on a new gallery, embedding with the test pack."""
    require_shared()
    win = window()
    win.state.update_settings(replace(win.state.settings, default_pack=test_pack.id,
                                      provider="cpu", reviewer="Officer Ada"))
    page = win.page(GalleryPage)
    win.show_page(win.pages.index(page))
    page.import_workers = 1
    page.create_gallery(tmp_path / "missing.db")
    assert win.state.gallery is not None and page.buttons["add"].isEnabled()
    return page


def idle(qtbot, page: GalleryPage) -> None:
    qtbot.waitUntil(lambda: not page.busy, timeout=WAIT_MS)


def errors(page: GalleryPage) -> list[QMessageBox]:
    return [box for box in page.findChildren(QMessageBox, "errorDialog") if box.isVisible()]


def ok(dialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def add_person(qtbot, page: GalleryPage, name: str, photos: list[Path] = (), **fields: str) -> int:
    """Through the Add person form, as a user would (the file dialog only fills `photos`)."""
    dialog = page.add_person_dialog()
    dialog.form.name.setText(name)
    for field, value in fields.items():
        getattr(dialog.form, field).setText(value)
    dialog.add_photos(list(photos))
    ok(dialog)
    assert not dialog.isVisible()
    idle(qtbot, page)
    assert not errors(page), errors(page)[0].text() + errors(page)[0].informativeText()
    return page.selected_person_id()


def drop_files(page: GalleryPage, paths: list[Path], person_id: int | None) -> None:
    """A real drag-enter and drop of file URLs onto the person's row (None: the details)."""
    if person_id is None:
        where = page.details.mapTo(page, page.details.rect().center())
    else:
        row = page.table.filter.mapFromSource(
            page.table.persons.index(page.table.persons.row_of(person_id), 0))
        where = page.table.viewport().mapTo(page, page.table.visualRect(row).center())
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(where, Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(page, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(where), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(page, drop)


def test_add_person_with_two_photos_through_the_form(page, qtbot, tmp_path):
    photos = sorted((PEOPLE / "Barack_Obama").glob("obama-*p.jpg"))[:2]
    person_id = add_person(qtbot, page, "Barack Obama", photos, aliases="Barry; B.O.",
                           case_ref="MP-2026/7", last_seen_place="Honolulu")
    gallery = page.state.gallery
    row = gallery.persons()[0]
    assert (row["id"], row["name"], row["photos"], row["faces"]) == (person_id, "Barack Obama", 2, 2)
    assert row["aliases"] == ["Barry", "B.O."]
    model = page.table.persons
    assert [model.index(0, c).data() for c in range(5)] == [
        "Barack Obama", "MP-2026/7", 2, 2, "Honolulu"]
    assert page.details.strip.count() == 2
    history = page.details.history_texts()
    assert history[0] == "created" and sum("photo added" in h for h in history) == 2
    assert {e["actor"] for e in gallery.history(person_id)} == {"Officer Ada"}
    # The list's thumbnail and the strip's face-outlined photos arrive lazily.
    qtbot.waitUntil(lambda: model.index(0, 0).data(Qt.ItemDataRole.DecorationRole) is not None,
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not page.details.strip.item(1).icon().isNull(), timeout=WAIT_MS)
    page.settle()
    shot = tmp_path / "gallery.png"
    assert page.window().grab().save(str(shot))
    image = QImage(str(shot))
    assert image.width() >= 1000 and image.height() >= 600
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7)
               for y in range(0, image.height(), 7)}
    assert len(colours) > 500  # photos, text and widgets, not a blank page


def test_edit_shows_in_history_and_invalid_date_changes_nothing(page, qtbot):
    person_id = add_person(qtbot, page, "Ada Missing", case_ref="MP-1")
    gallery = page.state.gallery
    dialog = page.edit_person_dialog()
    assert dialog.form.name.text() == "Ada Missing" and dialog.form.case_ref.text() == "MP-1"
    dialog.form.last_seen_place.setText("Lyon, gare Part-Dieu")
    ok(dialog)
    idle(qtbot, page)
    assert gallery.person(person_id)["last_seen_place"] == "Lyon, gare Part-Dieu"
    assert any("Last seen place" in h and "Part-Dieu" in h for h in page.details.history_texts())
    assert page.details.values["last_seen"].text() == "Lyon, gare Part-Dieu"

    before, history = gallery.person(person_id), gallery.history(person_id)
    dialog = page.edit_person_dialog()
    dialog.form.birth_date.setText("2021-02-30")
    ok(dialog)
    assert dialog.isVisible() and not page.busy  # the form stays open with what was typed
    assert dialog.error.isVisible() and "Birth date" in dialog.error.text()
    assert "2021-02-30" in dialog.error.text()
    assert gallery.person(person_id) == before and gallery.history(person_id) == history
    dialog.reject()


def test_folder_import_reports_the_bad_file_and_imports_the_rest(page, qtbot, tmp_path):
    source = tmp_path / "persons"
    for person in ("Barack_Obama", "Joseph_Biden", "Kit_Harington"):
        (source / person).mkdir(parents=True)
        shutil.copy(sorted((PEOPLE / person).glob("*.jpg"))[0], source / person)
    (source / "Kit_Harington" / "scan-error.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    page.import_folder(source)
    assert page.busy and page.bar.isVisible()
    idle(qtbot, page)
    reports = page.findChildren(ImportReportDialog)
    assert len(reports) == 1 and reports[0].isVisible()
    report = reports[0].report
    assert (len(report.persons_created), report.photos_added, len(report.problems)) == (3, 3, 1)
    lines = [reports[0].lines.item(i).text() for i in range(reports[0].lines.count())]
    assert len(lines) == 1 and "scan-error.jpg" in lines[0] and lines[0].startswith("Problem")
    assert page.table.visible_names() == ["Barack Obama", "Joseph Biden", "Kit Harington"]


def test_dropping_a_photo_of_two_people_asks_which_face(page, qtbot, tmp_path, test_pack):
    person_id = add_person(qtbot, page, "Joseph Biden", [PEOPLE / "Joseph_Biden" / "biden.jpg"])
    drop_files(page, [TWO_PEOPLE], person_id)
    qtbot.waitUntil(lambda: any(p.isVisible() for p in page.findChildren(FacePicker)),
                    timeout=WAIT_MS)
    picker = next(p for p in page.findChildren(FacePicker) if p.isVisible())
    assert picker.choices.count() == 2
    qtbot.keyClick(picker.choices, Qt.Key.Key_2)  # the list has the focus; 2 still picks
    assert picker.chosen == 2 and not picker.isVisible()
    idle(qtbot, page)
    assert not errors(page)
    photos = page.state.gallery.photos(person_id)
    assert len(photos) == 2 and page.details.strip.count() == 2
    result = next(analyze_paths([TWO_PEOPLE], test_pack, EngineOptions(provider="cpu"), 1))
    second = faces_left_to_right(result.faces)[1].detection.box
    assert np.allclose(photos[1]["face_box"], second, atol=0.5)
    assert photos[1]["face_box"][0] > result.width / 2  # Biden, on the right


def test_photos_dropped_with_nobody_selected_start_a_new_person(page, qtbot):
    photo = PEOPLE / "Rose_Leslie" / "img1.jpg"
    drop_files(page, [photo], None)
    dialog = next(d for d in page.findChildren(PersonDialog) if d.isVisible())
    assert dialog.photos == [photo] and dialog.photo_list.count() == 1
    dialog.form.name.setText("Rose Leslie")
    ok(dialog)
    idle(qtbot, page)
    assert not errors(page)
    (person,) = page.state.gallery.persons()
    assert (person["name"], person["faces"]) == ("Rose Leslie", 1)
    assert page.selected_person_id() == person["id"]


def test_csv_import_reports_the_bad_row(page, qtbot, tmp_path):
    shutil.copy(PEOPLE / "Joseph_Biden" / "biden2.jpg", tmp_path / "b.jpg")
    shutil.copy(TWO_PEOPLE, tmp_path / "two.jpg")
    (tmp_path / "persons.csv").write_text(
        "name,photo,aliases,birth_date,case_ref,face\n"
        "Joe Biden,b.jpg,Joe;JRB,1942-11-20,US-1,\n"
        "Joe Biden,two.jpg,,,US-1,2\n"
        "Someone Else,b.jpg,,1990-13-01,,\n", encoding="utf-8")
    page.import_csv(tmp_path / "persons.csv")
    idle(qtbot, page)
    (dialog,) = page.findChildren(ImportReportDialog)
    report = dialog.report
    assert (len(report.persons_created), report.photos_added) == (1, 2)
    assert [p.where for p in report.problems] == ["persons.csv row 4"]
    assert "Birth date" in dialog.lines.item(0).text()
    (person,) = page.state.gallery.persons()
    assert person["aliases"] == ["Joe", "JRB"] and person["faces"] == 2


def test_a_photo_without_a_face_is_refused_clearly(page, qtbot, tmp_path):
    person_id = add_person(qtbot, page, "Nobody Here")
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 180, np.uint8))
    drop_files(page, [blank], person_id)
    qtbot.waitUntil(lambda: bool(errors(page)), timeout=WAIT_MS)
    idle(qtbot, page)
    box = errors(page)[0]
    assert box.text() == "Nothing was added."
    assert "wall.png" in box.informativeText() and "no face" in box.informativeText()
    assert page.state.gallery.photos(person_id) == []


def test_search_narrows_by_name_alias_and_case_ref(page, qtbot):
    for fields in (PersonFields("Maria Lopez", aliases=("Mari",), case_ref="ES-11"),
                   PersonFields("Jonas Berg", case_ref="NO-4"),
                   PersonFields("Anna Berg", aliases=("Nina",))):
        page.add_photos([], person=fields)
        idle(qtbot, page)
    assert len(page.table.visible_names()) == 3
    qtbot.keyClicks(page.search, "berg")
    assert page.table.visible_names() == ["Anna Berg", "Jonas Berg"]
    page.search.setText("nina")
    assert page.table.visible_names() == ["Anna Berg"]
    page.search.setText("es-11")
    assert page.table.visible_names() == ["Maria Lopez"]
    page.search.clear()
    assert len(page.table.visible_names()) == 3


def test_remove_person_after_confirmation(page, qtbot):
    person_id = add_person(qtbot, page, "To Remove", [PEOPLE / "Kit_Harington" / "john1.jpeg"])
    stored = page.state.gallery.stored_path(page.state.gallery.photos(person_id)[0])
    box = page.confirm_remove()
    assert "To Remove" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert not page.busy and page.state.gallery.persons()
    box = page.confirm_remove()
    box.button(QMessageBox.StandardButton.Yes).click()
    idle(qtbot, page)
    assert page.state.gallery.persons() == [] and page.table.visible_names() == []
    assert page.state.gallery.history(person_id)[-1]["action"] == "removed"
    assert not stored.exists() and page.selected_person_id() is None
    assert not page.buttons["remove"].isEnabled()


def test_remove_one_reference_photo_after_confirmation(page, qtbot):
    photos = sorted((PEOPLE / "Barack_Obama").glob("obama-*p.jpg"))[:2]
    person_id = add_person(qtbot, page, "Two Photos", photos)
    gallery = page.state.gallery
    first, second = gallery.photos(person_id)
    details = page.details
    details.strip.setCurrentRow(1)
    assert details.remove_photo_button.isEnabled()
    details.remove_photo_button.click()
    box = next(b for b in page.findChildren(QMessageBox, "confirmRemovePhoto") if b.isVisible())
    box.button(QMessageBox.StandardButton.Yes).click()
    idle(qtbot, page)
    assert [p["id"] for p in gallery.photos(person_id)] == [first["id"]]
    assert not gallery.stored_path(second).exists() and gallery.stored_path(first).exists()
    assert gallery.embeddings(page.state.settings.default_pack)[0].tolist() == [person_id]
    last = gallery.history(person_id)[-1]
    assert (last["action"], last["actor"]) == ("photo removed", "Officer Ada")
    assert any(text.endswith(f"photo removed: {photos[1].name}")
               for text in details.history_texts())
