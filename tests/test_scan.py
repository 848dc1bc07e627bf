"""The bulk scan on a seized-folder fixture built from real faces and videos: identification,
false hits, odd files, duplicates, resume after SIGKILL, rescans, and an untouched source."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FACEDATA, TEST_PACK, require_shared
from PIL import Image

from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import PackInfo, import_rows
from desktop.gallery.sources import ImportRow
from desktop.match.hits import list_hits
from desktop.scan.case import Case

FR = "face_recognition"
# Gallery photo per person; the seized folder gets their OTHER photos.
GALLERY = {"Barack_Obama": f"{FR}/Barack_Obama/obama.jpg",
           "Joseph_Biden": f"{FR}/Joseph_Biden/biden.jpg",
           "Guido_van_Rossum": f"{FR}/Guido_van_Rossum/guido_van_rossum1.jpg",
           "Paul_Allen": f"{FR}/Paul_Allen/paul_allen.jpg",
           "Steve_Wozniak": f"{FR}/Steve_Wozniak/steve_wozniak1.jpg",
           "Bob_Menendez": "lfw/Bob_Menendez/Bob_Menendez_0001.jpg"}


def build_seized(root: Path) -> dict[str, str]:
    """Returns {relative path: expected person or ''} for the photos that carry one face."""
    expected = {}
    for person, gallery_photo in GALLERY.items():
        if person == "Bob_Menendez":
            continue
        others = [p for p in sorted((FACEDATA / FR / person).glob("*.jpg"))
                  if p.as_posix() != (FACEDATA / gallery_photo).as_posix()][:3]
        for n, photo in enumerate(others):
            rel = f"DCIM/{person[:5]}_{n}{photo.suffix}"
            (root / "DCIM").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(photo, root / rel)
            expected[rel] = person
    strangers = sorted((FACEDATA / "lfw").iterdir())[500:530]
    (root / "Downloads" / "people").mkdir(parents=True)
    for identity in strangers:
        photo = sorted(identity.iterdir())[0]
        shutil.copyfile(photo, root / "Downloads" / "people" / photo.name)
        expected[f"Downloads/people/{photo.name}"] = ""
    (root / "Movies").mkdir()
    shutil.copyfile(FACEDATA / "videos" / "WDA_BobMenendez_000.mp4", root / "Movies" / "clip.mp4")
    shutil.copyfile(FACEDATA / "videos" / "facenet_pytorch_video.mp4",
                    root / "Movies" / "crowd.dat")  # a video under a misleading name
    # Odd files: a duplicate, an EXIF-rotated copy, corrupt and empty files, odd names, a loop.
    shutil.copyfile(root / "DCIM" / "Barac_0.jpg", root / "Downloads" / "copy of obama.jpg")
    upright = Image.open(root / "DCIM" / "Barac_1.jpg")
    sideways = upright.transpose(Image.Transpose.ROTATE_270)
    exif = sideways.getexif()
    exif[0x0112] = 8
    sideways.save(root / "DCIM" / "rotated.jpg", exif=exif)
    whole = io.BytesIO()
    upright.save(whole, "JPEG")
    (root / "DCIM" / "broken.jpg").write_bytes(whole.getvalue()[:5000])
    (root / "DCIM" / "empty.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("nothing to see", encoding="utf-8")
    odd = os.fsencode(root / "Downloads") + b"/caf\xe9-latin1.jpg"  # not UTF-8
    shutil.copyfile(root / "DCIM" / "Josep_0.jpg", odd)
    os.symlink(root, root / "Downloads" / "loop")
    # One person twice in one picture: both hits must carry a flag.
    left, right = (Image.open(FACEDATA / FR / "Barack_Obama" / name).convert("RGB").resize((400, 400))
                   for name in ("obama2.jpg", "obama3.jpg"))
    pair = Image.new("RGB", (820, 400), "white")
    pair.paste(left, (0, 0))
    pair.paste(right, (420, 0))
    pair.save(root / "Downloads" / "two_of_them.jpg")
    deep = root / "deep" / ("d" * 200) / ("e" * 200)
    deep.mkdir(parents=True)
    shutil.copyfile(root / "DCIM" / "Paul__0.jpg", deep / "long.jpg")
    return expected


def fingerprint_tree(root: Path) -> dict[bytes, tuple[str, int]]:
    found = {}
    for folder, _, files in os.walk(os.fsencode(root)):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                found[path] = (hashlib.sha256(Path(os.fsdecode(path)).read_bytes()).hexdigest(),
                               os.stat(path).st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def seized(tmp_path_factory, test_pack):
    require_shared()
    base = tmp_path_factory.mktemp("seized-case")
    expected = build_seized(base / "source")
    gallery = Gallery.create(base / "gallery.db")
    rows = [ImportRow(person, _person(person), FACEDATA / photo)
            for person, photo in GALLERY.items()]
    from desktop.engine.engine import EngineOptions
    from desktop.scan.analyze import analyze_paths

    report = import_rows(gallery, rows, lambda p: analyze_paths(p, test_pack, EngineOptions()),
                         PackInfo(test_pack.id, test_pack.manifest.model_hashes), "tester")
    assert report.photos_added == len(GALLERY), report.problems
    return base, expected


def _person(name: str):
    from desktop.gallery.fields import PersonFields

    return PersonFields(name=name)


def homeward(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop", *args], capture_output=True,
                          text=True, timeout=600, **kwargs)


def scan_args(base: Path, case: str) -> list[str]:
    return ["scan", str(base / "source"), "--case", str(base / case), "--gallery",
            str(base / "gallery.db"), "--pack", TEST_PACK, "--workers", "2", "--quiet"]


def test_scan_identifies_gallery_people_and_leaves_strangers_alone(seized):
    base, expected = seized
    before = fingerprint_tree(base / "source")
    done = homeward(*scan_args(base, "case"))
    assert done.returncode == 1, done.stderr  # finished, with per-file problems (broken.jpg)
    assert fingerprint_tree(base / "source") == before  # evidence untouched
    case = Case.open(base / "case")
    hits = list_hits(case.db)
    top = {}
    for hit in hits:
        if hit["rank"] == 1:
            for path in hit["paths"]:
                top.setdefault(path, set()).add(hit["person_name"])
    should = {p: who for p, who in expected.items() if who}
    found = sum(who in top.get(p, set()) for p, who in should.items())
    false_hits = sum(1 for p, who in expected.items() if not who and p in top)
    wrong = sum(1 for p, who in should.items() if top.get(p, set()) - {who})
    print(f"\nidentified {found}/{len(should)} gallery photos, {wrong} with a wrong person, "
          f"{false_hits} false hits on {len(expected) - len(should)} strangers")
    assert found >= 0.9 * len(should)
    assert wrong == 0 and false_hits <= 1
    twice = [h for h in hits if h["path"] == "Downloads/two_of_them.jpg" and h["rank"] == 1]
    assert len(twice) == 2 and all(h["person_name"] == "Barack_Obama" for h in twice)
    assert all(h["flags"] == ["same_person_twice_in_image"] for h in twice)
    assert not [h for h in hits if h["flags"] and h["path"] != "Downloads/two_of_them.jpg"]
    # The video: one track for Bob Menendez, with frame and time, not one hit per frame.
    video_hits = [h for h in hits if h["path"] == "Movies/clip.mp4"]
    assert [h["person_name"] for h in video_hits if h["rank"] == 1] == ["Bob_Menendez"]
    assert video_hits[0]["frame"] is not None and video_hits[0]["timestamp"] is not None
    assert not [h for h in hits if h["path"] == "Movies/crowd.dat" and h["score"] > 0.5]
    # Each hit has its face crop and context thumbnail in the case folder, as JPEG.
    for hit in hits:
        for folder, name in (("crops", hit["crop"]), ("thumbs", hit["thumbnail"])):
            assert (base / "case" / folder / name).read_bytes()[:2] == b"\xff\xd8", hit
    # Every file is recorded with its status and reason; nothing stopped the scan.
    files = {r["rel_path"]: r for r in case.db.query("SELECT * FROM files")}
    assert files["DCIM/broken.jpg"]["status"] == "corrupt"
    assert files["DCIM/empty.jpg"]["status"] == "unsupported"
    assert files["notes.txt"]["status"] == "unsupported"
    assert files["Downloads/loop"]["status"] == "unsupported"
    assert files["Movies/crowd.dat"]["status"] in ("ok", "no_face")
    assert files["Downloads/caf\\xe9-latin1.jpg"]["status"] == "ok"
    assert any(p.endswith("long.jpg") and r["status"] == "ok" for p, r in files.items())
    assert files["DCIM/rotated.jpg"]["status"] == "ok"
    assert "Barack_Obama" in top.get("DCIM/rotated.jpg", set())
    # Identical files are analysed once and linked to both paths.
    copy = files["Downloads/copy of obama.jpg"]
    assert copy["content_id"] == files["DCIM/Barac_0.jpg"]["content_id"]
    obama_hit = next(h for h in hits if "DCIM/Barac_0.jpg" in h["paths"])
    assert "Downloads/copy of obama.jpg" in obama_hit["paths"]
    assert len(obama_hit["sha256"]) == 64 and len(obama_hit["md5"]) == 32


def test_rescan_adds_only_new_files_and_keeps_hits(seized):
    base, _ = seized
    assert homeward(*scan_args(base, "case2")).returncode == 1
    case = Case.open(base / "case2")
    hits_before = [(h["hit_id"], h["person_id"], h["path"]) for h in list_hits(case.db)]
    faces_before = next(case.db.query("SELECT COUNT(*) AS n FROM faces"))["n"]
    again = homeward(*scan_args(base, "case2"))
    assert "0 analysed now" in again.stdout and "0 new hits" in again.stdout
    shutil.copyfile(FACEDATA / FR / "Steve_Wozniak" / "test_steve_wozniak.jpg",
                    base / "source" / "new_woz.jpg")
    try:
        third = homeward(*scan_args(base, "case2"))
        assert "1 analysed now" in third.stdout, third.stdout
        hits_after = [(h["hit_id"], h["person_id"], h["path"]) for h in list_hits(case.db)]
        assert set(hits_before) < set(hits_after)
        assert any(p == "new_woz.jpg" for _, _, p in hits_after)
        assert next(case.db.query("SELECT COUNT(*) AS n FROM faces"))["n"] > faces_before
    finally:
        (base / "source" / "new_woz.jpg").unlink()


def counts(db_path: Path) -> tuple[int, int]:
    """Read-only peek at a case another process is writing (never creates the file)."""
    if not db_path.exists():
        return 0, 0
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        done = conn.execute("SELECT COUNT(*) FROM contents WHERE processed_at IS NOT NULL").fetchone()
        faces = conn.execute("SELECT COUNT(*) FROM faces").fetchone()
        return done[0], faces[0]
    except sqlite3.Error:
        return 0, 0
    finally:
        conn.close()


def test_sigkill_mid_scan_then_resume_loses_nothing_and_doubles_nothing(seized):
    base, _ = seized
    assert homeward(*scan_args(base, "reference")).returncode == 1
    reference = Case.open(base / "reference")
    want = {r["sha256"]: r["n"] for r in reference.db.query(
        "SELECT c.sha256, COUNT(f.id) AS n FROM contents c LEFT JOIN faces f "
        "ON f.content_id = c.id GROUP BY c.id")}
    process = subprocess.Popen([sys.executable, "-m", "desktop", *scan_args(base, "killed")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 300
    while counts(base / "killed" / "case.db")[0] < 8 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the scan and its workers, mid-flight
    process.wait()
    partial = counts(base / "killed" / "case.db")[0]
    assert 8 <= partial < len(want), "the kill must land in the middle of the scan"
    resumed = homeward(*scan_args(base, "killed"))
    assert resumed.returncode == 1, resumed.stderr
    killed = Case.open(base / "killed")
    got = {r["sha256"]: r["n"] for r in killed.db.query(
        "SELECT c.sha256, COUNT(f.id) AS n FROM contents c LEFT JOIN faces f "
        "ON f.content_id = c.id GROUP BY c.id")}
    assert got == want  # every content once, with exactly its faces
    ref_hits = {(h["sha256"], h["person_id"]) for h in list_hits(reference.db)}
    assert {(h["sha256"], h["person_id"]) for h in list_hits(killed.db)} == ref_hits


def _scan_in_process(base: Path, pack, case_name: str, **job_options) -> dict:
    from desktop.scan.case import CaseInfo
    from desktop.scan.job import ScanJob

    gallery = Gallery.open(base / "gallery.db")
    case = Case.create(base / case_name, CaseInfo(
        case_name, "tester", str(base / "source"), str(base / "gallery.db"), pack.id,
        pack.manifest.model_hashes, pack.manifest.match_threshold, 2.0, "",
        gallery_id=gallery.identity))
    ScanJob(case, pack, gallery, **job_options).run()
    faces = {(r["rel_path"], r["frame_index"], tuple(round(v) for v in json.loads(r["box"])))
             for r in case.db.query(
                 "SELECT f.rel_path, x.frame_index, x.box FROM faces x JOIN files f "
                 "ON f.content_id = x.content_id")}
    hits = {(tuple(sorted(h["paths"])), h["frame"], h["person_name"], round(h["score"], 4))
            for h in list_hits(case.db)}
    statuses = {r["rel_path"]: r["status"] for r in case.db.query("SELECT * FROM files")}
    case.close()
    gallery.close()
    return {"faces": faces, "hits": hits, "statuses": statuses}


def test_batched_pipeline_finds_exactly_what_per_file_workers_find(seized, test_pack):
    """The GPU's pipeline (decode workers feeding one engine in batches), run on the CPU:
    the same files, faces, tracks' hits and statuses as the per-file worker path."""
    base, _ = seized
    per_file = _scan_in_process(base, test_pack, "case-per-file", workers=2, batched=False)
    batched = _scan_in_process(base, test_pack, "case-batched", workers=2, batched=True)
    assert batched["statuses"] == per_file["statuses"]
    assert batched["faces"] == per_file["faces"]
    assert batched["hits"] == per_file["hits"]
    assert len(per_file["hits"]) >= 10
