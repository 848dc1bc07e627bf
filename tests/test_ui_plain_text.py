"""Names, notes, case numbers, reviewers and paths are shown as typed, never as markup, on a
real case scanned against a gallery person whose name is HTML (pytest-qt, offscreen).

Qt renders any text that looks like HTML as rich text in labels, message boxes and tooltips;
`shown()` says what a user sees: the literal string only if it is not rendered as markup.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FACEDATA, require_shared
from PIL import Image
from PySide6.QtGui import Qt, QTextDocument  # QtGui's Qt adds mightBeRichText
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from desktop.engine.engine import EngineOptions
from desktop.gallery.fields import PersonFields
from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import ImportReport, PackInfo, import_rows
from desktop.gallery.sources import ImportRow, Problem
from desktop.review.decisions import decide
from desktop.review.queue import review_items
from desktop.scan.analyze import analyze_paths
from desktop.scan.case import Case, CaseInfo
from desktop.scan.job import ScanJob
from desktop.ui.dialogs import confirm, show_failure, show_info
from desktop.ui.hits_model import FILE
from desktop.ui.import_report import ImportReportDialog
from desktop.ui.pages.cases import CasesPage
from desktop.ui.pages.gallery import GalleryPage
from desktop.ui.pages.reports import ReportsPage
from desktop.ui.pages.review import ReviewPage
from desktop.ui.task_bar import TaskBar
from desktop.ui.tasks import Failure

CASE_NUMBER = "<b>C-1</b><img src='x.png'>"
EXAMINER = "<i>Examiner</i> &amp; Co"
REVIEWER = "<u>Rev</u>"
NOTE = "<s>struck</s> <a href='file:///etc/passwd'>link</a>"
ALIAS = "<h1>Alias</h1>"
CASE_REF = "<tt>MP-1</tt>"
SEIZED = "<b>seized.jpg"  # a file name cannot hold the "/" of a closing tag


def shown(text: str, form: Qt.TextFormat = Qt.TextFormat.AutoText) -> str:
    """What Qt shows for `text` in a widget with text format `form`."""
    if form == Qt.TextFormat.PlainText or (form == Qt.TextFormat.AutoText
                                           and not Qt.mightBeRichText(text)):
        return text
    document = QTextDocument()
    if form == Qt.TextFormat.MarkdownText:
        document.setMarkdown(text)
    else:
        document.setHtml(text)
    return document.toPlainText()


def seen(label: QLabel) -> str:
    return shown(label.text(), label.textFormat())


@pytest.fixture(scope="module")
def marked_up(tmp_path_factory: pytest.TempPathFactory, test_pack) -> tuple[Path, str]:
    """A case scanned against one gallery person whose name is HTML loading a real local
    image; its top hit confirmed with HTML as reviewer and note. Returns (case folder, name)."""
    require_shared()
    base = tmp_path_factory.mktemp("markup")
    local = base / "local.png"
    Image.new("RGB", (64, 64), "red").save(local)
    name = f'<b>x</b><img src="{local}">'
    photos = sorted((FACEDATA / "face_recognition" / "Barack_Obama").glob("*.jpg"))
    source = base / "source"
    source.mkdir()
    shutil.copyfile(photos[1], source / SEIZED)
    reference = Path(shutil.copyfile(photos[0], base / "<i>ref.jpg"))
    gallery = Gallery.create(base / "g.db")
    person = PersonFields(name=name, aliases=(ALIAS,), case_ref=CASE_REF, notes=NOTE)
    import_rows(gallery, [ImportRow("r", person, reference)],
                lambda p: analyze_paths(p, test_pack, EngineOptions(), 1),
                PackInfo(test_pack.id, test_pack.manifest.model_hashes), "t")
    case = Case.create(base / "case", CaseInfo(
        CASE_NUMBER, EXAMINER, str(source), str(base / "g.db"), test_pack.id,
        test_pack.manifest.model_hashes, test_pack.manifest.match_threshold, 2.0, ""))
    ScanJob(case, test_pack, gallery, workers=1).run()
    (hit,) = review_items(case.db)
    decide(case.db, [hit["hit_id"]], "confirm", REVIEWER, NOTE)
    case.close()
    gallery.close()
    return base / "case", name


def test_the_review_page_shows_the_person_reviewer_and_note_as_typed(window, marked_up):
    """Issue 12 fault 8: a gallery person named <b>x</b><img src=...> showed bold and loaded
    a local image in the Review page."""
    folder, name = marked_up
    win = window(case=folder)
    page = win.page(ReviewPage)
    win.show_page(win.pages.index(page))
    page.settle()
    assert page.current_item()["person_name"] == name
    assert name in seen(page.faces.reference_caption)
    assert f"{name} (gallery id" in seen(page.details.fields["Person"])
    for field in ("Status", "History"):
        text = seen(page.details.fields[field])
        assert REVIEWER in text and NOTE in text, (field, text)
    tip = page.model.data(page.model.index(0, FILE), Qt.ItemDataRole.ToolTipRole)
    assert shown(tip) == SEIZED
    assert SEIZED in seen(page.details.fields["File"])
    assert page.message.textFormat() == Qt.TextFormat.PlainText  # "... recorded by <reviewer>"


def test_the_gallery_page_shows_the_person_as_typed(window, marked_up, qtbot):
    """Issue 12 fault 8: the person's name, aliases, case reference and notes on the Gallery
    page, its tooltips and the removal question."""
    folder, name = marked_up
    win = window(gallery=folder.parent / "g.db")
    page = win.page(GalleryPage)
    win.show_page(win.pages.index(page))
    (person,) = win.state.gallery.persons()
    assert page.select_person(person["id"])
    details = page.details
    assert seen(details.heading) == name
    assert seen(details.values["aliases"]) == ALIAS
    assert seen(details.values["case_ref"]) == CASE_REF
    assert seen(details.values["notes"]) == NOTE
    persons = page.table.persons
    assert shown(persons.data(persons.index(0, 0), Qt.ItemDataRole.ToolTipRole)) == (
        f"also known as {ALIAS}")
    assert shown(details.strip.item(0).toolTip()).startswith(str(folder.parent / "<i>ref.jpg"))
    box = page.confirm_remove()
    assert name in shown(box.text(), box.textFormat())
    box.button(QMessageBox.StandardButton.Cancel).click()


def test_the_cases_page_reports_page_and_status_bar_show_the_case_as_typed(window, marked_up):
    """Issue 12 fault 8: a case number with markup disappeared from the status bar."""
    folder, _ = marked_up
    win = window(case=folder)
    assert f"case: {CASE_NUMBER}" in seen(win.where)
    cases = win.page(CasesPage)
    cases.activated()
    text = cases.details.toPlainText()
    assert f"Case {CASE_NUMBER}" in text and EXAMINER in text
    reports = win.page(ReportsPage)
    reports.activated()
    assert f"Case {CASE_NUMBER}:" in seen(reports.counts)


def test_dialogs_and_the_task_bar_show_messages_as_typed(qtbot, tmp_path):
    """Issue 12 fault 8: error, information and question boxes, the import report and the
    task bar carry file names, person names and error details."""
    parent = QWidget()
    qtbot.addWidget(parent)
    failure = show_failure(parent, Failure(f"Cannot read {SEIZED}", f"detail {NOTE}"))
    assert shown(failure.text(), failure.textFormat()) == f"Cannot read {SEIZED}"
    assert shown(failure.informativeText(), failure.textFormat()) == f"detail {NOTE}"
    info = show_info(parent, f"Audit {CASE_NUMBER}")
    assert shown(info.text(), info.textFormat()) == f"Audit {CASE_NUMBER}"
    question = confirm(parent, "q", "t", f"Remove {ALIAS}?", NOTE, lambda: None)
    assert shown(question.informativeText(), question.textFormat()) == NOTE
    report = ImportReport()
    report.problems.append(Problem(SEIZED, "no face found"))
    dialog = ImportReportDialog(report, str(tmp_path / SEIZED), parent)
    headings = [seen(label) for label in dialog.findChildren(QLabel)]
    assert any(h.startswith(str(tmp_path / SEIZED)) for h in headings), headings
    bar = TaskBar(parent)
    bar.follow(None, f"Importing {SEIZED}…")
    assert seen(bar.label) == f"Importing {SEIZED}…"
