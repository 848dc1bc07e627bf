"""The application shell (issue 15): window size and layout at 1366×768, remembered geometry,
menus and Quit, icon and title, theme, the model-pack, reindex and audit-trail windows, the
Scan page's texts, the recent-cases list and `homeward gui --screenshot --size`. pytest-qt,
offscreen, on a real scanned case and real models from ../shared."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import FACEDATA, REPO, pack_source

from desktop.scan.case import Case
from desktop.ui.pages.cases import CasesPage
from desktop.ui.pages.scan import ScanPage

SMALL_SCREEN = (1366, 768)
# The client area of a maximised window on a 1366×768 laptop: its panel and title bar take
# about 70 px (GNOME: 32 + 37; Windows: 40 + 31).
SMALL_CLIENT = (1366, 768 - 72)


def _gallery_copy(case_folder: Path, dest: Path) -> Path:
    """The case's gallery file and its photo store, copied (a reindex writes to them)."""
    case = Case.open(case_folder)
    try:
        source = Path(case.info.gallery)
    finally:
        case.close()
    dest.mkdir()
    shutil.copyfile(source, dest / source.name)
    shutil.copytree(source.with_suffix(".store"), dest / source.with_suffix(".store").name)
    return dest / source.name


def _gui(args: list[str], data_dir: Path, platform: str = "offscreen"):
    return subprocess.run(
        [sys.executable, "-m", "desktop", "gui", *args], capture_output=True, text=True,
        timeout=180, cwd=REPO, env={"HOMEWARD_DATA_DIR": str(data_dir), "QT_QPA_PLATFORM": platform,
                                    "PATH": "/usr/bin:/bin"})


def test_gui_screenshots_every_page_and_view_at_the_size_asked(case_copy, tmp_path,
                                                                isolated_data_dir):
    """Issue 15 shell 1: `homeward gui --case DIR --screenshot OUTDIR --size 1366x768` renders
    every page at that window size (today --size is refused), and the extra views: the
    audit-trail browser and the model-pack and reindex windows."""
    from PIL import Image

    result = _gui(["--case", str(case_copy), "--screenshot", str(tmp_path / "shots"),
                   "--size", "1366x768"], isolated_data_dir)
    assert result.returncode == 0, result.stderr
    shots = {p.name: p for p in (tmp_path / "shots").glob("*.png")}
    pages = ["01-cases.png", "02-gallery.png", "03-scan.png", "04-review.png", "05-reports.png",
             "06-people.png"]
    assert set(pages) <= set(shots)
    assert {"01-cases-audit-trail.png", "07-model-packs.png", "08-reindex.png"} <= set(shots)
    for name in pages:
        assert Image.open(shots[name]).size == SMALL_SCREEN, name
    low, high = Image.open(shots["01-cases-audit-trail.png"]).convert("L").getextrema()
    assert high - low > 100


def test_the_default_window_fits_a_1366x768_screen(tmp_path, isolated_data_dir):
    """Issue 15 shell 2: at 1366×768 the default window was 1280×800, taller than the
    screen (status bar and buttons cut off). A real offscreen screen of that size."""
    from PIL import Image

    screen = tmp_path / "screen.json"
    screen.write_text(json.dumps({"screens": [{"name": "laptop", "x": 0, "y": 0,
                                               "width": SMALL_SCREEN[0],
                                               "height": SMALL_SCREEN[1]}]}))
    result = _gui(["--screenshot", str(tmp_path / "shots")], isolated_data_dir,
                  f"offscreen:configfile={screen}")
    assert result.returncode == 0, result.stderr
    width, height = Image.open(tmp_path / "shots" / "01-cases.png").size
    assert width <= SMALL_SCREEN[0] and height <= SMALL_SCREEN[1] - 32  # room for a title bar


def _clipped(window) -> list[str]:
    """Visible widgets of the current page that do not fit the window, or are squeezed below
    the size they need (their minimumSizeHint). Widgets inside scroll areas scroll, and are
    left out; so are the scroll areas' own scroll bars and the inner parts of spin and combo
    boxes, which those place themselves."""
    from PySide6.QtWidgets import (
        QAbstractScrollArea,
        QAbstractSpinBox,
        QComboBox,
        QScrollBar,
        QWidget,
    )

    page = window.stack.currentWidget()
    inside = window.rect()
    found = []
    for widget in page.findChildren(QWidget):
        if not widget.isVisible() or isinstance(widget, QScrollBar):
            continue
        parent, scrolled = widget.parentWidget(), False
        while parent is not None and parent is not page:
            scrolled = scrolled or isinstance(parent, (QAbstractScrollArea, QAbstractSpinBox,
                                                       QComboBox))
            parent = parent.parentWidget()
        if scrolled:
            continue
        rect = widget.rect().translated(widget.mapTo(window, widget.rect().topLeft()))
        name = f"{page.title}: {type(widget).__name__} {widget.objectName()!r}"
        if not inside.contains(rect):
            found.append(f"{name} at {rect.getRect()} outside {inside.getRect()}")
        need = widget.minimumSizeHint()
        if need.isValid() and (widget.width() < need.width() or widget.height() < need.height()):
            found.append(f"{name} {widget.width()}x{widget.height()} < {need.width()}x"
                         f"{need.height()}")
    return found


def test_no_widget_is_clipped_on_any_page_at_1366x768(window, case_copy, qtbot):
    """Issue 15 shell 2: at 1366×768 less the desktop's panel and title bar, the window keeps
    that size (no page needs more) and every widget on every page fits inside it at its
    minimum size."""
    win = window(case=case_copy)
    win.resize(*SMALL_CLIENT)
    problems = []
    for index, _page in enumerate(win.pages):
        win.show_page(index)
        qtbot.wait(10)
        assert (win.width(), win.height()) == SMALL_CLIENT, win.pages[index].title
        problems += _clipped(win)
    assert not problems, "\n".join(problems)


def test_ctrl_q_quits_from_the_file_menu(window, qtbot):
    """Issue 15 shell 5: Ctrl+Q did nothing and no menu had Quit."""
    from PySide6.QtCore import Qt

    win = window()
    file_menu = win.menuBar().actions()[0]
    assert file_menu.text().replace("&", "") == "File"
    assert "Quit" in [a.text().replace("&", "") for a in file_menu.menu().actions()]
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    qtbot.keyClick(win, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=2000)


def test_title_names_the_case_and_the_application_has_its_icon(window, case_copy, qapp):
    """Issue 15 shell 5: the title was "Homeward" whatever the case; no icon; the icon files
    and the .desktop entry live in resources/ for the installers."""
    win = window(case=case_copy)
    assert win.windowTitle() == "Homeward — UI-2026/1"
    win.state.close_case()
    assert win.windowTitle() == "Homeward"
    assert not qapp.windowIcon().isNull() and not win.windowIcon().isNull()
    for name in ("homeward.svg", "homeward.png", "homeward.ico", "homeward.desktop"):
        assert (REPO / "resources" / name).is_file(), name
    entry = (REPO / "resources" / "homeward.desktop").read_text()
    assert "Exec=homeward gui" in entry and "Icon=homeward" in entry
    spec = (REPO / "packaging" / "homeward.spec").read_text()
    assert '"resources"' in spec and "homeward.ico" in spec


def test_window_geometry_and_splitter_positions_are_remembered(window, case_copy, tmp_path):
    """Issue 15 shell 3: size and splitters were lost at every start."""
    from PySide6.QtWidgets import QSplitter

    win = window(case=case_copy)
    win.resize(win.width(), win.height() - 50)  # the offscreen screen is too narrow to widen it
    size = win.size()
    splitters = win.splitters()
    assert splitters and all(splitters), "every splitter has a name"
    name, splitter = next(iter(splitters.items()))
    index = win.pages.index(next(p for p in win.pages if p.isAncestorOf(splitter)))
    win.show_page(index)
    total = sum(splitter.sizes())
    splitter.setSizes([total // 4, total - total // 4])
    wanted = splitter.sizes()
    win.close()
    again = window()
    assert again.size() == size
    again.show_page(index)
    restored = again.findChild(QSplitter, name)
    assert restored is not None and restored.sizes() == wanted


def test_dark_theme_is_chosen_in_settings_and_applied(window, qapp, tmp_path):
    """Issue 15 shell 4: no dark theme for long review sessions."""
    from PySide6.QtGui import QPalette

    from desktop.settings import load_settings

    win = window()
    dialog = win.edit_settings()
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.save()
    assert load_settings(tmp_path / "settings.json").theme == "dark"
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 80
    assert qapp.style().name().lower() == "fusion"
    dialog = win.edit_settings()
    dialog.theme.setCurrentIndex(dialog.theme.findData("light"))
    dialog.save()
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 160


def test_audit_browser_lists_filters_and_verifies_the_trail(window, case_copy):
    """Issue 15 shell 7: the audit trail could not be browsed in the GUI; Verify gives the
    same verdict as `homeward audit verify`, tampering included."""
    from desktop.ui.audit_browser import AuditBrowser

    win = window(case=case_copy)
    win.audit_action.trigger()
    browser = win.findChild(AuditBrowser)
    assert browser is not None and browser.isVisible()
    rows = browser.model.rowCount()
    assert rows > 10 and browser.model.data(browser.model.index(0, 3)) == "case created"
    browser.action.setCurrentIndex(browser.action.findData("case created"))
    assert browser.model.rowCount() == 1
    browser.action.setCurrentIndex(0)
    browser.actor.setCurrentIndex(browser.actor.findData("Examiner Ada"))
    assert 0 < browser.model.rowCount() <= rows
    browser.verify()
    assert browser.outcome.text().startswith("Intact") and "Head hash" in browser.outcome.text()
    db = sqlite3.connect(case_copy / "case.db")
    for (trigger,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                 "AND tbl_name = 'audit'").fetchall():
        db.execute(f"DROP TRIGGER {trigger}")
    db.execute("UPDATE audit SET actor = 'Mallory' WHERE seq = 2")
    db.commit()
    db.close()
    browser.verify()
    assert browser.outcome.text().startswith("NOT intact") and "audit row 2" in \
        browser.outcome.text()


def test_packs_dialog_imports_verifies_and_sets_the_default(window, qtbot, tmp_path,
                                                            monkeypatch):
    """Issue 15 shell 6: packs could only be imported, verified and chosen from the CLI."""
    from desktop.engine.pack_store import find_installed
    from desktop.settings import load_settings

    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    win = window()
    dialog = win.open_packs()
    dialog.import_from(pack_source(tmp_path / "shell_pack"))
    qtbot.waitUntil(lambda: "Installed shell_pack" in dialog.outcome.text(), timeout=60_000)
    assert find_installed("shell_pack") is not None
    assert "shell_pack" in [dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())]
    cases = win.page(CasesPage)
    assert cases.new_pack.findData("shell_pack") >= 0  # the new-case form offers it at once
    dialog.import_from(pack_source(tmp_path / "shell_pack"))  # again, not replacing: refused
    qtbot.waitUntil(lambda: dialog.outcome.text().startswith("Failed"), timeout=60_000)
    dialog.verify()
    qtbot.waitUntil(lambda: "intact" in dialog.outcome.text(), timeout=60_000)
    assert dialog.outcome.text().startswith("All")
    row = next(r for r in range(dialog.table.rowCount())
               if dialog.table.item(r, 1).text() == "shell_pack")
    dialog.table.selectRow(row)
    dialog.set_default()
    assert load_settings(tmp_path / "settings.json").default_pack == "shell_pack"
    assert dialog.table.item(row, 0).text() == "★"
    model = find_installed("shell_pack").root / "w600k_mbf_int8.onnx"
    model.chmod(0o644)
    with model.open("r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 16)
    dialog.verify()
    qtbot.waitUntil(lambda: "DAMAGED" in dialog.outcome.text(), timeout=60_000)
    assert "w600k_mbf_int8.onnx: HASH" in dialog.outcome.text()


def test_new_case_form_marks_packs_without_embeddings_and_reindex_adds_them(
        window, case_copy, qtbot, tmp_path, monkeypatch):
    """Issue 15 shell 6: the new-case form offered a pack the gallery had no embeddings for
    (the failure came at scan time), and reindexing for another pack was CLI only."""
    from desktop.engine.pack_install import import_pack

    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    import_pack(pack_source(tmp_path / "other"), pack_id="other_s")
    gallery = _gallery_copy(case_copy, tmp_path / "gallery")
    win = window(gallery=gallery)
    cases = win.page(CasesPage)
    cases.new_gallery.set_path(gallery)
    cases._new_case_defaults()
    index = cases.new_pack.findData("other_s")
    assert index >= 0 and "reindex" in cases.new_pack.itemText(index)
    assert not cases.new_pack.model().item(index).isEnabled()
    assert "shared_s (2 photos)" in cases.gallery_packs.text()
    dialog = win.open_reindex()
    dialog.pack.refresh("other_s")
    assert "other_s: 0 of 2 photos" in dialog.embedded.text()
    dialog.start()
    qtbot.waitUntil(lambda: "embedded" in dialog.outcome.text(), timeout=120_000)
    assert dialog.outcome.text().startswith(
        "2 photo(s) embedded with other_s, 0 already were; 0 problem(s)")
    assert "other_s: 2 of 2 photos" in dialog.embedded.text()
    index = cases.new_pack.findData("other_s")
    assert cases.new_pack.model().item(index).isEnabled()
    assert "other_s (2 photos)" in cases.gallery_packs.text()


def test_scan_page_texts_belong_to_the_open_case_and_agree_with_the_summary(
        window, case_copy, pristine_case, qtbot, tmp_path):
    """Issue 15 shell 8 and 9: the Scan page said "Open or create a case" with a case open,
    kept the previous case's last scan after a switch, and its live counters disagreed with
    the summary (faces 0 while matching, an ETA at 100%); the recent-cases list showed paths,
    not case numbers."""
    win = window()
    page = win.page(ScanPage)
    assert page.stage.text().startswith("Open or create")
    win.state.open_case(case_copy)
    win.show_page(win.pages.index(page))
    assert not page.stage.text().startswith("Open or create")
    assert page.stage.text().startswith("Last scan 1: finished")
    recent = win.page(CasesPage).recent
    assert recent.item(0).text().splitlines() == ["UI-2026/1", str(case_copy.resolve())]
    extra = tmp_path / "extra"
    extra.mkdir()
    for photo in sorted((FACEDATA / "face_recognition" / "Alex_Lacamoire").glob("*.jpg")):
        shutil.copyfile(photo, extra / photo.name)
    shown = []
    page.add_source(extra)
    page.task.thread.progressed.connect(lambda p: shown.append((p, page.rate.text())))
    qtbot.waitUntil(lambda: page.task is None, timeout=120_000)
    assert page.stage.text().startswith("Scan 2 finished"), page.stage.text()
    analysed = [p for p, _ in shown if p.stage == "analysing"]
    assert analysed and analysed[-1].faces > 0
    for progress, text in shown:
        if progress.total and progress.done >= progress.total:
            assert "ETA" not in text, (progress, text)
        if progress.stage in ("matching", "people"):
            assert f"faces found by this scan: {analysed[-1].faces}" in text, text
    case = Case.open(case_copy)
    faces = next(case.db.query("SELECT COUNT(*) AS n FROM faces"))["n"]
    case.close()
    assert f"; {faces} faces;" in page.stage.text()
    assert page.rate.text().startswith(f"{faces} faces in the case")
    other = tmp_path / "other-case"
    shutil.copytree(pristine_case, other)
    win.state.open_case(other)
    assert page.stage.text().startswith("Last scan 1: finished"), page.stage.text()
    assert page.rate.text() == ""
