"""Issue 14: evidence as examiners receive it. The same photos as a folder, a zip, a tar.gz,
an ext4 raw image and an E01 of that image give the same hits (person, score, content
hash; paths differing only by their source); several sources in one case; the containers are
bit-identical after the scan. Every container is built here with real tools (mkfs.ext4,
ewfacquire, zipfile/tarfile) from real faces in ../shared/facedata."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from archive_fixtures import make_tar, make_zip, make_zip_bomb, make_zip_slip
from conftest import FACEDATA, require_shared
from disk_fixtures import e01_image, ext4_image, photo_folder

GALLERY_PHOTOS = {"Barack Obama": FACEDATA / "face_recognition" / "Barack_Obama" / "obama3.jpg",
                  "Abdullah": FACEDATA / "lfw" / "Abdullah" / "Abdullah_0003.jpg"}


def homeward(*args: str | Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def evidence(tmp_path_factory, test_pack):
    """The folder, its E01 and raw image, a gallery of two persons seen in it."""
    require_shared()
    base = tmp_path_factory.mktemp("evidence")
    folder = photo_folder(base / "seized")
    raw = ext4_image(base, folder)
    e01 = e01_image(base / "e01", raw)
    archive_zip = make_zip(folder, base)
    archive_tgz = make_tar(folder, base, "gz")
    gallery_photos = base / "gallery"
    for name, photo in GALLERY_PHOTOS.items():
        (gallery_photos / name).mkdir(parents=True)
        shutil.copyfile(photo, gallery_photos / name / photo.name)
    env = {**os.environ}
    result = homeward("gallery", "create", "--gallery", base / "g.db", env=env)
    assert result.returncode == 0, result.stderr
    result = homeward("gallery", "import", "--gallery", base / "g.db", "--folder", gallery_photos,
                      "--pack", test_pack.id, env=env)
    assert result.returncode == 0, result.stderr
    return {"folder": folder, "raw": raw, "e01": e01, "zip": archive_zip, "tgz": archive_tgz,
            "gallery": base / "g.db", "base": base, "env": env}


def scan_hits(evidence: dict, source: Path, case: Path, *more: str) -> list[dict]:
    result = homeward("scan", source, "--case", case, "--gallery", evidence["gallery"],
                      "--workers", "2", *more, env=evidence["env"])
    assert result.returncode == 0, result.stderr
    listed = homeward("hits", "--case", case, "--format", "json", env=evidence["env"])
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def summary(hits: list[dict]) -> list[tuple]:
    return sorted((h["person_name"], round(h["score"], 5), h["sha256"], h["path"], h["frame"])
                  for h in hits)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_folder_its_zip_tar_gz_ext4_image_and_e01_give_the_same_hits(evidence, tmp_path):
    folder_hits = scan_hits(evidence, evidence["folder"], tmp_path / "folder-case")
    names = {h["person_name"] for h in folder_hits}
    assert names == set(GALLERY_PHOTOS), names  # both gallery persons found in the folder
    containers = ("zip", "tgz", "raw", "e01")
    before = {k: (sha256(evidence[k]), evidence[k].stat().st_mtime_ns) for k in containers}
    for kind in containers:
        hits = scan_hits(evidence, evidence[kind], tmp_path / f"{kind}-case")
        assert summary(hits) == summary(folder_hits), kind
        assert {h["source"] for h in hits} == {evidence[kind].name}
    after = {k: (sha256(evidence[k]), evidence[k].stat().st_mtime_ns) for k in containers}
    assert after == before  # the containers are bit-identical, their times untouched


def test_an_e01_is_verified_and_recorded_with_its_hashes_in_the_sealed_record(evidence, tmp_path):
    from desktop.scan.case import Case
    from desktop.scan.sources import case_sources
    from desktop.storage.record import verify_case

    scan_hits(evidence, evidence["e01"], tmp_path / "case")
    case = Case.open(tmp_path / "case")
    try:
        (source,) = case_sources(case.db)
        assert source.kind == "e01" and source.format.startswith("E01")
        assert source.sha256 == sha256(evidence["e01"])
        assert source.details["verification"]["result"] == "verified"
        assert source.details["acquisition"]  # case number, examiner... from the E01 header
        actions = [r["action"] for r in case.db.query("SELECT action FROM audit")]
        assert "source hashed" in actions and "source described" in actions
        assert verify_case(case.db).ok
    finally:
        case.close()


def test_a_case_holds_several_sources_and_names_each_files_location(evidence, tmp_path):
    case = tmp_path / "case"
    scan_hits(evidence, evidence["folder"], case)
    hits = scan_hits(evidence, evidence["e01"], case)  # the second source, added to the case
    locations = {loc for h in hits for loc in h["locations"]}
    assert any(loc.startswith("seized : ") for loc in locations)
    assert any(loc.startswith("evidence.E01 : ") for loc in locations)
    # Identical contents are analysed once across the sources: the second scan found no new
    # content, so each hit still counts once, with both locations.
    from desktop.scan.case import Case

    opened = Case.open(case)
    try:
        scans = [json.loads(r["settings"])["sources"] for r in opened.db.query(
            "SELECT settings FROM scans ORDER BY id")]
        assert scans == [["seized"], ["evidence.E01"]]
        assert all(len(h["locations"]) == 2 for h in hits)
    finally:
        opened.close()


def _processed(db_path: Path) -> int:
    """Read-only peek at a case another process is writing."""
    if not db_path.exists():
        return 0
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM contents WHERE processed_at IS NOT NULL"
                            ).fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def _faces_by_content(case_dir: Path) -> dict[str, int]:
    from desktop.scan.case import Case

    case = Case.open(case_dir)
    try:
        return {r["sha256"]: r["n"] for r in case.db.query(
            "SELECT c.sha256, COUNT(f.id) AS n FROM contents c LEFT JOIN faces f "
            "ON f.content_id = c.id GROUP BY c.id")}
    finally:
        case.close()


def test_sigkill_inside_an_e01_scan_then_resume_loses_nothing_and_doubles_nothing(evidence, tmp_path):
    """Resume after SIGKILL inside a container scan works exactly like a folder scan."""
    import signal
    import time

    folder = tmp_path / "many"
    folder.mkdir()
    for photo in sorted((FACEDATA / "lfw").rglob("*.jpg"))[:40]:
        shutil.copyfile(photo, folder / photo.name)
    e01 = e01_image(tmp_path / "e01", ext4_image(tmp_path, folder, size_mb=16))
    args = ["scan", e01, "--case", None, "--gallery", evidence["gallery"], "--workers", "2",
            "--quiet"]
    reference = tmp_path / "reference"
    assert homeward(*[a if a is not None else reference for a in args],
                    env=evidence["env"]).returncode == 0
    want = _faces_by_content(reference)
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "desktop",
                                *[str(a) if a is not None else str(killed) for a in args]],
                               env=evidence["env"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while _processed(killed / "case.db") < 8 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the scan and its workers, mid-flight
    process.wait()
    partial = _processed(killed / "case.db")
    assert 8 <= partial < len(want), "the kill must land in the middle of the scan"
    resumed = homeward(*[a if a is not None else killed for a in args], env=evidence["env"])
    assert resumed.returncode == 0, resumed.stderr
    assert _faces_by_content(killed) == want  # every content once, with exactly its faces
    verified = homeward("audit", "verify", "--case", killed, env=evidence["env"])
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_hostile_archive_entries_are_refused_one_by_one_and_the_rest_is_scanned(evidence, tmp_path):
    """Zip slip names, absolute names and a zip bomb inside the evidence: each refused with a
    clear reason, the photos beside them scanned, exit 1 (finished, with per-file problems)."""
    from desktop.review.overview import problem_files
    from desktop.scan.case import Case

    slip = make_zip_slip(evidence["folder"], tmp_path)
    bomb = make_zip_bomb(evidence["folder"], tmp_path)
    case_dir = tmp_path / "case"
    result = homeward("scan", slip, bomb, "--case", case_dir, "--gallery", evidence["gallery"],
                      "--workers", "2", "--quiet", env=evidence["env"])
    assert result.returncode == 1, result.stderr
    case = Case.open(case_dir)
    try:
        problems = {(p["rel_path"], p["status"]) for p in problem_files(case.db)}
        reasons = " ".join(p["reason"] for p in problem_files(case.db))
        assert ("bomb.bin", "refused") in problems
        assert sum(1 for _, status in problems if status == "refused") >= 6
        assert "would leave the archive" in reasons, reasons
        ok = next(case.db.query("SELECT COUNT(*) AS n FROM files WHERE status = 'ok'"))["n"]
        assert ok == 2 * len([p for p in evidence["folder"].rglob("*") if p.is_file()])
    finally:
        case.close()
    want = {h["person_name"] for h in scan_hits(evidence, evidence["folder"], tmp_path / "f")}
    got = json.loads(homeward("hits", "--case", case_dir, "--format", "json",
                              env=evidence["env"]).stdout)
    assert {h["person_name"] for h in got} == want
