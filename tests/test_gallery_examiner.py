"""Issue 15, the gallery as an examiner uses it: a photo of several faces keeps its person and
waits for a face choice (listed and resolved in the CLI and on the Gallery page), the face
picker starts on the largest face, folder names read as names, messages name fields by their
labels, contradicting ages are warned about, reindexing counts what it did, and the Gallery
page keeps its Name column readable at 1366×768. Real faces, real engine, real widgets."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import FACEDATA, pack_source, require_shared
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QStyle, QStyleOptionViewItem

from desktop.cli import main
from desktop.engine.engine import EngineOptions
from desktop.engine.geometry import box_iou
from desktop.gallery.enrol import faces_left_to_right
from desktop.gallery.fields import InvalidField, PersonFields
from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import PackInfo, import_rows
from desktop.gallery.sources import ImportRow, Problem, rows_from_csv, rows_from_folder
from desktop.scan.analyze import analyze_paths
from desktop.storage.database import open_database, schema_version
from desktop.storage.gallery_schema import GALLERY_APPLICATION_ID, MIGRATIONS
from desktop.ui.face_picker import FacePicker
from desktop.ui.import_report import ImportReportDialog
from desktop.ui.pages.gallery import GalleryPage
from desktop.ui.person_form import PersonDialog

PEOPLE = FACEDATA / "face_recognition"
TWO_PEOPLE = PEOPLE / "_multi" / "two_people.jpg"  # Obama left, Biden right (the larger face)
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def two_faces(test_pack):
    """The engine's result for the two-person photo: faces left to right, the right larger."""
    require_shared()
    result = next(analyze_paths([TWO_PEOPLE], test_pack, EngineOptions(provider="cpu"), 1))
    left, right = faces_left_to_right(result.faces)
    area = [(f.detection.box[2] - f.detection.box[0]) * (f.detection.box[3] - f.detection.box[1])
            for f in (left, right)]
    assert area[1] > 1.1 * area[0]  # "largest" means something here
    return result


@pytest.fixture(scope="module")
def seeded(test_pack, tmp_path_factory):
    """A gallery imported from a folder: Joseph_Biden with one portrait, Jane_Doe with only
    the two-person photo. Returns (gallery path, import report)."""
    require_shared()
    base = tmp_path_factory.mktemp("seeded")
    for name, photo in (("Joseph_Biden", PEOPLE / "Joseph_Biden" / "biden2.jpg"),
                        ("Jane_Doe", TWO_PEOPLE)):
        (base / "persons" / name).mkdir(parents=True)
        shutil.copy(photo, base / "persons" / name)
    gallery = Gallery.create(base / "g.db")
    rows, problems = rows_from_folder(base / "persons")
    report = import_rows(gallery, rows, lambda p: analyze_paths(
        p, test_pack, EngineOptions(provider="cpu"), 1),
        PackInfo(test_pack.id, test_pack.manifest.model_hashes), "Officer Ada", problems)
    gallery.close()
    return base / "g.db", report


def gallery_copy(seeded, tmp_path: Path, case_data: bool = False) -> Path:
    """A private copy of the seeded gallery; `case_data`: with the case reference and last
    seen date and place a real gallery holds (they widen the persons list's columns)."""
    source = seeded[0]
    shutil.copy(source, tmp_path / "g.db")
    shutil.copytree(source.with_suffix(".store"), tmp_path / "g.store")
    if case_data:
        gallery = Gallery.open(tmp_path / "g.db")
        with gallery.writing() as write:
            for n, person in enumerate(gallery.persons()):
                write.edit_person(person["id"], {
                    "case_ref": f"MP-2026/{n:04d}", "last_seen_date": "2025-11-03",
                    "last_seen_place": "Lyon, gare Part-Dieu, hall 2"}, "Officer Ada")
        gallery.close()
    return tmp_path / "g.db"


def homeward(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["gallery", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- fault 1: a photo with several faces no longer loses its person --------------------------


def test_a_photo_with_several_faces_keeps_its_person_and_waits(seeded):
    """Issue 15 fault 1: a folder import refused a photo showing several faces and did not
    create its person at all (8 of 80 persons lost); the person must be created and the photo
    kept as pending a face choice."""
    path, report = seeded
    assert report.problems == []
    assert (len(report.persons_created), report.photos_added, len(report.pending)) == (2, 1, 1)
    assert report.pending[0].faces == 2 and report.pending[0].where.endswith("two_people.jpg")
    gallery = Gallery.open(path)
    jane = next(p for p in gallery.persons() if p["name"] == "Jane Doe")
    (pending,) = gallery.pending()
    assert (pending.person_id, pending.person_name, pending.faces) == (jane["id"], "Jane Doe", 2)
    assert (gallery.store / pending.stored_name).read_bytes() == TWO_PEOPLE.read_bytes()
    assert pending.largest_face == 2
    assert gallery.history(jane["id"])[-1]["action"] == "photo awaiting a face choice"
    gallery.close()


def test_a_gallery_of_schema_2_gains_the_pending_photos_table(tmp_path):
    """Issue 15 fault 1: galleries written before pending photos existed open and upgrade,
    their persons kept."""
    db = open_database(tmp_path / "old.db", MIGRATIONS[:2], "gallery",
                       application_id=GALLERY_APPLICATION_ID, create=True)
    db.execute("INSERT INTO persons (name, created_at, updated_at) VALUES ('Ana', 'x', 'x')")
    db.conn.close()
    gallery = Gallery.open(tmp_path / "old.db")
    assert schema_version(gallery.db) == 3 == len(MIGRATIONS)
    assert gallery.pending() == [] and [p["name"] for p in gallery.persons()] == ["Ana"]
    gallery.close()


def test_cli_lists_pending_photos_and_resolves_one(seeded, tmp_path, capsys, test_pack, two_faces):
    """Issue 15 fault 1: `homeward gallery pending` lists the photos awaiting a face choice
    (person, name, photo, faces) and `--choose ID --face N` stores face N as the reference."""
    db = gallery_copy(seeded, tmp_path)
    code, out, _ = homeward(capsys, "pending", "--gallery", str(db), "--format", "json")
    (listed,) = json.loads(out)
    assert code == 0 and (listed["name"], listed["faces"], listed["largest_face"]) == (
        "Jane Doe", 2, 2)
    assert listed["photo"].endswith("two_people.jpg")
    code, out, _ = homeward(capsys, "pending", "--gallery", str(db))
    assert code == 0 and "Jane Doe" in out and "2 faces" in out
    code, out, err = homeward(capsys, "pending", "--gallery", str(db), "--choose",
                              str(listed["id"]), "--face", "2", "--pack", test_pack.id,
                              "--provider", "cpu", "--workers", "1")
    assert code == 0, err
    gallery = Gallery.open(db)
    assert gallery.pending() == []
    (photo,) = gallery.photos(listed["person_id"])
    right = faces_left_to_right(two_faces.faces)[1].detection.box
    assert box_iou(photo["face_box"], right) > 0.9 and photo["packs"] == [test_pack.id]
    assert gallery.history(listed["person_id"])[-1]["action"] == "photo added"
    code, _, err = homeward(capsys, "pending", "--gallery", str(db), "--choose",
                            str(listed["id"]), "--face", "1")
    assert code == 3 and "No photo awaiting a face choice" in err
    gallery.close()


# --- fault 2: the picker starts on the largest face ------------------------------------------


def test_face_picker_preselects_the_largest_face(qapp, qtbot, two_faces):
    """Issue 15 fault 2: the face picker pre-selected the leftmost face, so Enter stored the
    wrong face where the subject is not on the left; it must start on the largest face."""
    picker = FacePicker(TWO_PEOPLE, two_faces.faces)
    qtbot.addWidget(picker)
    picker.show()
    assert picker.current() == 2 and "largest" in picker.choices.item(1).text()
    qtbot.keyClick(picker.choices, Qt.Key.Key_Return)
    assert picker.chosen == 2


# --- fault 3: folder names become display names ----------------------------------------------


def test_folder_names_become_display_names(tmp_path):
    """Issue 15 fault 3: a folder import kept the folder's underscores in the name
    (`Jane_Doe`); they are spaces in a person's name."""
    for folder in ("Jane_Doe", "Mary__Ann_Smith_", "Åsa Ødegård"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.jpg").write_bytes(b"")
    rows, problems = rows_from_folder(tmp_path)
    assert problems == []
    assert sorted(r.person.name for r in rows) == ["Jane Doe", "Mary Ann Smith", "Åsa Ødegård"]


# --- fault 4: messages name fields by their labels -------------------------------------------


@pytest.mark.parametrize(("fields", "label"), [
    ({"birth_date": "2021-02-30"}, "Birth date"),
    ({"last_seen_date": "31/12/2024"}, "Last seen date"),
    ({"age_min": "-1"}, "Minimum age"),
    ({"age_max": "twelve"}, "Maximum age"),
    ({"age_min": "15", "age_max": "12"}, "Minimum age"),
    ({"sex": "robot"}, "Sex"),
    ({"name": " "}, "Name"),
])
def test_validation_messages_use_field_labels(fields, label):
    """Issue 15 fault 4: validation messages named fields by internal names (`birth_date`,
    `age_min`); the user sees the labels of the form."""
    with pytest.raises(InvalidField) as info:
        PersonFields(**{"name": "Ana", **fields})
    message = info.value.message
    assert message.startswith(label) and "_" not in message.replace("'", " ").split(" not ")[0]


def test_csv_problems_use_field_labels(tmp_path):
    """Issue 15 fault 4: a CSV import's problems name the field by its label too."""
    (tmp_path / "p.csv").write_text("name,photo,photo_date,face,birth_date\n"
                                    "A,,2020-13,,\nB,,,two,\nC,,,,1990-02-30\n", encoding="utf-8")
    _, problems = rows_from_csv(tmp_path / "p.csv")
    reasons = [p.reason for p in problems]
    assert [r.split(" ")[0:2] for r in reasons] == [["Photo", "date"], ["Face", "must"],
                                                    ["Birth", "date"]]
    assert not any(name in r for r in reasons for name in ("photo_date", "birth_date"))


# --- fault 5: a birth date contradicting the age range is a warning --------------------------


def test_birth_date_contradicting_the_age_range_is_stored_with_a_warning(tmp_path):
    """Issue 15 fault 5: a birth date contradicting the age range was accepted silently; it is
    stored (not refused) and the import report warns about it."""
    gallery = Gallery.create(tmp_path / "g.db")
    rows = [ImportRow("row 2", PersonFields("Old Child", birth_date="1990", age_min=10,
                                            age_max=14, last_seen_date="2024-05"), None),
            ImportRow("row 3", PersonFields("Fits", birth_date="2012-03", age_min=10,
                                            age_max=14, last_seen_date="2024-05"), None),
            ImportRow("row 4", PersonFields("Today", birth_date="1950", age_min=20,
                                            age_max=30), None)]
    report = import_rows(gallery, rows, lambda paths: iter(()), PackInfo("none", {}), "t")
    assert len(report.persons_created) == 3 and report.problems == []
    assert [w.where for w in report.warnings] == ["row 2", "row 4"]
    assert "age of 33–34 on the last seen date 2024-05" in report.warnings[0].reason
    assert "outside the age range 10–14" in report.warnings[0].reason
    assert "today" in report.warnings[1].reason
    gallery.close()


def test_person_form_warns_about_a_contradicting_birth_date_and_still_saves(qapp, qtbot):
    """Issue 15 fault 5: the person form shows the contradiction as a warning while typing,
    and Add still stores the person."""
    dialog = PersonDialog(None)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.form.name.setText("Ana")
    dialog.form.age_min.setText("10")
    dialog.form.age_max.setText("14")
    assert not dialog.warning.isVisible()
    dialog.form.birth_date.setText("1990")
    dialog.form.last_seen_date.setText("2024")
    assert dialog.warning.isVisible() and "outside the age range 10–14" in dialog.warning.text()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert not dialog.isVisible() and dialog.person is not None
    assert dialog.person.birth_date == "1990"


# --- fault 6: reindex counts what it did -----------------------------------------------------


def test_reindex_reports_embeddings_not_added_photos(seeded, tmp_path, capsys):
    """Issue 15 fault 6: `homeward gallery reindex` reported "photos added: 1" (26 in the
    walkthrough) when no photo was added; it says how many photos it embedded and how many
    already had an embedding of the pack."""
    from desktop.engine.pack_install import import_pack
    from desktop.engine.pack_store import find_installed

    other = find_installed("shared_s_other") or import_pack(
        pack_source(tmp_path / "pack"), pack_id="shared_s_other")
    db = gallery_copy(seeded, tmp_path)
    args = ("reindex", "--gallery", str(db), "--provider", "cpu", "--workers", "1")
    code, out, _ = homeward(capsys, *args, "--pack", other.id)
    assert code == 0 and "photos added" not in out
    assert "photos embedded: 1, already embedded: 0, problems: 0" in out
    code, out, _ = homeward(capsys, *args, "--pack", other.id)
    assert code == 0 and "photos embedded: 0, already embedded: 1, problems: 0" in out


# --- the Gallery page -------------------------------------------------------------------------


@pytest.fixture
def page_on(window, test_pack):
    def make(gallery: Path, size: tuple[int, int] = (1366, 768)) -> GalleryPage:
        win = window(gallery=gallery)
        win.state.update_settings(replace(win.state.settings, default_pack=test_pack.id,
                                          provider="cpu", reviewer="Officer Ada"))
        win.resize(*size)
        page = win.page(GalleryPage)
        win.show_page(win.pages.index(page))
        QApplication.processEvents()
        return page
    return make


def test_gallery_page_lists_pending_photos_and_resolves_one(page_on, seeded, tmp_path, qtbot,
                                                            two_faces):
    """Issue 15 fault 1: the Gallery page lists the photos awaiting a face choice; choosing
    one opens the face picker (on the largest face) and Enter stores that face."""
    page = page_on(gallery_copy(seeded, tmp_path))
    assert page.pending.isVisible() and page.pending.count() == 1
    assert "Jane Doe" in page.pending.item(0).text() and "2 faces" in page.pending.item(0).text()
    page.pending.setCurrentRow(0)
    page.buttons["choose"].click()
    qtbot.waitUntil(lambda: any(p.isVisible() for p in page.findChildren(FacePicker)),
                    timeout=WAIT_MS)
    picker = next(p for p in page.findChildren(FacePicker) if p.isVisible())
    assert picker.current() == 2
    qtbot.keyClick(picker.choices, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not page.busy, timeout=WAIT_MS)
    gallery = page.state.gallery
    assert gallery.pending() == [] and not page.pending.isVisible()
    jane = next(p for p in gallery.persons() if p["name"] == "Jane Doe")
    (photo,) = gallery.photos(jane["id"])
    right = faces_left_to_right(two_faces.faces)[1].detection.box
    assert box_iou(photo["face_box"], right) > 0.9
    assert page.selected_person_id() == jane["id"]


def test_import_report_lists_pending_photos_and_warnings(qapp, qtbot, seeded):
    """Issue 15 faults 1 and 5: the import report shows what waits for a face choice and the
    warnings, not only the problems."""
    report = replace(seeded[1], warnings=[Problem("row 2", "Birth date 1990 gives an age of 34")])
    dialog = ImportReportDialog(report, "persons")
    qtbot.addWidget(dialog)
    lines = [dialog.lines.item(i).text() for i in range(dialog.lines.count())]
    assert any(line.startswith("Awaiting a face choice") and "two_people.jpg" in line
               for line in lines)
    assert any(line.startswith("Warning") and "Birth date 1990" in line for line in lines)


def name_text_fits(page: GalleryPage, row: int) -> tuple[str, str]:
    """(the name, the text the Name cell really shows): the delegate's own layout and elision."""
    table = page.table
    index = table.model().index(row, 0)
    option = QStyleOptionViewItem()
    table.initViewItemOption(option)
    option.rect = table.visualRect(index)
    table.itemDelegate().initStyleOption(option, index)
    style = table.style()
    text_rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, option, table)
    margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1
    shown = option.fontMetrics.elidedText(option.text, Qt.TextElideMode.ElideRight,
                                          text_rect.width() - 2 * margin)
    return option.text, shown


@pytest.mark.parametrize("size", [(1366, 768), (1280, 800)])
def test_name_column_stays_readable_with_a_person_selected(page_on, seeded, tmp_path, size):
    """Issue 15 fault 7: once a person was selected the Name column shrank to "…" (1366×768
    and 1280×800); a 12-character name must show whole."""
    page = page_on(gallery_copy(seeded, tmp_path, case_data=True), size)
    biden = next(p for p in page.state.gallery.persons() if p["photos"])  # Joseph Biden
    assert page.select_person(biden["id"])
    page.settle()
    QApplication.processEvents()
    row = page.table.visible_names().index(biden["name"])
    name, shown = name_text_fits(page, row)
    assert len(name) == 12 and shown == name, (page.table.columnWidth(0), shown)
    twelve = page.table.fontMetrics().horizontalAdvance("M" * 12)
    assert page.table.columnWidth(0) - page.table.iconSize().width() >= twelve


@pytest.mark.parametrize("size", [(1366, 768), (1280, 800)])
def test_gallery_page_fits_the_window(page_on, seeded, tmp_path, size):
    """Guard for issue 15 fault 7's fix (a readable Name column widens the persons list): at
    1366×768 and 1280×800 no widget of the Gallery page is clipped, with a person selected
    and photos awaiting a choice: its minimum size fits the room such a window gives a page
    (measured against the window's own frame, whatever the other pages ask)."""
    page = page_on(gallery_copy(seeded, tmp_path, case_data=True), size)
    page.select_person(page.state.gallery.persons()[0]["id"])
    QApplication.processEvents()
    assert page.pending_box.isVisible() and page.details.body.isVisible()
    window = page.window()
    room = (size[0] - (window.width() - page.width()), size[1] - (window.height() - page.height()))
    hint = page.minimumSizeHint()
    assert hint.width() <= room[0] and hint.height() <= room[1], (hint, room)
