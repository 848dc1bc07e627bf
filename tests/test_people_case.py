"""Issue 13 in a real case: `homeward scan` without a gallery groups every face into people,
`homeward clusters` and `homeward search` print them (the JSON contracts of the issue), a
second device is added without reshuffling, and the clusters are part of the sealed record.

Real LFW photos (people with several photos, and strangers who must stay alone) and a real
video, through the shared SCRFD-500M + MobileFaceNet pack.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FACEDATA, TEST_PACK, require_shared

LFW = FACEDATA / "lfw"
PEOPLE = ("Abdullah_Gul", "Adrien_Brody", "Andre_Agassi", "Antonio_Palocci", "Ben_Affleck")


def homeward(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop", *args], capture_output=True,
                          text=True, timeout=600)


def scan(source: Path, case: Path) -> None:
    done = homeward("scan", str(source), "--case", str(case), "--pack", TEST_PACK, "--workers",
                    "2", "--quiet")
    assert done.returncode == 0, done.stderr


def clusters(case: Path) -> list[dict]:
    done = homeward("clusters", "--case", str(case), "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def identity(path: str) -> str:
    return Path(path).name.rsplit("_", 1)[0]


def labelled_faces(found: list[dict]) -> dict[int, str]:
    """face id -> identity for the face an LFW label names: the one nearest the centre of
    its 250x250 crop (others in the photo are bystanders of unknown identity)."""
    best: dict[str, tuple[float, int]] = {}
    for cluster in found:
        for face in cluster["faces"]:
            if not face["path"] or face["path"] == "clip.mp4":
                continue
            x1, y1, x2, y2 = face["box"]
            distance = ((x1 + x2) / 2 - 125) ** 2 + ((y1 + y2) / 2 - 125) ** 2
            if face["path"] not in best or distance < best[face["path"]][0]:
                best[face["path"]] = (distance, face["face_id"])
    return {face_id: identity(path) for path, (_, face_id) in best.items()}


@pytest.fixture(scope="module")
def devices(tmp_path_factory, test_pack) -> Path:
    """Two 'devices': each person's photos split between them (the last one held out as the
    investigator's photo), strangers on both, a video on the first."""
    require_shared()
    base = tmp_path_factory.mktemp("people")
    for device in ("phone", "laptop"):
        (base / device).mkdir()
    for person in PEOPLE:
        photos = sorted((LFW / person).glob("*.jpg"))
        for n, photo in enumerate(photos[:-1]):
            shutil.copyfile(photo, base / ("phone" if n % 2 == 0 else "laptop") / photo.name)
        shutil.copyfile(photos[-1], base / f"held_out_{person}.jpg")
    strangers = [d for d in sorted(LFW.iterdir()) if len(list(d.glob("*.jpg"))) == 1][:16]
    for n, folder in enumerate(strangers):
        photo = next(folder.glob("*.jpg"))
        shutil.copyfile(photo, base / ("phone" if n % 2 else "laptop") / photo.name)
    shutil.copyfile(FACEDATA / "videos" / "WDA_BobMenendez_000.mp4", base / "phone" / "clip.mp4")
    return base


@pytest.fixture(scope="module")
def case_of_both(devices) -> Path:
    """The phone scanned first, then the laptop added to the same source folder."""
    source = devices / "source"
    shutil.copytree(devices / "phone", source)
    scan(source, devices / "case")
    first = clusters(devices / "case")
    (devices / "first.json").write_text(json.dumps(first))
    for photo in (devices / "laptop").iterdir():
        shutil.copyfile(photo, source / photo.name)
    scan(source, devices / "case")
    return devices / "case"


def test_every_face_is_in_exactly_one_cluster_and_people_are_found(case_of_both):
    found = clusters(case_of_both)
    faces = [f["face_id"] for c in found for f in c["faces"]]
    assert len(faces) == len(set(faces))
    conn = sqlite3.connect(case_of_both / "case.db")
    assert sorted(faces) == [r[0] for r in conn.execute("SELECT id FROM faces ORDER BY id")]
    conn.close()
    assert all(set(c) >= {"cluster_id", "name", "faces"} for c in found)
    assert all(set(f) == {"face_id", "path", "frame", "box"} for c in found for f in c["faces"])
    labelled = labelled_faces(found)
    by_person: dict[str, set] = {}
    for cluster in found:
        for face in cluster["faces"]:
            if face["face_id"] in labelled:
                by_person.setdefault(labelled[face["face_id"]], set()).add(cluster["cluster_id"])
    for person in PEOPLE:  # each person is one cluster, holding no other labelled face
        assert len(by_person[person]) == 1, (person, by_person[person])
        (cid,) = by_person[person]
        members = next(c for c in found if c["cluster_id"] == cid)["faces"]
        assert {labelled[f["face_id"]] for f in members if f["face_id"] in labelled} == {person}
    strangers = [p for p in by_person if p not in PEOPLE]
    assert len(strangers) == 16
    for person in strangers:  # nobody else's cluster
        (cid,) = by_person[person]
        members = next(c for c in found if c["cluster_id"] == cid)["faces"]
        assert {labelled[f["face_id"]] for f in members if f["face_id"] in labelled} == {person}
    video = [c for c in found if any(f["path"] == "clip.mp4" for f in c["faces"])]
    assert len(video) == 1 and all(f["frame"] is not None for f in video[0]["faces"])


def test_adding_a_device_moves_no_face_already_clustered(case_of_both, devices):
    first = json.loads((devices / "first.json").read_text())
    now = {f["face_id"]: c["cluster_id"] for c in clusters(case_of_both) for f in c["faces"]}
    before = {f["face_id"]: c["cluster_id"] for c in first for f in c["faces"]}
    assert before and all(now[face] == cluster for face, cluster in before.items())
    assert len(now) > len(before)


def test_search_by_a_face_of_the_case_and_by_an_outside_photo(case_of_both, devices):
    found = clusters(case_of_both)
    person = PEOPLE[2]
    labelled = labelled_faces(found)
    faces = [f for c in found for f in c["faces"] if labelled.get(f["face_id"]) == person]
    done = homeward("search", "--case", str(case_of_both), "--face", str(faces[0]["face_id"]),
                    "--format", "json")
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)
    assert hits[0]["face_id"] == faces[0]["face_id"] and hits[0]["score"] > 0.99
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert all(set(h) == {"face_id", "path", "frame", "box", "score"} for h in hits)
    assert {labelled.get(h["face_id"]) for h in hits} == {person}
    assert {h["face_id"] for h in hits} == {f["face_id"] for f in faces}
    photo = homeward("search", "--case", str(case_of_both), "--photo",
                     str(devices / f"held_out_{person}.jpg"), "--format", "json")
    assert photo.returncode == 0, photo.stderr
    assert {h["face_id"] for h in json.loads(photo.stdout)} == {f["face_id"] for f in faces}
    strict = homeward("search", "--case", str(case_of_both), "--face", str(faces[0]["face_id"]),
                      "--threshold", "0.999", "--format", "json")
    assert [h["face_id"] for h in json.loads(strict.stdout)] == [faces[0]["face_id"]]
    table = homeward("search", "--case", str(case_of_both), "--face", str(faces[0]["face_id"]))
    assert table.returncode == 0 and "face(s) at or above" in table.stdout


def test_search_with_a_bad_photo_says_why(case_of_both, tmp_path):
    blank = tmp_path / "wall.png"
    from PIL import Image

    Image.new("RGB", (300, 300), "white").save(blank)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    group = FACEDATA / "face_recognition" / "_multi" / "obama_and_biden.jpg"
    for photo, reason in ((blank, "no face found"), (tmp_path / "broken.jpg", "cannot be read"),
                          (group, "choose one"), (tmp_path / "absent.jpg", "is not a file")):
        done = homeward("search", "--case", str(case_of_both), "--photo", str(photo))
        assert done.returncode == 2 and reason in done.stderr, (photo, done.stderr)
    chosen = homeward("search", "--case", str(case_of_both), "--photo", str(group),
                      "--photo-face", "2", "--format", "json")
    assert chosen.returncode == 0 and isinstance(json.loads(chosen.stdout), list)
    assert homeward("search", "--case", str(case_of_both), "--face", "999999").returncode == 2


def test_clusters_are_sealed_in_the_record(case_of_both, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(case_of_both, copy)
    assert homeward("audit", "verify", "--case", str(copy)).returncode == 0
    conn = sqlite3.connect(copy / "case.db")
    conn.execute("UPDATE cluster_members SET cluster_id = (SELECT MAX(id) FROM clusters) "
                 "WHERE face_id = (SELECT MIN(face_id) FROM cluster_members)")
    conn.commit()
    conn.close()
    done = homeward("audit", "verify", "--case", str(copy))
    assert done.returncode == 3 and "cluster_members row" in done.stderr


def test_the_examiners_work_on_clusters_is_sealed_and_survives_a_rescan(case_of_both, devices,
                                                                         tmp_path):
    work = tmp_path / "work"
    shutil.copytree(case_of_both, work)
    found = clusters(work)
    labelled = labelled_faces(found)
    of = {p: next(c for c in found if any(labelled.get(f["face_id"]) == p for f in c["faces"]))
          for p in PEOPLE[:3]}
    a, b, c = (of[p]["cluster_id"] for p in PEOPLE[:3])

    def op(*args: str) -> subprocess.CompletedProcess:
        done = homeward("cluster", *args, "--case", str(work), "--examiner", "J. Doe")
        assert done.returncode == 0, done.stderr
        return done

    op("name", "--cluster", str(a), "--name", "Unknown man, <b>red</b> jacket")
    op("merge", "--cluster", str(a), "--from", str(b))
    faces_c = [f["face_id"] for f in of[PEOPLE[2]]["faces"]]
    op("split", "--cluster", str(c), "--face", str(faces_c[0]))
    op("not-this", "--cluster", str(c), "--face", str(faces_c[1]))
    op("irrelevant", "--cluster", str(c))
    refused = homeward("cluster", "merge", "--case", str(work), "--cluster", str(a), "--from",
                       str(a), "--examiner", "J. Doe")
    assert refused.returncode == 3 and "itself" in refused.stderr
    assert homeward("cluster", "name", "--case", str(work), "--cluster", "99999", "--name",
                    "x").returncode == 3

    def state() -> dict:
        now = clusters(work)
        return {"named": next(x for x in now if x["cluster_id"] == a),
                "where": {f["face_id"]: x["cluster_id"] for x in now for f in x["faces"]},
                "last": now[-1]}

    before = state()
    assert before["named"]["name"] == "Unknown man, <b>red</b> jacket"
    assert {before["where"][f["face_id"]] for f in of[PEOPLE[1]]["faces"]} == {a}
    assert before["where"][faces_c[0]] not in (c, before["where"][faces_c[1]])
    assert before["last"]["cluster_id"] == c and before["last"]["irrelevant"]
    extra = devices / "source" / "late_arrival.jpg"  # a re-scan with a new file
    shutil.copyfile(sorted((LFW / PEOPLE[0]).glob("*.jpg"))[-1], extra)
    try:
        done = homeward("scan", str(devices / "source"), "--case", str(work), "--pack",
                        TEST_PACK, "--workers", "1", "--quiet")
        assert done.returncode == 0, done.stderr
    finally:
        extra.unlink()
    after = state()
    assert all(after["where"][face] == cluster for face, cluster in before["where"].items())
    late = [x for x in clusters(work) if any(f["path"] == "late_arrival.jpg" for f in x["faces"])]
    assert any(x["cluster_id"] == a for x in late)  # joined the named, merged person
    conn = sqlite3.connect(work / "case.db")
    ops = [r[0] for r in conn.execute("SELECT op FROM cluster_ops ORDER BY id")]
    actions = {r[0] for r in conn.execute("SELECT action FROM audit")}
    conn.close()
    assert ops == ["name", "merge", "split", "not_this", "irrelevant"]
    assert {"cluster named", "clusters merged", "cluster split", "faces removed from cluster",
            "cluster marked"} <= actions
    assert homeward("audit", "verify", "--case", str(work)).returncode == 0


def test_a_later_operation_overrides_an_earlier_one_and_scans_go_on(case_of_both, devices,
                                                                     tmp_path):
    """Split what was merged: the merge's must-link no longer holds, and the next scan's
    clustering neither fails on the contradiction nor undoes the split."""
    work = tmp_path / "work"
    shutil.copytree(case_of_both, work)
    found = clusters(work)
    labelled = labelled_faces(found)
    a, b = (next(c for c in found if any(labelled.get(f["face_id"]) == p for f in c["faces"]))
            for p in PEOPLE[3:5])
    for args in (["merge", "--cluster", str(a["cluster_id"]), "--from", str(b["cluster_id"])],
                 ["split", "--cluster", str(a["cluster_id"]),
                  *[x for f in b["faces"] for x in ("--face", str(f["face_id"]))]]):
        done = homeward("cluster", *args, "--case", str(work), "--examiner", "J. Doe")
        assert done.returncode == 0, done.stderr
    before = {f["face_id"]: c["cluster_id"] for c in clusters(work) for f in c["faces"]}
    extra = devices / "source" / "late_arrival_2.jpg"
    shutil.copyfile(sorted((LFW / PEOPLE[4]).glob("*.jpg"))[-1], extra)
    try:
        done = homeward("scan", str(devices / "source"), "--case", str(work), "--pack",
                        TEST_PACK, "--workers", "1", "--quiet")
        assert done.returncode == 0, done.stderr
    finally:
        extra.unlink()
    after = {f["face_id"]: c["cluster_id"] for c in clusters(work) for f in c["faces"]}
    assert all(after[face] == cluster for face, cluster in before.items())
    assert len(after) > len(before)


def test_reports_list_named_people_as_leads_not_identifications(case_of_both, tmp_path,
                                                               monkeypatch):
    # The head this export records belongs to this copy's own data folder: the module's other
    # copies of the case share its id and go other ways (see storage/heads.py).
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    work = tmp_path / "work"
    shutil.copytree(case_of_both, work)
    found = clusters(work)
    target = found[0]["cluster_id"]
    named = homeward("cluster", "name", "--case", str(work), "--cluster", str(target), "--name",
                     "Girl <b>red</b> jacket", "--examiner", "J. Doe")
    assert named.returncode == 0, named.stderr
    out = tmp_path / "r.html"
    done = homeward("report", "--case", str(work), "--format", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr
    html = out.read_text(encoding="utf-8")
    assert "Named unknown persons (1)" in html and "not identifications" in html
    assert "Girl &lt;b&gt;red&lt;/b&gt; jacket" in html and "<b>red</b>" not in html
    assert f"{len(found[0]['faces'])} / " in html


def test_a_cluster_added_to_the_gallery_is_matched_by_later_scans(case_of_both, devices,
                                                                 tmp_path):
    work = tmp_path / "work"
    shutil.copytree(case_of_both, work)
    found = clusters(work)
    labelled = labelled_faces(found)
    person = PEOPLE[1]
    cluster = next(c for c in found if any(labelled.get(f["face_id"]) == person
                                           for f in c["faces"]))
    gallery = tmp_path / "missing.db"
    assert homeward("gallery", "create", "--gallery", str(gallery)).returncode == 0
    added = homeward("cluster", "to-gallery", "--case", str(work), "--cluster",
                     str(cluster["cluster_id"]), "--gallery", str(gallery), "--name",
                     "Unknown 1", "--examiner", "J. Doe")
    assert added.returncode == 0, added.stderr
    shown = json.loads(homeward("gallery", "list", "--gallery", str(gallery), "--json").stdout)
    assert [p["name"] for p in shown] == ["Unknown 1"] and shown[0]["photos"] >= 2
    rescan = homeward("scan", str(devices / "source"), "--case", str(work), "--gallery",
                      str(gallery), "--pack", TEST_PACK, "--workers", "1", "--quiet")
    assert rescan.returncode == 0, rescan.stderr
    hits = json.loads(homeward("hits", "--case", str(work), "--format", "json").stdout)
    assert {h["person_name"] for h in hits} == {"Unknown 1"}
    persons_faces = {f["face_id"] for f in cluster["faces"] if labelled.get(f["face_id"]) == person}
    assert persons_faces <= {h["face_id"] for h in hits}  # every photo of him is a hit now
    assert homeward("audit", "verify", "--case", str(work)).returncode == 0
    again = homeward("cluster", "to-gallery", "--case", str(work), "--cluster", "99999",
                     "--gallery", str(gallery), "--name", "x")
    assert again.returncode == 3
