"""Issue 13 point 5: the People page on a real case scanned without a gallery (LFW people
with several photos, Barack Obama, two strangers), driven with the keyboard and the mouse in
a real window: the cluster grid and its counts, naming (markup shown as typed), merging,
"not this person", splitting, irrelevant, search by face and by a dropped photo; every
operation lands in case.db through the people services and the sealed record verifies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import FACEDATA, TEST_PACK, require_shared
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QGraphicsPixmapItem, QInputDialog, QMessageBox

from desktop.people.case_people import Cluster, ClusterFace, list_clusters
from desktop.scan.case import Case
from desktop.storage.record import verify_case
from desktop.ui.app import save_screenshots
from desktop.ui.face_picker import FacePicker
from desktop.ui.pages.people import PeoplePage
from desktop.ui.people_data import FaceImages
from desktop.ui.people_grid import CLUSTER_ID_ROLE, FACE_ID_ROLE, ClusterModel, ClusterTile, PeopleGrid
from desktop.ui.thumbnails import ThumbnailLoader

LFW = FACEDATA / "lfw"
PEOPLE = ("Abdullah_Gul", "Adrien_Brody", "Andre_Agassi")
OBAMA = FACEDATA / "face_recognition" / "Barack_Obama"
TWO_PEOPLE = FACEDATA / "face_recognition" / "_multi" / "two_people.jpg"  # Obama left, Biden right
EXAMINER = "Examiner Ada"
WAIT_MS = 60_000


def homeward(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, test_pack) -> Path:
    """A case folder (closed) scanned without a gallery; tests copy it to change it."""
    require_shared()
    base = tmp_path_factory.mktemp("people-ui")
    source = base / "source"
    source.mkdir()
    for person in PEOPLE:
        for photo in sorted((LFW / person).glob("*.jpg"))[:4]:
            shutil.copyfile(photo, source / photo.name)
    for photo in ("obama1.jpg", "obama2.jpg", "obama3.jpg"):
        shutil.copyfile(OBAMA / photo, source / f"Barack_Obama_{photo}")
    strangers = [d for d in sorted(LFW.iterdir()) if len(list(d.glob("*.jpg"))) == 1][:2]
    for folder in strangers:
        photo = next(folder.glob("*.jpg"))
        shutil.copyfile(photo, source / photo.name)
    done = homeward("scan", str(source), "--case", str(base / "case"), "--pack", TEST_PACK,
                    "--workers", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    return base / "case"


@pytest.fixture
def folder(scanned: Path, tmp_path: Path) -> Path:
    target = tmp_path / "case"
    shutil.copytree(scanned, target)
    return target


def identity(path: str) -> str:
    return Path(path).name.rsplit("_", 1)[0]


def clusters_of(folder: Path) -> list:
    case = Case.open(folder)
    try:
        return list_clusters(case.db)
    finally:
        case.close()


def cluster_of_person(folder: Path, person: str):
    """The cluster holding the largest face of most of the person's photos."""
    found = clusters_of(folder)
    largest: dict[str, tuple[float, int]] = {}
    for cluster in found:
        for face in cluster.faces:
            area = (face.box[2] - face.box[0]) * (face.box[3] - face.box[1])
            if face.path and area > largest.get(face.path, (0, 0))[0]:
                largest[face.path] = (area, face.face_id)
    labelled = {face_id for path, (_, face_id) in largest.items() if identity(path) == person}
    return max(found, key=lambda c: len(labelled & {f.face_id for f in c.faces}))


def open_people(window, folder: Path, examiner: str = EXAMINER) -> PeoplePage:
    win = window(case=folder)
    win.state.update_settings(replace(win.state.settings, reviewer=examiner, provider="cpu"))
    page = win.page(PeoplePage)
    win.show_page(win.pages.index(page))
    page.settle()
    return page


def idle(qtbot, page: PeoplePage) -> None:
    qtbot.waitUntil(lambda: not page.busy(), timeout=WAIT_MS)
    page.settle()


def row_of_cluster(page: PeoplePage, cluster_id: int) -> int:
    model = page.cluster_model
    return next(r for r in range(model.rowCount())
                if model.index(r).data(CLUSTER_ID_ROLE) == cluster_id)


def select_cluster(page: PeoplePage, cluster_id: int) -> None:
    page.cluster_grid.setCurrentIndex(page.cluster_model.index(row_of_cluster(page, cluster_id)))


def shown_faces(page: PeoplePage) -> list[int]:
    model = page.face_model
    return [model.index(r).data(FACE_ID_ROLE) for r in range(model.rowCount())]


def errors(page: PeoplePage) -> list[QMessageBox]:
    return [box for box in page.findChildren(QMessageBox, "errorDialog") if box.isVisible()]


def drop(page: PeoplePage, path: Path) -> None:
    """A real drag-enter and drop of a file URL onto the page."""
    where = page.rect().center()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(where, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(page, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(page, QDropEvent(QPointF(where), Qt.DropAction.CopyAction, mime,
                                            Qt.MouseButton.LeftButton,
                                            Qt.KeyboardModifier.NoModifier))


def test_the_grid_shows_every_cluster_largest_first_with_its_counts(window, folder, tmp_path):
    page = open_people(window, folder)
    expected = clusters_of(folder)
    model = page.cluster_model
    assert model.rowCount() == len(expected) >= 6
    for row, cluster in enumerate(expected):
        tile = model.tile(row)
        assert tile.cluster.cluster_id == cluster.cluster_id
        assert tile.faces == len(cluster.faces)
        assert tile.files == len({f.path for f in cluster.faces if f.frame is None})
        text = model.index(row).data(Qt.ItemDataRole.DisplayRole)
        assert f"{len(cluster.faces)} face" in text and f"{tile.files} photo" in text
    sizes = [len(c.faces) for c in expected]
    assert sizes == sorted(sizes, reverse=True)
    for person in (*PEOPLE, "Barack_Obama"):
        cluster = cluster_of_person(folder, person)
        assert len(cluster.faces) >= 3
        assert model.tile(row_of_cluster(page, cluster.cluster_id)).files >= 3
    assert not model.index(0).data(Qt.ItemDataRole.DecorationRole).isNull()  # the crop
    grid, counts = page.cluster_grid, model.tile(0).counts  # not cut to the face's width
    assert grid.visualRect(model.index(0)).width() >= grid.fontMetrics().horizontalAdvance(counts)
    written = save_screenshots(page.window(), tmp_path / "shots")
    assert tmp_path / "shots" / "06-people.png" in written
    assert (tmp_path / "shots" / "06-people.png").stat().st_size > 10_000


def test_the_keyboard_names_merges_splits_and_marks_clusters(window, folder, qtbot):
    page = open_people(window, folder, examiner="")
    grid = page.cluster_grid
    agassi = cluster_of_person(folder, "Andre_Agassi")
    select_cluster(page, agassi.cluster_id)
    qtbot.keyClick(grid, Qt.Key.Key_N)  # no examiner yet: refused in place, and asked for
    assert "examiner" in page.message.text().lower() and page.focusWidget() is page.examiner
    qtbot.keyClicks(page.examiner, EXAMINER)
    qtbot.keyClick(page.examiner, Qt.Key.Key_Return)
    assert page.focusWidget() is grid

    qtbot.keyClick(grid, Qt.Key.Key_N)
    dialog = page.findChild(QInputDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.setTextValue("<b>x</b> Andre")
    dialog.accept()
    idle(qtbot, page)
    done = homeward("clusters", "--case", str(folder), "--format", "json")
    assert done.returncode == 0, done.stderr
    named = next(c for c in json.loads(done.stdout) if c["cluster_id"] == agassi.cluster_id)
    assert named["name"] == "<b>x</b> Andre"
    row = row_of_cluster(page, agassi.cluster_id)
    assert page.cluster_model.index(row).data(Qt.ItemDataRole.DisplayRole).startswith(
        "<b>x</b> Andre")
    assert "&lt;b&gt;x&lt;/b&gt;" in page.cluster_model.index(row).data(
        Qt.ItemDataRole.ToolTipRole)

    # two single-face clusters, Ctrl+clicked, merged with M into the first (the largest)
    singles = [c for c in clusters_of(folder) if len(c.faces) == 1][:2]
    first, second = (page.cluster_model.index(row_of_cluster(page, c.cluster_id))
                     for c in singles)
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton,
                     pos=grid.visualRect(first).center())
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ControlModifier, pos=grid.visualRect(second).center())
    assert len(grid.selectionModel().selectedIndexes()) == 2
    qtbot.keyClick(grid, Qt.Key.Key_M)
    idle(qtbot, page)
    after = {c.cluster_id: c for c in clusters_of(folder)}
    assert singles[1].cluster_id not in after
    assert {f.face_id for f in after[singles[0].cluster_id].faces} == {
        singles[0].faces[0].face_id, singles[1].faces[0].face_id}
    assert page.cluster_model.rowCount() == len(after)

    # open Agassi's cluster: its heading shows the name as typed
    select_cluster(page, agassi.cluster_id)
    qtbot.keyClick(grid, Qt.Key.Key_Return)
    faces = page.face_grid
    assert page.mode == "cluster" and page.focusWidget() is faces
    assert sorted(shown_faces(page)) == sorted(f.face_id for f in agassi.faces)
    assert page.heading.textFormat() == Qt.TextFormat.PlainText
    assert "<b>x</b> Andre" in page.heading.text()
    page.settle()  # the context image arrives from the thread pool
    assert page.faces.detail.text().startswith("face ")
    assert any(isinstance(i, QGraphicsPixmapItem) for i in page.faces.context.scene().items())

    # X: the selected face leaves the cluster, alone
    faces.setCurrentIndex(page.face_model.index(len(agassi.faces) - 1))
    leaving = faces.currentIndex().data(FACE_ID_ROLE)
    qtbot.keyClick(faces, Qt.Key.Key_X)
    idle(qtbot, page)
    after = {c.cluster_id: c for c in clusters_of(folder)}
    assert leaving not in {f.face_id for f in after[agassi.cluster_id].faces}
    assert [len(c.faces) for c in after.values() if leaving in {f.face_id for f in c.faces}] == [1]
    assert page.mode == "cluster" and leaving not in shown_faces(page)

    # S: two faces selected with Shift+Right are split out together
    faces.setCurrentIndex(page.face_model.index(0))
    qtbot.keyClick(faces, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    chosen = sorted(i.data(FACE_ID_ROLE) for i in faces.selectionModel().selectedIndexes())
    assert len(chosen) == 2
    qtbot.keyClick(faces, Qt.Key.Key_S)
    idle(qtbot, page)
    after = clusters_of(folder)
    assert any(sorted(f.face_id for f in c.faces) == chosen for c in after)
    assert not set(chosen) & set(shown_faces(page))

    # I: the open cluster is irrelevant; Escape goes back to the grid, where it is last
    qtbot.keyClick(faces, Qt.Key.Key_I)
    idle(qtbot, page)
    assert next(c for c in clusters_of(folder) if c.cluster_id == agassi.cluster_id).irrelevant
    qtbot.keyClick(page.face_grid, Qt.Key.Key_Escape)
    assert page.mode == "clusters" and page.focusWidget() is grid
    last = page.cluster_model.rowCount() - 1
    assert page.cluster_model.index(last).data(CLUSTER_ID_ROLE) == agassi.cluster_id
    assert page.cluster_model.index(last).data(Qt.ItemDataRole.ForegroundRole) is not None

    qtbot.keyClick(grid, Qt.Key.Key_F1)  # the key sheet, as on the Review page (issue 15)
    sheet = page.sheet
    assert sheet is not None and sheet.isVisible()
    assert any("not this person" in sheet.table.item(row, 1).text()
               for row in range(sheet.table.rowCount()))
    assert not errors(page)
    case = Case.open(folder)
    try:
        assert verify_case(case.db).ok
        ops = [r["op"] for r in case.db.query("SELECT op FROM cluster_ops ORDER BY id")]
        examiners = {r["examiner"] for r in case.db.query("SELECT examiner FROM cluster_ops")}
    finally:
        case.close()
    assert ops == ["name", "merge", "not_this", "split", "irrelevant"]
    assert examiners == {EXAMINER}


def test_search_by_a_face_shows_the_person_above_an_adjustable_threshold(window, folder, qtbot):
    page = open_people(window, folder)
    brody = cluster_of_person(folder, "Adrien_Brody")
    select_cluster(page, brody.cluster_id)
    qtbot.keyClick(page.cluster_grid, Qt.Key.Key_F)
    idle(qtbot, page)
    assert page.mode == "search"
    threshold = page.threshold.value()
    assert threshold == pytest.approx(0.32)  # the shared pack's (arcface) search threshold
    hits = [page.face_model.tile(r) for r in range(page.face_model.rowCount())]
    assert {f.face_id for f in brody.faces} <= {h.face_id for h in hits}
    assert all(h.score >= threshold for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert f"{hits[0].score:.3f}" in page.face_model.index(0).data(Qt.ItemDataRole.DisplayRole)

    page.threshold.setValue(0.99)  # only the probe face itself is that close
    idle(qtbot, page)
    assert shown_faces(page) == [hits[0].face_id]

    menu = page.context_menu(page.face_grid)  # the context menu searches as F does
    search = next(a for a in menu.actions() if a.text().startswith("Search by this face"))
    page.threshold.setValue(threshold)
    idle(qtbot, page)
    page.face_grid.setCurrentIndex(page.face_model.index(1))
    second = page.face_grid.currentIndex().data(FACE_ID_ROLE)
    search.trigger()
    idle(qtbot, page)
    assert page.face_model.tile(0).face_id == second and page.face_model.tile(0).score > 0.99
    qtbot.keyClick(page.face_grid, Qt.Key.Key_Escape)
    assert page.mode == "clusters"


def test_a_dropped_photo_searches_the_case(window, folder, qtbot, tmp_path):
    page = open_people(window, folder)
    agassi = cluster_of_person(folder, "Andre_Agassi")
    held_out = sorted((LFW / "Andre_Agassi").glob("*.jpg"))[5]  # not in the case
    drop(page, held_out)
    idle(qtbot, page)
    assert page.mode == "search" and not errors(page)
    assert {f.face_id for f in agassi.faces} <= set(shown_faces(page))

    drop(page, TWO_PEOPLE)  # two faces: the investigator chooses (1: Obama, on the left)
    qtbot.waitUntil(lambda: any(p.isVisible() for p in page.findChildren(FacePicker)),
                    timeout=WAIT_MS)
    picker = next(p for p in page.findChildren(FacePicker) if p.isVisible())
    qtbot.keyClick(picker.choices, Qt.Key.Key_1)
    idle(qtbot, page)
    obama = cluster_of_person(folder, "Barack_Obama")
    found = set(shown_faces(page))
    assert {f.face_id for f in obama.faces} <= found
    assert not {f.face_id for f in agassi.faces} & found

    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    drop(page, text)
    qtbot.waitUntil(lambda: bool(errors(page)), timeout=WAIT_MS)
    assert "notes.jpg" in errors(page)[0].text()


class CountingLoader(ThumbnailLoader):
    """The real loader, remembering which crops a view asked for."""

    def __init__(self) -> None:
        super().__init__(side=96)
        self.asked: set[str] = set()

    def pixmap(self, path):
        self.asked.add(str(path))
        return super().pixmap(path)


def test_a_grid_of_ten_thousand_clusters_asks_only_for_the_tiles_on_screen(qtbot, tmp_path):
    loader = CountingLoader()
    model = ClusterModel(loader)
    clusters = [Cluster(n, None, [ClusterFace(n, f"dir/{n}.jpg", None, [0, 0, 9, 9])] * (1 + n % 3))
                for n in range(10_000)]
    images = {n: FaceImages(f"{n}.jpg", None, 100, 0.9) for n in range(10_000)}
    grid = PeopleGrid(model, "clusterGrid")
    grid.resize(1100, 600)
    qtbot.addWidget(grid)
    grid.show()
    started = time.perf_counter()
    model.set_tiles([ClusterTile.of(c, images) for c in clusters], tmp_path)
    grid.grab()
    elapsed = time.perf_counter() - started
    assert 0 < len(loader.asked) < 100  # a screenful, not 10,000 file reads
    assert elapsed < 2.0, elapsed
    grid.scrollToBottom()
    grid.grab()
    assert str(tmp_path / "crops" / "9999.jpg") in loader.asked
    loader.wait_idle()


def test_a_case_whose_pack_is_not_installed_here_still_shows_its_people(window, folder,
                                                                        monkeypatch, tmp_path):
    """The pack only sets the search threshold's default: without it the people are still
    shown, with the default of the case's embedding kind (512-D: ArcFace)."""
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "no-packs"))
    page = open_people(window, folder)
    assert not errors(page)
    assert page.cluster_model.rowCount() == len(clusters_of(folder))
    assert page.threshold.value() == pytest.approx(0.32)
