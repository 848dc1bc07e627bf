"""Shared fixtures: the real models and faces in ../shared, and an isolated data folder."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODELS = SHARED / "models"
FACEDATA = SHARED / "facedata"
TEST_PACK = "shared_s"  # SCRFD-500M + int8 MobileFaceNet: buffalo_s's families, from ../shared


def require_shared() -> None:
    if not (MODELS.is_dir() and FACEDATA.is_dir()):
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED} is missing: CI must run with ../shared beside the repo")
        pytest.skip(f"{SHARED} is absent (real models and faces live there)")


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("homeward-data")


@pytest.fixture(autouse=True)
def isolated_data_dir(monkeypatch: pytest.MonkeyPatch, session_data_dir: Path) -> Path:
    """Every test installs packs into a temporary folder, never the user's own."""
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(session_data_dir))
    return session_data_dir


def pack_source(dest: Path, detector: str = "scrfd_500m_kps.onnx",
                recognizer: str = "w600k_mbf_int8.onnx") -> Path:
    """A folder holding one detector and one recognizer from ../shared/models."""
    require_shared()
    dest.mkdir(parents=True, exist_ok=True)
    for name in (detector, recognizer):
        shutil.copyfile(MODELS / name, dest / name)
    return dest


@pytest.fixture(scope="session")
def test_pack(session_data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The shared SCRFD-500M + MobileFaceNet pack, imported through the product's own path."""
    from desktop.engine.pack_install import import_pack
    from desktop.engine.pack_store import find_installed

    os.environ["HOMEWARD_DATA_DIR"] = str(session_data_dir)
    installed = find_installed(TEST_PACK)
    if installed is not None:
        return installed
    return import_pack(pack_source(tmp_path_factory.mktemp("pack-src")), pack_id=TEST_PACK)


def lfw_pairs():
    from desktop.engine.verification import parse_pairs

    require_shared()
    return parse_pairs((FACEDATA / "lfw" / "pairs.txt").read_text(encoding="utf-8"))


sys.path.insert(0, str(REPO / "bench"))  # bench/reference.py: insightface's own path


def scanned_case(base: Path, pack, case_number: str, examiner: str,
                 extra_sources: dict[str, Path] | None = None):
    """A real case: photos of two gallery persons (not their gallery photos), ten LFW
    strangers, scanned with `pack`. Returns (case, gallery, source folder)."""
    from desktop.engine.engine import EngineOptions
    from desktop.gallery.fields import PersonFields
    from desktop.gallery.gallery import Gallery
    from desktop.gallery.imports import PackInfo, import_rows
    from desktop.gallery.sources import ImportRow
    from desktop.scan.analyze import analyze_paths
    from desktop.scan.case import Case, CaseInfo
    from desktop.scan.job import ScanJob

    require_shared()
    people = FACEDATA / "face_recognition"
    source = base / "source"
    source.mkdir()
    for person in ("Barack_Obama", "Joseph_Biden"):
        for photo in sorted((people / person).glob("*.jpg"))[1:4]:
            shutil.copyfile(photo, source / f"{person}_{photo.name}")
    for name, photo in (extra_sources or {}).items():
        shutil.copyfile(photo, source / name)
    for photo in sorted((FACEDATA / "lfw").rglob("*.jpg"))[:10]:
        shutil.copyfile(photo, source / photo.name)
    gallery = Gallery.create(base / "g.db")
    rows = [ImportRow(n, PersonFields(name=n), sorted((people / n).glob("*.jpg"))[0])
            for n in ("Barack_Obama", "Joseph_Biden")]
    import_rows(gallery, rows, lambda p: analyze_paths(p, pack, EngineOptions(), 1),
                PackInfo(pack.id, pack.manifest.model_hashes), "t")
    case = Case.create(base / "case", CaseInfo(
        case_number, examiner, str(source), str(base / "g.db"), pack.id,
        pack.manifest.model_hashes, pack.manifest.match_threshold, 2.0, "",
        gallery_id=gallery.identity))
    ScanJob(case, pack, gallery, workers=1).run()
    return case, gallery, source


# --- the desktop application (pytest-qt, offscreen) --------------------------------------------

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def qapp():
    """pytest-qt's application, created the way the product creates it (see ui/app.py)."""
    from desktop.ui.app import create_application

    return create_application()


@pytest.fixture(scope="session")
def pristine_case(test_pack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scanned case folder (closed), shared read-only by the UI tests: copy it to change it."""
    case, gallery, _ = scanned_case(tmp_path_factory.mktemp("ui-case"), test_pack,
                                    "UI-2026/1", "Examiner Ada")
    folder = case.folder
    case.close()
    gallery.close()
    return folder


@pytest.fixture
def case_copy(pristine_case: Path, tmp_path: Path) -> Path:
    """A private copy of the scanned case (its gallery is shared and only read)."""
    target = tmp_path / "case"
    shutil.copytree(pristine_case, target)
    return target


@pytest.fixture
def window(qtbot, tmp_path: Path):
    """A real main window with settings in a temporary file; closed (tasks stopped) after."""
    from desktop.ui.app import build_window

    made = []

    def make(case: Path | None = None, gallery: Path | None = None):
        win = build_window(case, gallery, settings_file=tmp_path / "settings.json")
        qtbot.addWidget(win)
        win.show()
        made.append(win)
        return win

    yield make
    for win in made:
        win.close()
