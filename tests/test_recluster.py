"""Issue 13: a full re-clustering of a case keeps the examiner's work (names, merges, splits,
"not this person", irrelevant marks), after a re-scan too, and is itself sealed in the record.

A real case: LFW photos of five people and sixteen strangers on two "devices" and a real
video, scanned with the shared SCRFD-500M + MobileFaceNet pack (fixtures of
test_people_case.py); the re-clustering runs through `homeward clusters --recluster`.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import test_people_case
from conftest import TEST_PACK
from test_people_case import LFW, PEOPLE, clusters, homeward, labelled_faces

from desktop.engine.pack_store import resolve_pack
from desktop.people.case_people import list_clusters, pack_params, recluster_case
from desktop.people.cluster import cluster_all
from desktop.people.params import is_good
from desktop.scan.case import Case
from desktop.storage.record import verify_case

devices = test_people_case.devices  # the same real case, built once for this module
case_of_both = test_people_case.case_of_both


def recluster(case: Path) -> list[dict]:
    done = homeward("clusters", "--case", str(case), "--recluster", "--examiner", "J. Doe",
                    "--format", "json")
    assert done.returncode == 0, done.stderr
    assert "re-clustered" in done.stderr
    return json.loads(done.stdout)


def where(found: list[dict]) -> dict[int, int]:
    return {f["face_id"]: c["cluster_id"] for c in found for f in c["faces"]}


def rows(case: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(case / "case.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def op(case: Path, *args: str) -> None:
    done = homeward("cluster", *args, "--case", str(case), "--examiner", "J. Doe")
    assert done.returncode == 0, done.stderr


@dataclasses.dataclass
class Work:
    """The examiner's decisions, as the tests check them after a re-clustering."""

    named: int  # PEOPLE[0]'s cluster, named, with PEOPLE[1]'s merged into it
    merged: int  # PEOPLE[1]'s cluster, empty since the merge
    named_faces: set[int]  # what the named cluster held after the merge
    split_off: int  # a face of PEOPLE[2] split into a cluster of its own
    not_this: int  # another face of PEOPLE[2]: "not this person"
    irrelevant: int  # PEOPLE[2]'s cluster, marked irrelevant
    irrelevant_faces: set[int]


def do_the_work(case: Path) -> Work:
    """Decisions that the clustering alone would undo: two different people merged into one,
    two faces of one person taken out of his cluster."""
    found = clusters(case)
    labelled = labelled_faces(found)
    of = {p: next(c for c in found if any(labelled.get(f["face_id"]) == p for f in c["faces"]))
          for p in PEOPLE[:3]}
    a, b, c = (of[p]["cluster_id"] for p in PEOPLE[:3])
    faces_c = [f["face_id"] for f in of[PEOPLE[2]]["faces"]]
    op(case, "name", "--cluster", str(a), "--name", "Unknown man, red jacket")
    op(case, "merge", "--cluster", str(a), "--from", str(b))
    op(case, "split", "--cluster", str(c), "--face", str(faces_c[0]))
    op(case, "not-this", "--cluster", str(c), "--face", str(faces_c[1]))
    op(case, "irrelevant", "--cluster", str(c))
    now = where(clusters(case))
    return Work(a, b, {f for f, cid in now.items() if cid == a}, faces_c[0], faces_c[1], c,
                {f for f, cid in now.items() if cid == c})


def check_kept(case: Path, work: Work, found: list[dict]) -> None:
    placed = where(found)
    faces = [f["face_id"] for c in found for f in c["faces"]]
    assert sorted(faces) == [r[0] for r in rows(case, "SELECT id FROM faces ORDER BY id")]
    assert all(c["faces"] for c in found) and work.merged not in {c["cluster_id"] for c in found}
    named = next(c for c in found if c["cluster_id"] == work.named)
    assert named["name"] == "Unknown man, red jacket"
    assert work.named_faces <= {f["face_id"] for f in named["faces"]}  # merged faces together
    assert {placed[f] for f in work.irrelevant_faces} == {work.irrelevant}
    assert found[-1]["cluster_id"] == work.irrelevant and found[-1]["irrelevant"]
    assert len({placed[work.split_off], placed[work.not_this], work.irrelevant}) == 3
    done = homeward("audit", "verify", "--case", str(case))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_examiners_work_survives_a_full_reclustering(case_of_both, tmp_path):
    work_folder = tmp_path / "work"
    shutil.copytree(case_of_both, work_folder)
    work = do_the_work(work_folder)
    ops = rows(work_folder, "SELECT * FROM cluster_ops ORDER BY id")
    check_kept(work_folder, work, recluster(work_folder))
    assert rows(work_folder, "SELECT * FROM cluster_ops ORDER BY id") == ops  # append-only
    (payload,) = rows(work_folder, "SELECT payload FROM audit WHERE action = 'people re-clustered'")
    counts = json.loads(payload[0])
    assert counts["items"] > 0 and counts["clusters_kept"] >= 3  # named, split off, irrelevant
    assert {"faces_moved", "clusters_created", "clusters_emptied"} <= set(counts)


def test_a_rescan_that_adds_photos_then_a_reclustering_keeps_the_work(case_of_both, devices,
                                                                     tmp_path):
    work_folder = tmp_path / "work"
    shutil.copytree(case_of_both, work_folder)
    work = do_the_work(work_folder)
    ops = rows(work_folder, "SELECT * FROM cluster_ops ORDER BY id")
    extra = {person: devices / "source" / f"late_{person}.jpg" for person in (PEOPLE[0], PEOPLE[3])}
    for person, target in extra.items():
        shutil.copyfile(sorted((LFW / person).glob("*.jpg"))[-1], target)
    try:
        done = homeward("scan", str(devices / "source"), "--case", str(work_folder), "--pack",
                        TEST_PACK, "--workers", "1", "--quiet")
        assert done.returncode == 0, done.stderr
    finally:
        for photo in extra.values():
            photo.unlink()
    found = recluster(work_folder)
    check_kept(work_folder, work, found)
    placed, labelled = where(found), labelled_faces(found)
    late = {f["path"]: placed[f["face_id"]] for c in found for f in c["faces"]
            if f["path"].startswith("late_")}
    assert late[f"late_{PEOPLE[0]}.jpg"] == work.named
    assert late[f"late_{PEOPLE[3]}.jpg"] == next(placed[f] for f, who in labelled.items()
                                                  if who == PEOPLE[3])  # a person nobody acted on
    assert rows(work_folder, "SELECT * FROM cluster_ops ORDER BY id") == ops


def test_not_this_person_on_one_video_frame_survives_a_reclustering(case_of_both, tmp_path):
    """A frame the examiner took out of its video track's cluster stays out: re-clustering
    must not treat the track as one indivisible item again."""
    work_folder = tmp_path / "work"
    shutil.copytree(case_of_both, work_folder)
    video = next(c for c in clusters(work_folder) if any(f["path"] == "clip.mp4" for f in c["faces"]))
    best = {r[0] for r in rows(work_folder, "SELECT best_face_id FROM tracks")}
    frame = next(f["face_id"] for f in video["faces"] if f["face_id"] not in best)
    op(work_folder, "not-this", "--cluster", str(video["cluster_id"]), "--face", str(frame))
    placed = where(recluster(work_folder))
    assert placed[frame] != video["cluster_id"]
    assert {placed[f["face_id"]] for f in video["faces"] if f["face_id"] != frame} == {
        video["cluster_id"]}


def partition(labels: dict[int, int]) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for face, label in labels.items():
        groups.setdefault(label, set()).add(face)
    return {frozenset(g) for g in groups.values()}


def listed_now(case: Case) -> dict[int, int]:
    return where([dataclasses.asdict(c) for c in list_clusters(case.db)])


def batch_partition(case: Case, params) -> set[frozenset[int]]:
    """cluster_all on the case's items, read straight from case.db: a photo face alone, a
    video track by its template with all its faces."""
    db = case.db
    ids, vectors, good, members = [], [], [], {}
    for r in db.query("SELECT id, quality, embedding FROM faces WHERE track_id IS NULL"):
        ids.append(r["id"])
        vectors.append(np.frombuffer(r["embedding"], np.float32))
        good.append(is_good(json.loads(r["quality"])))
        members[r["id"]] = [r["id"]]
    for r in db.query("SELECT id, best_face_id, embedding FROM tracks"):
        ids.append(r["best_face_id"])
        vectors.append(np.frombuffer(r["embedding"], np.float32))
        good.append(True)
        members[r["best_face_id"]] = [x["id"] for x in db.query(
            "SELECT id FROM faces WHERE track_id = ?", [r["id"]])]
    labels = cluster_all(np.array(ids), np.stack(vectors), np.array(good), params)
    return partition({f: int(label) for item, label in zip(ids, labels, strict=True)
                      for f in members[item]})


def test_reclustering_without_operations_is_the_batch_partition(case_of_both, tmp_path):
    """With nothing decided by an examiner, a re-clustering is `cluster_all` on every item;
    under unchanged parameters it moves nothing and keeps every id."""
    work_folder = tmp_path / "work"
    shutil.copytree(case_of_both, work_folder)
    case = Case.open(work_folder)
    try:
        params = pack_params(resolve_pack(case.info.pack_id))
        before = listed_now(case)
        strict = dataclasses.replace(params, link=params.link + 0.3)  # other parameters
        assert partition(before) != batch_partition(case, strict)  # so the test can fail
        split = recluster_case(case.db, strict, "J. Doe")
        assert partition(listed_now(case)) == batch_partition(case, strict)
        assert split.faces_moved > 0 and split.clusters_created > 0
        back = recluster_case(case.db, params, "J. Doe")
        after = listed_now(case)
        assert partition(after) == batch_partition(case, params)
        assert back.faces_moved > 0 and back.clusters_emptied > 0
        listed = list_clusters(case.db)
        assert all(c.faces for c in listed)  # emptied clusters keep their rows, are not listed
        assert len(listed) < next(case.db.query("SELECT COUNT(*) AS n FROM clusters"))["n"]
        again = recluster_case(case.db, params, "J. Doe")
        assert (again.faces_moved, again.clusters_created, again.clusters_emptied) == (0, 0, 0)
        assert listed_now(case) == after
        assert verify_case(case.db).ok
    finally:
        case.close()


def test_a_low_quality_face_seen_first_does_not_seed_the_cluster_of_a_later_face(tmp_path,
                                                                                  test_pack):
    """Issue 13 fault: the scan's incremental clustering treated every face already clustered
    as reliable, so a tiny face seen first drew a later sharp face into its cluster (and a
    second device differed from clustering everything at once in 1.3-2.0% of the labelled
    faces with the shared pack, not the 0.36% the benchmark measures). A tiny face never
    seeds a cluster; a re-clustering attaches it to the sharp face's cluster."""
    from PIL import Image

    source = tmp_path / "source"
    source.mkdir()
    photos = sorted((LFW / "Ben_Affleck").glob("*.jpg"))
    Image.open(photos[0]).resize((100, 100)).save(source / "tiny.jpg")  # a face < 40 px
    strangers = [d for d in sorted(LFW.iterdir()) if len(list(d.glob("*.jpg"))) == 1][:4]
    for folder in strangers:
        shutil.copyfile(next(folder.glob("*.jpg")), source / f"{folder.name}.jpg")
    case = tmp_path / "case"
    for added in (None, photos[2]):
        if added is not None:
            shutil.copyfile(added, source / "sharp.jpg")
        done = homeward("scan", str(source), "--case", str(case), "--pack", TEST_PACK,
                        "--workers", "1", "--quiet")
        assert done.returncode == 0, done.stderr

    def tiny_and_sharp(found: list[dict]) -> tuple[int, int]:
        faces = sorted(((x2 - x1) * (y2 - y1), f["path"], c["cluster_id"]) for c in found
                       for f in c["faces"] for x1, y1, x2, y2 in [f["box"]])
        largest = {path: cluster for _, path, cluster in faces}  # Ben, not a bystander
        return largest["tiny.jpg"], largest["sharp.jpg"]

    tiny, sharp = tiny_and_sharp(clusters(case))
    assert tiny != sharp
    quality = rows(case, "SELECT x.quality FROM faces x JOIN files f ON f.content_id = x.content_id "
                         "WHERE f.rel_path = 'tiny.jpg'")
    assert ["small" in json.loads(q)["flags"] for (q,) in quality] == [True]
    assert len(set(tiny_and_sharp(recluster(case)))) == 1
