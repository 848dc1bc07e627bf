"""Issue 12, faults 2, 3, 4 and 10: one writer per case, a case bound to its gallery and its
settings, atomic creation, interrupted scans recorded; 20 random SIGKILLs of a real scan.

Real scans (the shared SCRFD-500M + MobileFaceNet pack, real photos and a real video) run
through `python -m desktop` in their own process groups, killed as a user's machine would.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FACEDATA, TEST_PACK, require_shared

from desktop.engine.engine import EngineOptions
from desktop.gallery.fields import PersonFields
from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import PackInfo, import_rows
from desktop.gallery.sources import ImportRow
from desktop.match.hits import list_hits
from desktop.scan.analyze import analyze_paths
from desktop.scan.case import Case
from desktop.storage.record import verify_case

FR = FACEDATA / "face_recognition"
PEOPLE = ("Barack_Obama", "Joseph_Biden", "Elon_Musk", "Kit_Harington", "Rose_Leslie")


@pytest.fixture(scope="module")
def evidence(tmp_path_factory, test_pack) -> Path:
    """A source (the people's other photos, LFW strangers, a short video) and two galleries
    of the same persons imported in opposite orders, so their person ids differ."""
    require_shared()
    base = tmp_path_factory.mktemp("writers")
    source = base / "source"
    source.mkdir()
    for person in PEOPLE:
        for photo in sorted((FR / person).glob("*.jpg"))[1:4]:
            shutil.copyfile(photo, source / f"{person}_{photo.name}")
    for photo in sorted((FACEDATA / "lfw").rglob("*.jpg"))[40:64]:
        shutil.copyfile(photo, source / photo.name)
    shutil.copyfile(FACEDATA / "videos" / "WDA_BobMenendez_000.mp4", source / "clip.mp4")
    for name, order in (("g1.db", PEOPLE), ("g2.db", tuple(reversed(PEOPLE)))):
        gallery = Gallery.create(base / name)
        rows = [ImportRow(p, PersonFields(name=p), sorted((FR / p).glob("*.jpg"))[0]) for p in order]
        import_rows(gallery, rows, lambda paths: analyze_paths(paths, test_pack, EngineOptions(), 1),
                    PackInfo(test_pack.id, test_pack.manifest.model_hashes), "tester")
        gallery.close()
    return base


def scan_command(base: Path, case: str, gallery: str = "g1.db", *extra: str) -> list[str]:
    return [sys.executable, "-m", "desktop", "scan", str(base / "source"), "--case",
            str(base / case), "--gallery", str(base / gallery), "--pack", TEST_PACK,
            "--workers", "1", "--quiet", *extra]


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def homeward(*args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "desktop", *args])


def snapshot(folder: Path) -> dict:
    """What a case holds, independent of row ids: files, statuses, faces, hits."""
    case = Case.open(folder)
    try:
        db = case.db
        files = {r["rel_path"]: (r["status"], r["sha256"]) for r in db.query(
            "SELECT f.rel_path, f.status, c.sha256 FROM files f LEFT JOIN contents c "
            "ON c.id = f.content_id")}
        faces = sorted((r["sha256"], r["frame_index"], r["box"]) for r in db.query(
            "SELECT c.sha256, x.frame_index, x.box FROM faces x JOIN contents c "
            "ON c.id = x.content_id"))
        hits = sorted((h["sha256"], h["frame"], h["person_name"], h["rank"], round(h["score"], 5))
                      for h in list_hits(db))
        return {"files": files, "faces": faces, "hits": hits,
                "tracks": db.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]}
    finally:
        case.close()


@pytest.fixture(scope="module")
def reference(evidence) -> dict:
    done = run(scan_command(evidence, "reference"))
    assert done.returncode == 0, done.stderr
    found = snapshot(evidence / "reference")
    assert found["hits"] and found["tracks"]
    return found


def test_two_scans_started_together_one_runs_one_is_refused(evidence, reference):
    """Fault 2: both ran, and every face and hit was stored twice."""
    first = subprocess.Popen(scan_command(evidence, "twice"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(scan_command(evidence, "twice"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    results = [(p.wait(timeout=600), *p.communicate()) for p in (first, second)]
    codes = sorted(code for code, _, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results
    refused = next(err for code, _, err in results if code != 0)
    assert "being written by" in refused and "process" in refused, refused
    assert snapshot(evidence / "twice") == reference
    assert verify_case(Case.open(evidence / "twice").db).ok


def test_a_writer_is_refused_with_who_holds_the_case_and_freed_when_it_dies(evidence, reference):
    folder = evidence / "reference"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from desktop.scan.case import Case\n"
         f"c = Case.open({str(folder)!r})\nwith c.writing():\n    print('held', flush=True)\n"
         "    time.sleep(600)"], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        hit = list_hits(Case.open(folder).db)[0]["hit_id"]
        refused = homeward("review", "decide", "--case", str(folder), "--hit", str(hit),
                           "--decision", "confirm", "--reviewer", "R")
        assert refused.returncode != 0
        assert f"process {holder.pid}" in refused.stderr and "since" in refused.stderr
        assert run(scan_command(evidence, "reference")).returncode != 0
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    done = homeward("review", "decide", "--case", str(folder), "--hit", str(hit), "--decision",
                    "unsure", "--reviewer", "R")
    assert done.returncode == 0, done.stderr  # the kernel released the dead holder's lock


def test_another_gallery_is_refused_until_the_case_is_rebound(evidence, reference):
    """Fault 3: a resumed scan with another gallery mixed two galleries' person ids."""
    shutil.copytree(evidence / "reference", evidence / "bound")
    refused = run(scan_command(evidence, "bound", "g2.db"))
    assert refused.returncode != 0 and "bound to another gallery" in refused.stderr
    assert snapshot(evidence / "bound") == reference  # nothing was written
    rebound = homeward("case", "rebind", "--case", str(evidence / "bound"), "--gallery",
                       str(evidence / "g2.db"), "--examiner", "J. Doe")
    assert rebound.returncode == 0, rebound.stderr
    case = Case.open(evidence / "bound")
    g2 = Gallery.open(evidence / "g2.db")
    try:
        assert case.info.gallery_id == g2.identity
        hits = list_hits(case.db)
        names = {p["id"]: p["name"] for p in g2.persons()}
        assert hits and all(names[h["person_id"]] == h["person_name"] for h in hits)
        assert sorted(h["person_name"] for h in hits) == sorted(h[2] for h in reference["hits"])
        actions = [r["action"] for r in case.db.query("SELECT action FROM audit ORDER BY seq")]
        assert "gallery re-bound" in actions and actions[-1] == "scan finished"
        assert verify_case(case.db).ok
    finally:
        case.close()
        g2.close()
    assert run(scan_command(evidence, "bound", "g2.db")).returncode == 0
    assert run(scan_command(evidence, "bound", "g1.db")).returncode != 0


def test_fps_and_threshold_on_an_existing_case_are_refused_or_changed_explicitly(evidence,
                                                                                 reference):
    """Fault 3's last line: --fps and --threshold on an existing case were silently ignored."""
    shutil.copytree(evidence / "reference", evidence / "settings")
    for flag in (["--fps", "5"], ["--threshold", "0.2"]):
        refused = run(scan_command(evidence, "settings", "g1.db", *flag))
        assert refused.returncode != 0 and "homeward case set" in refused.stderr, refused.stderr
    before = len(reference["hits"])
    changed = homeward("case", "set", "--case", str(evidence / "settings"), "--threshold", "0.1",
                       "--examiner", "J. Doe")
    assert changed.returncode == 0, changed.stderr
    lowered = snapshot(evidence / "settings")
    assert len(lowered["hits"]) > before
    raised = homeward("case", "set", "--case", str(evidence / "settings"), "--threshold", "0.5")
    assert raised.returncode == 0, raised.stderr
    case = Case.open(evidence / "settings")
    try:
        assert all(h["score"] >= 0.5 for h in list_hits(case.db))
        assert case.info.match_threshold == 0.5
        actions = [r["action"] for r in case.db.query("SELECT action FROM audit")]
        assert actions.count("threshold changed") == 2
        assert verify_case(case.db).ok
    finally:
        case.close()
    assert homeward("case", "set", "--case", str(evidence / "settings"), "--fps",
                    "4").returncode == 0
    assert run(scan_command(evidence, "settings", "g1.db", "--fps", "4")).returncode == 0


def audit_rows(db_path: Path) -> int:
    """A read-only peek at how far another process has written (never creates the file)."""
    if not db_path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _kill_group(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_a_scan_killed_while_creating_its_case_never_locks_the_folder_out(evidence, reference):
    """Fault 4: a kill in the first ~20 ms left a case.db without its kind mark, and every
    later command refused the folder as 'not a Homeward case'."""
    rng = random.Random(4)
    for attempt in range(6):
        name = f"created-{attempt}"
        process = subprocess.Popen(scan_command(evidence, name), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        db = evidence / name / "case.db"
        deadline = time.time() + 120
        while not db.exists() and process.poll() is None and time.time() < deadline:
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, 0.02))
        _kill_group(process)
        again = run(scan_command(evidence, name))
        assert again.returncode == 0, again.stderr
        assert snapshot(evidence / name) == reference


def test_twenty_random_sigkills_leave_the_case_equal_to_an_uninterrupted_scan(evidence,
                                                                              reference):
    """Issue 12's evidence: kill the whole process group at random moments, restart after
    each; then the case equals an uninterrupted scan's, its file is sound, its chain intact,
    and at most one interrupted-scan record per kill. Fault 10: killed scans stayed
    'running' forever."""
    rng = random.Random(12)
    folder = evidence / "killed"
    kills = 0
    while kills < 20:
        before = audit_rows(folder / "case.db")
        process = subprocess.Popen(scan_command(evidence, "killed"), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        if kills % 5 == 0:  # while starting, creating the case, listing
            time.sleep(rng.uniform(0.0, 1.5))
        else:  # a random moment a few committed results into this run
            target, deadline = before + rng.randint(1, 3), time.time() + 120
            while (audit_rows(folder / "case.db") < target and process.poll() is None
                   and time.time() < deadline):
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.05))
        if process.poll() is not None:
            break  # it finished before the kill: the scan is complete
        _kill_group(process)
        kills += 1
    final = run(scan_command(evidence, "killed"))
    assert final.returncode == 0, final.stderr
    assert kills == 20, "every kill must land before the scan is complete"
    assert snapshot(folder) == reference
    conn = sqlite3.connect(folder / "case.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = [s for (s,) in conn.execute("SELECT status FROM scans")]
        interrupted = conn.execute("SELECT COUNT(*) FROM audit WHERE action = "
                                   "'scan interrupted'").fetchone()[0]
    finally:
        conn.close()
    assert "running" not in statuses
    assert interrupted == statuses.count("interrupted") <= kills
    assert statuses.count("interrupted") >= 1
    case = Case.open(folder)
    try:
        report = verify_case(case.db)
        assert report.ok, report.problems
    finally:
        case.close()
    leftovers = [p.name for sub in ("crops", "thumbs") for p in (folder / sub).iterdir()
                 if p.name.startswith(".")]
    assert leftovers == []


def test_a_scan_without_a_gallery_or_with_an_empty_one_records_faces_and_no_hits(evidence,
                                                                               reference):
    """Issue 13's interface: no --gallery, or a gallery with no persons: faces, tracks, no
    hits. The first gallery given later binds the case, and its hits arrive."""
    empty = Gallery.create(evidence / "empty.db")
    empty.close()
    plain = [sys.executable, "-m", "desktop", "scan", str(evidence / "source"), "--pack",
             TEST_PACK, "--workers", "1", "--quiet", "--case"]
    assert run([*plain, str(evidence / "no-gallery")]).returncode == 0
    assert run([*plain, str(evidence / "empty-gallery"), "--gallery",
                str(evidence / "empty.db")]).returncode == 0
    for name in ("no-gallery", "empty-gallery"):
        found = snapshot(evidence / name)
        assert found["faces"] == reference["faces"] and found["tracks"] == reference["tracks"]
        assert found["hits"] == []
        assert verify_case(Case.open(evidence / name).db).ok
    later = run(scan_command(evidence, "no-gallery"))  # now with g1.db
    assert later.returncode == 0, later.stderr
    assert snapshot(evidence / "no-gallery") == reference
    assert run([*plain, str(evidence / "no-gallery")]).returncode == 0  # its own gallery now
    assert run(scan_command(evidence, "no-gallery", "g2.db")).returncode != 0


def test_a_case_being_created_by_another_process_is_not_swept_as_a_killed_ones(tmp_path,
                                                                               test_pack):
    """Two scans started together on a new case (seen in a loaded CI run): the second's
    creation swept the first's draft as if its creator had been killed, and the first died
    with 'No such file or directory' renaming it, an unexpected error instead of a refusal."""
    from desktop.scan.case import Case, CaseInfo

    folder = tmp_path / "racing"
    folder.mkdir()
    draft = folder / (".case.db.creating-" + "a" * 32)
    draft.write_bytes(b"another process's case, half made")
    holder = subprocess.Popen(  # that process, alive, holding its draft
        [sys.executable, "-c", "import sys, time; from desktop.scan.case import creating; "
         "cm = creating(sys.argv[1]); cm.__enter__(); print('held', flush=True); time.sleep(60)",
         str(draft)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        info = CaseInfo("racing", "tester", str(tmp_path), "", test_pack.id,
                        test_pack.manifest.model_hashes, 0.3, 2.0, "")
        Case.create(folder, info).close()
        assert draft.exists(), "a live creator's draft was swept"
    finally:
        holder.kill()
        holder.wait()
    stale = folder / (".case.db.creating-" + "b" * 32)
    stale.write_bytes(b"left by a killed create")
    (folder / "case.db").rename(folder / "moved.db")
    Case.create(folder, info).close()
    assert not stale.exists() and not draft.exists()  # nobody holds them: swept
