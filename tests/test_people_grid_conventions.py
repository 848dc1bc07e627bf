"""Issue 15: the People page shares the Review page's grid and keyboard conventions: its
cluster and face grids are the review's TileGrid (the same keys move and select), F1 opens
the same key sheet listing every People key, and the people of a case are read without
leaving their objects to the garbage collector (the pauses the review queue had)."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest
from conftest import TEST_PACK, require_shared
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox
from test_ui_people import LFW, PEOPLE, homeward, open_people

from desktop.ui.review_grid import TileGrid
from desktop.ui.shortcut_sheet import ShortcutSheet

SHIFT, CTRL = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, test_pack) -> Path:
    """A small case (two people with three photos each, two strangers), scanned once."""
    require_shared()
    base = tmp_path_factory.mktemp("people-grid")
    source = base / "source"
    source.mkdir()
    for person in PEOPLE[:2]:
        for photo in sorted((LFW / person).glob("*.jpg"))[:3]:
            shutil.copyfile(photo, source / photo.name)
    for folder in [d for d in sorted(LFW.iterdir()) if len(list(d.glob("*.jpg"))) == 1][:2]:
        photo = next(folder.glob("*.jpg"))
        shutil.copyfile(photo, source / photo.name)
    done = homeward("scan", str(source), "--case", str(base / "case"), "--pack", TEST_PACK,
                    "--workers", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    return base / "case"


@pytest.fixture
def page(window, scanned: Path, tmp_path: Path):
    target = tmp_path / "case"
    shutil.copytree(scanned, target)
    return open_people(window, target)


def selected(grid: TileGrid) -> list[int]:
    return sorted(index.row() for index in grid.selectionModel().selectedIndexes())


def click(qtbot, grid: TileGrid, row: int, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    rect = grid.visualRect(grid.model().index(row))
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, modifier, pos=rect.center())


def test_the_people_grids_move_and_select_as_the_review_grid(page, qtbot):
    """Issue 15 (People shares the review grid): the cluster and face grids were a copy of
    their own, not the review's TileGrid; Home/End, PgUp/PgDn, Shift+arrows and Ctrl+click
    must behave as they do in Review."""
    grid, rows = page.cluster_grid, page.cluster_model.rowCount()
    assert isinstance(grid, TileGrid) and isinstance(page.face_grid, TileGrid)
    assert rows >= 4
    grid.setCurrentIndex(page.cluster_model.index(0))
    qtbot.keyClick(grid, Qt.Key.Key_End)
    assert grid.currentIndex().row() == rows - 1
    qtbot.keyClick(grid, Qt.Key.Key_Home)
    assert grid.currentIndex().row() == 0
    qtbot.keyClick(grid, Qt.Key.Key_PageDown)
    assert grid.currentIndex().row() > 0
    qtbot.keyClick(grid, Qt.Key.Key_PageUp)
    assert grid.currentIndex().row() == 0
    qtbot.keyClick(grid, Qt.Key.Key_Right, SHIFT)
    assert selected(grid) == [0, 1]
    click(qtbot, grid, 0, CTRL)  # Ctrl+click takes a selected tile out
    assert selected(grid) == [1]
    click(qtbot, grid, 3, CTRL)  # and adds one
    assert selected(grid) == [1, 3]

    grid.setCurrentIndex(page.cluster_model.index(0))  # the largest cluster: three faces
    qtbot.keyClick(grid, Qt.Key.Key_Return)
    faces, count = page.face_grid, page.face_model.rowCount()
    assert page.mode == "cluster" and page.focusWidget() is faces and count >= 3
    qtbot.keyClick(faces, Qt.Key.Key_End)
    assert faces.currentIndex().row() == count - 1
    qtbot.keyClick(faces, Qt.Key.Key_Home, SHIFT)
    assert selected(faces) == list(range(count))


def key_names(commands) -> set[str]:
    return {QKeySequence(key.value | modifiers.value).toString() for key, modifiers in commands}


def test_f1_opens_the_review_key_sheet_listing_every_people_key(page, qtbot):
    """Issue 15 (People shares the review's keys): F1 showed a message box of its own; it
    opens the review's ShortcutSheet, naming every key the page binds, in every mode."""
    qtbot.keyClick(page.cluster_grid, Qt.Key.Key_F1)
    sheets = page.findChildren(ShortcutSheet)
    assert len(sheets) == 1 and sheets[0].isVisible()
    assert not [b for b in page.findChildren(QMessageBox) if b.isVisible()]
    cells = sheets[0].keys()
    listed = {name.strip() for cell in cells for part in cell.split(",")
              for name in part.split(" / ")}
    bound = key_names(page.keys.commands) | key_names(page.links.keys.commands)
    assert bound <= listed, bound - listed
    sheets[0].close()
    page.show_links()
    qtbot.keyClick(page.links.table, Qt.Key.Key_F1)
    assert page.findChildren(ShortcutSheet) == sheets and sheets[0].isVisible()
    assert "keys" in [view.name for view in page.screenshot_views()]


def test_the_people_read_are_kept_out_of_the_garbage_collector(page):
    """Issue 15 (People loads as the review queue does): the clusters and tiles of a case
    (100,000 for a large one) were left to the collector, whose full passes over them stop
    the GUI thread; they are made with the collector paused and frozen out of it."""
    tile = page.cluster_model.tile(0)
    assert tile is not None
    tracked = gc.get_objects()  # the frozen (permanent) generation is not listed
    assert not any(o is tile or o is tile.cluster for o in tracked)
