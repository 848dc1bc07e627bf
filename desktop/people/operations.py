"""The examiner's work on clusters: name, merge, split, "not this person", irrelevant, and
adding a cluster to the gallery as a new person.

Each operation is a row of `cluster_ops` (append-only) and moves faces between clusters in
the same sealed transaction; merges and separations are also kept as must-link and
cannot-link pairs of face ids, which every later assignment respects (`constraints_of`), so
the examiner's decisions outlive re-scans.
"""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import sqlite_utils

from desktop.engine.geometry import box_iou
from desktop.errors import HomewardError
from desktop.gallery.enrol import faces_left_to_right
from desktop.gallery.fields import PersonFields
from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import Analyze, PackInfo, add_photos
from desktop.people.params import is_good
from desktop.storage.database import utc_now
from desktop.storage.record import Seal, sealed

MAX_NAME = 200


class InvalidClusterOperation(HomewardError):
    """An operation on clusters cannot be done as asked (unknown cluster or face, no name)."""


def _text(value: str, what: str) -> str:
    text = unicodedata.normalize("NFC", (value or "").strip())
    if not text:
        raise InvalidClusterOperation(f"A {what} cannot be empty.")
    if len(text) > MAX_NAME or any(unicodedata.category(c) == "Cc" for c in text):
        raise InvalidClusterOperation(f"A {what} is plain text of at most {MAX_NAME} characters.")
    return text


def _members(db: sqlite_utils.Database, cluster_id: int) -> list[int]:
    if next(db.query("SELECT 1 AS x FROM clusters WHERE id = ?", [cluster_id]), None) is None:
        raise InvalidClusterOperation(f"No cluster {cluster_id} in this case.")
    return [r["face_id"] for r in db.query(
        "SELECT face_id FROM cluster_members WHERE cluster_id = ? ORDER BY face_id", [cluster_id])]


def _leaving(db: sqlite_utils.Database, cluster_id: int, faces: list[int],
             what: str) -> tuple[list[int], list[int]]:
    """(the faces that leave, the faces that stay): some of the cluster's, never all."""
    members = _members(db, cluster_id)
    leaving = sorted(set(faces))
    if not leaving or set(leaving) - set(members):
        raise InvalidClusterOperation(f"{what} needs faces of cluster {cluster_id}.")
    rest = [f for f in members if f not in leaving]
    if not rest:
        raise InvalidClusterOperation("Every face would leave the cluster: mark it irrelevant "
                                      "instead.")
    return leaving, rest


def _record(db: sqlite_utils.Database, seal: Seal, op: str, cluster_id: int | None,
            args: dict, examiner: str) -> int:
    cursor = db.execute("INSERT INTO cluster_ops (op, cluster_id, args, examiner, at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [op, cluster_id, json.dumps(args, ensure_ascii=False), examiner, utc_now()])
    seal.wrote("cluster_ops", [cursor.lastrowid])
    return int(cursor.lastrowid)


def _move(db: sqlite_utils.Database, seal: Seal, faces: list[int], cluster_id: int) -> None:
    db.execute(f"UPDATE cluster_members SET cluster_id = ?, assigned_at = ? WHERE face_id IN "
               f"({', '.join('?' * len(faces))})", [cluster_id, utc_now(), *faces])
    seal.wrote("cluster_members", faces)


def _new_cluster(db: sqlite_utils.Database, seal: Seal) -> int:
    cursor = db.execute("INSERT INTO clusters (created_at) VALUES (?)", [utc_now()])
    seal.wrote("clusters", [cursor.lastrowid])
    return int(cursor.lastrowid)


def name_cluster(db: sqlite_utils.Database, cluster_id: int, name: str, examiner: str) -> None:
    """Give a cluster a working name ("Unknown girl, red jacket"); the latest name counts."""
    examiner, name = _text(examiner, "examiner's name"), _text(name, "cluster name")
    _members(db, cluster_id)
    with sealed(db, examiner, "cluster named", {"cluster_id": cluster_id, "name": name}) as seal:
        _record(db, seal, "name", cluster_id, {"name": name}, examiner)


def mark_irrelevant(db: sqlite_utils.Database, cluster_id: int, examiner: str,
                    irrelevant: bool = True) -> None:
    examiner = _text(examiner, "examiner's name")
    _members(db, cluster_id)
    with sealed(db, examiner, "cluster marked", {"cluster_id": cluster_id,
                                                 "irrelevant": irrelevant}) as seal:
        _record(db, seal, "irrelevant", cluster_id, {"irrelevant": irrelevant}, examiner)


def merge_clusters(db: sqlite_utils.Database, into: int, other: int, examiner: str) -> None:
    """All faces of `other` join `into`: one person, whatever later scans find."""
    examiner = _text(examiner, "examiner's name")
    if into == other:
        raise InvalidClusterOperation("A cluster cannot be merged with itself.")
    kept, moved = _members(db, into), _members(db, other)
    if not kept or not moved:
        raise InvalidClusterOperation("Both clusters must hold faces to be merged.")
    with sealed(db, examiner, "clusters merged", {"into": into, "from": other}) as seal:
        _move(db, seal, moved, into)
        _record(db, seal, "merge", into, {"from": other, "faces": moved,
                                          "must_link": [[kept[0], face] for face in moved]},
                examiner)


def split_faces(db: sqlite_utils.Database, cluster_id: int, faces: list[int],
                examiner: str) -> int:
    """These faces of the cluster are another person, together: a new cluster; returns it."""
    examiner = _text(examiner, "examiner's name")
    faces, rest = _leaving(db, cluster_id, faces, "Split")
    with sealed(db, examiner, "cluster split", {"cluster_id": cluster_id, "faces": faces}) as seal:
        new = _new_cluster(db, seal)
        _move(db, seal, faces, new)
        _record(db, seal, "split", cluster_id, {
            "faces": faces, "new_cluster": new,
            "must_link": [[faces[0], f] for f in faces[1:]],
            "cannot_link": [[f, rest[0]] for f in faces]}, examiner)
        seal.payload["new_cluster"] = new
    return new


def not_this_person(db: sqlite_utils.Database, cluster_id: int, faces: list[int],
                    examiner: str) -> list[int]:
    """Each of these faces is not the cluster's person: each leaves it, alone; returns the
    new clusters."""
    examiner = _text(examiner, "examiner's name")
    faces, rest = _leaving(db, cluster_id, faces, "'Not this person'")
    with sealed(db, examiner, "faces removed from cluster", {"cluster_id": cluster_id,
                                                             "faces": faces}) as seal:
        created = []
        for face in faces:
            new = _new_cluster(db, seal)
            _move(db, seal, [face], new)
            created.append(new)
        _record(db, seal, "not_this", cluster_id, {
            "faces": faces, "new_clusters": created,
            "cannot_link": [[f, other] for f in faces for other in rest[:1]]}, examiner)
    return created


def _best_photo_faces(db: sqlite_utils.Database, cluster_id: int, best: int) -> list[dict]:
    """The cluster's best photo faces for reference photos: good quality first, then the
    detector's confidence times the face's area; one per file."""
    rows = list(db.query(
        "SELECT x.id, x.box, x.det_score, x.quality, x.content_id, (SELECT path_bytes FROM "
        "files f WHERE f.content_id = x.content_id ORDER BY f.id LIMIT 1) AS path_bytes "
        "FROM cluster_members m JOIN faces x ON x.id = m.face_id "
        "WHERE m.cluster_id = ? AND x.track_id IS NULL", [cluster_id]))

    def rank(row: dict) -> tuple:
        x1, y1, x2, y2 = json.loads(row["box"])
        return (is_good(json.loads(row["quality"])), row["det_score"] * (x2 - x1) * (y2 - y1))

    chosen, contents = [], set()
    for row in sorted(rows, key=rank, reverse=True):
        if row["content_id"] not in contents and row["path_bytes"] is not None:
            contents.add(row["content_id"])
            chosen.append(row)
    return chosen[:best]


def add_to_gallery(db: sqlite_utils.Database, source_root: Path, cluster_id: int,
                   gallery: Gallery, person: PersonFields, analyze: Analyze, pack: PackInfo,
                   examiner: str, best: int = 3) -> int:
    """A new gallery person from a cluster, its best photo faces as reference photos (the
    gallery keeps its own copies): from then on matched in every scan like any missing
    person. Returns the person's id."""
    examiner = _text(examiner, "examiner's name")
    _members(db, cluster_id)
    chosen = _best_photo_faces(db, cluster_id, best)
    if not chosen:
        raise InvalidClusterOperation(f"Cluster {cluster_id} has no face in a photo (video "
                                      "frames are not reference photos).")
    photos = []
    for row in chosen:
        path = Path(os.fsdecode(os.path.join(os.fsencode(source_root), row["path_bytes"])))
        result = next(iter(analyze([path])))
        faces = faces_left_to_right(result.faces)
        overlaps = [box_iou(f.detection.box, json.loads(row["box"])) for f in faces]
        if not overlaps or max(overlaps) < 0.5:
            raise InvalidClusterOperation(f"{path} no longer shows face {row['id']} where the "
                                          "scan found it (was the evidence changed?).")
        photos.append((path, overlaps.index(max(overlaps)) + 1))
    report = add_photos(gallery, photos, analyze, pack, examiner, person=person)
    if not report.persons_created:
        reasons = "; ".join(f"{p.where}: {p.reason}" for p in report.problems)
        raise InvalidClusterOperation("The cluster could not be added to the gallery.", reasons)
    person_id = report.persons_created[0]
    with sealed(db, examiner, "cluster added to gallery", {
            "cluster_id": cluster_id, "gallery_id": gallery.identity, "person_id": person_id,
            "faces": [r["id"] for r in chosen]}) as seal:
        _record(db, seal, "to_gallery", cluster_id, {
            "gallery_id": gallery.identity, "gallery": str(gallery.path),
            "person_id": person_id, "name": person.name, "faces": [r["id"] for r in chosen]},
            examiner)
    return person_id
