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
