"""The people of one case, in its case.db: clusters kept as faces arrive, listed, searched.

A photo's face is one item; a video track is one item (its template), and all its faces
follow it into one cluster. Items already in a cluster keep it: new ones are attached to
existing clusters or form new ones (`assign_new`), so what an examiner has seen is never
reshuffled. Each assignment is a sealed write of the case record. A full re-clustering
(`recluster_case`) is the examiner's to ask for; it keeps every cluster they have acted on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np
import sqlite_utils

from desktop.engine.pack_store import InstalledPack
from desktop.people.cluster import Constraints, assign_new, cluster_all
from desktop.people.params import ClusterParams, is_good, params_for
from desktop.people.search import FaceIndex
from desktop.storage.database import utc_now
from desktop.storage.record import sealed


@dataclass(frozen=True)
class ClusterFace:
    face_id: int
    path: str | None  # the first path of its file, relative to the source root
    frame: int | None
    box: list[float]


@dataclass(frozen=True)
class Cluster:
    cluster_id: int | None  # None: a face not clustered yet (its scan did not finish)
    name: str | None  # the examiner's working name, latest first
    faces: list[ClusterFace]
    irrelevant: bool = False  # marked by the examiner (still listed, last)


@dataclass(frozen=True)
class SearchHit:
    face_id: int
    path: str | None
    frame: int | None
    box: list[float]
    score: float


@dataclass(frozen=True)
class ReclusterSummary:
    """What a full re-clustering changed (also the payload of its sealed write)."""

    items: int  # photo faces and video tracks clustered again
    faces_moved: int  # faces now in another cluster than before
    faces_placed: int  # faces that had no cluster yet (their scan stopped before clustering)
    clusters_kept: int  # clusters that held faces before and still do, under their ids
    clusters_created: int
    clusters_emptied: int  # clusters left without faces: their rows stay (operations name them)


@dataclass(frozen=True)
class _Items:
    """What the clustering sees: one row per photo face or video track."""

    ids: np.ndarray  # the item's face id (a track's best face)
    vectors: np.ndarray
    good: np.ndarray
    members: dict[int, list[int]]  # item face id -> every face id it stands for


def pack_params(pack: InstalledPack) -> ClusterParams:
    """The clustering and search thresholds of this pack's embedding space."""
    return params_for(pack.id, pack.manifest.recognizer.family)


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


def _items(db: sqlite_utils.Database) -> _Items:
    """Every item of the case: photo faces one by one, each video track once."""
    ids, vectors, good, members = [], [], [], {}
    for row in db.query("SELECT id, quality, embedding FROM faces WHERE track_id IS NULL "
                        "ORDER BY id"):
        ids.append(row["id"])
        vectors.append(_vector(row["embedding"]))
        good.append(is_good(json.loads(row["quality"])))
        members[row["id"]] = [row["id"]]
    track_faces: dict[int, list[int]] = defaultdict(list)
    for row in db.query("SELECT id, track_id FROM faces WHERE track_id IS NOT NULL ORDER BY id"):
        track_faces[row["track_id"]].append(row["id"])
    for row in db.query("SELECT id, best_face_id, embedding FROM tracks ORDER BY id"):
        ids.append(row["best_face_id"])
        vectors.append(_vector(row["embedding"]))
        good.append(True)  # a track's template is the mean of its best faces
        members[row["best_face_id"]] = track_faces[row["id"]]
    dim = len(vectors[0]) if vectors else 0
    return _Items(np.array(ids, np.int64), np.stack(vectors) if vectors else np.zeros((0, dim)),
                  np.array(good, bool), members)


def constraints_of(db: sqlite_utils.Database, placed: dict[int, int]) -> Constraints:
    """The examiner's decisions on clusters, as must-link / cannot-link pairs of face ids.
    A later operation can undo an earlier one (split what was merged): only the pairs the
    current clusters still honour are kept, so the latest decision is the one that holds."""
    must, cannot = set(), set()
    for row in db.query("SELECT op, args FROM cluster_ops ORDER BY id"):
        args = json.loads(row["args"])
        for a, b in args.get("must_link", []):
            if placed.get(a) is not None and placed.get(a) == placed.get(b):
                must.add((a, b))
        for a, b in args.get("cannot_link", []):
            if placed.get(a) != placed.get(b):
                cannot.add((a, b))
    return Constraints(must_link=frozenset(must), cannot_link=frozenset(cannot))


def cluster_case(db: sqlite_utils.Database, params: ClusterParams, actor: str) -> int:
    """Give every face not in a cluster yet its cluster; returns how many items were placed."""
    if not db.execute("SELECT EXISTS (SELECT 1 FROM faces WHERE id NOT IN "
                      "(SELECT face_id FROM cluster_members))").fetchone()[0]:
        return 0  # a re-scan with nothing new reads no embedding
    items = _items(db)
    placed = {r["face_id"]: r["cluster_id"] for r in db.query(
        "SELECT face_id, cluster_id FROM cluster_members")}
    keep = np.array([int(i) in placed for i in items.ids], bool)
    new_ids, new_vectors, new_good = items.ids[~keep], items.vectors[~keep], items.good[~keep]
    next_label = int(next(db.query("SELECT IFNULL(MAX(id), 0) + 1 AS n FROM clusters"))["n"])
    constraints = constraints_of(db, placed)
    if keep.any():
        labels = assign_new(items.ids[keep], items.vectors[keep],
                            np.array([placed[int(i)] for i in items.ids[keep]], np.int64),
                            new_ids, new_vectors, new_good, params, constraints,
                            next_label=next_label, known_good=items.good[keep])
    else:
        labels = cluster_all(new_ids, new_vectors, new_good, params, constraints) + next_label
    now = utc_now()
    with sealed(db, actor, "people clustered", {"items": len(new_ids)}) as seal:
        fresh = sorted({int(label) for label in labels if label >= next_label})
        for label in fresh:
            db.execute("INSERT INTO clusters (id, created_at) VALUES (?, ?)", [label, now])
        faces = []
        for item, label in zip(new_ids, labels, strict=True):
            for face_id in items.members[int(item)]:
                db.execute("INSERT INTO cluster_members (face_id, cluster_id, assigned_at) "
                           "VALUES (?, ?, ?)", [face_id, int(label), now])
                faces.append(face_id)
        seal.wrote("clusters", fresh)
        seal.wrote("cluster_members", faces)
        seal.payload.update({"new_clusters": len(fresh), "faces": len(faces)})
    return len(new_ids)


def _acted_on(db: sqlite_utils.Database) -> set[int]:
    """The clusters an examiner's operation names as a person: named, merged into, split (both
    the cluster and the new one), a face taken out of ("not this person": the cluster only,
    the face left alone is not a person anyone has decided on), marked irrelevant or relevant,
    added to the gallery; and every cluster a reviewer decided a cross-case link of (the
    decision names the cluster: regrouping it would attach the decision to other faces)."""
    acted = set()
    for row in db.query("SELECT cluster_id, args FROM cluster_ops"):
        acted.update({row["cluster_id"], json.loads(row["args"]).get("new_cluster")})
    acted.update(r["cluster_id"] for r in db.query("SELECT DISTINCT cluster_id FROM link_decisions"))
    return acted - {None}


def _as_placed(db: sqlite_utils.Database, items: _Items, placed: dict[int, int]) -> _Items:
    """The items as the examiner left them: a video track whose faces they put in several
    clusters (some frames split off, or "not this person") is one item per cluster; the part
    holding the track's best face keeps the track's template, another is the mean of its faces."""
    ids, vectors, good = list(items.ids), list(items.vectors), list(items.good)
    members = dict(items.members)
    for item, faces in items.members.items():
        parts: dict[int | None, list[int]] = defaultdict(list)
        for face in faces:
            parts[placed.get(face)].append(face)
        for part in parts.values() if len(parts) > 1 else ():
            if item in part:
                members[item] = part
                continue
            rows = list(db.query(f"SELECT embedding, quality FROM faces WHERE id IN "
                                 f"({', '.join('?' * len(part))})", part))
            ids.append(part[0])
            vectors.append(np.mean([_vector(r["embedding"]) for r in rows], axis=0))
            good.append(any(is_good(json.loads(r["quality"])) for r in rows))
            members[part[0]] = part
    return _Items(np.array(ids, np.int64), np.stack(vectors) if vectors else items.vectors,
                  np.array(good, bool), members)


def _on_items(constraints: Constraints, items: _Items) -> Constraints:
    """Face-id pairs as pairs of the items that hold the faces (a video frame: its track)."""
    item_of = {face: item for item, faces in items.members.items() for face in faces}

    def mapped(pairs: frozenset[tuple[int, int]]) -> frozenset[tuple[int, int]]:
        return frozenset((item_of[a], item_of[b]) for a, b in pairs if a in item_of and b in item_of)

    return Constraints(mapped(constraints.must_link), mapped(constraints.cannot_link))


def _matched(faces_of: dict[int, set[int]], placed: dict[int, int], free: set[int]) -> dict[int, int]:
    """New cluster -> old cluster id, one to one, largest overlap (in faces) first; only old
    ids in `free`. Ties go to the older cluster, so the same input gives the same ids."""
    overlap: dict[tuple[int, int], int] = defaultdict(int)
    for label, faces in faces_of.items():
        for face in faces:
            if placed.get(face) in free:
                overlap[label, placed[face]] += 1
    chosen: dict[int, int] = {}
    taken: set[int] = set()
    for (label, old), _ in sorted(overlap.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0])):
        if label not in chosen and old not in taken:
            chosen[label] = old
            taken.add(old)
    return chosen


def recluster_case(db: sqlite_utils.Database, params: ClusterParams, actor: str) -> ReclusterSummary:
    """Cluster every item of the case again from scratch (`cluster_all`), keeping the
    examiner's work; one sealed write ("people re-clustered").

    What survives, precisely:
    - every cluster an operation names as a person (`_acted_on`: named, merged into, split and
      split off, a face taken out of, marked irrelevant, added to the gallery) keeps every face
      it holds now, as the examiner sees it, and its id: it is kept whole, apart from every
      other such cluster (as incremental clustering keeps it); other faces may still join it.
      So merged faces stay together, the faces left after a split or "not this person" stay
      together, and names, irrelevant marks and gallery records still apply.
    - the must-link and cannot-link pairs of every operation (`constraints_of`, the latest
      decision holding): what a split or "not this person" took out stays apart from what it
      left, also for a face left alone, which may now join a person nobody has acted on.
    - every other cluster may be regrouped; a new cluster takes the id of the untouched old
      cluster it overlaps most (one to one, largest overlap first), others get new ids. An old
      cluster left without faces keeps its row and is no longer listed.
    """
    placed = {r["face_id"]: r["cluster_id"] for r in db.query(
        "SELECT face_id, cluster_id FROM cluster_members")}
    items = _as_placed(db, _items(db), placed)
    acted = _acted_on(db)
    kept = np.array([placed.get(int(i), -1) if placed.get(int(i)) in acted else -1
                     for i in items.ids], np.int64)
    labels = cluster_all(items.ids, items.vectors, items.good, params,
                         _on_items(constraints_of(db, placed), items), kept=kept)
    faces_of: dict[int, set[int]] = defaultdict(set)
    id_of: dict[int, int] = {}
    for item, label, group in zip(items.ids, labels, kept, strict=True):
        faces_of[int(label)].update(items.members[int(item)])
        if group >= 0:  # the examiner's cluster: whole in this new one, and alone in it
            id_of[int(label)] = int(group)
    free = set(placed.values()) - acted
    id_of.update(_matched({k: v for k, v in faces_of.items() if k not in id_of}, placed, free))
    next_id = int(next(db.query("SELECT IFNULL(MAX(id), 0) + 1 AS n FROM clusters"))["n"])
    fresh = {label: next_id + n for n, label in enumerate(sorted(set(faces_of) - set(id_of)))}
    id_of.update(fresh)
    target = {face: id_of[label] for label, faces in faces_of.items() for face in faces}
    moved = sorted(f for f, c in target.items() if f in placed and placed[f] != c)
    new = sorted(f for f in target if f not in placed)
    before, after = set(placed.values()), set(target.values())
    summary = ReclusterSummary(items=len(items.ids), faces_moved=len(moved), faces_placed=len(new),
                               clusters_kept=len(before & after), clusters_created=len(fresh),
                               clusters_emptied=len(before - after))
    now = utc_now()
    with sealed(db, actor, "people re-clustered", asdict(summary)) as seal:
        db.conn.executemany("INSERT INTO clusters (id, created_at) VALUES (?, ?)",
                            [(cid, now) for cid in fresh.values()])
        db.conn.executemany("UPDATE cluster_members SET cluster_id = ?, assigned_at = ? "
                            "WHERE face_id = ?", [(target[f], now, f) for f in moved])
        db.conn.executemany("INSERT INTO cluster_members (face_id, cluster_id, assigned_at) "
                            "VALUES (?, ?, ?)", [(f, target[f], now) for f in new])
        seal.wrote("clusters", fresh.values())
        seal.wrote("cluster_members", moved + new)
    return summary


def _face_rows(db: sqlite_utils.Database) -> dict[int, ClusterFace]:
    return {r["id"]: ClusterFace(r["id"], r["path"], r["frame_index"], json.loads(r["box"]))
            for r in db.query(
                "SELECT x.id, x.frame_index, x.box, (SELECT rel_path FROM files f WHERE "
                "f.content_id = x.content_id ORDER BY f.id LIMIT 1) AS path FROM faces x")}


def list_clusters(db: sqlite_utils.Database) -> list[Cluster]:
    """Every face in exactly one cluster, largest first (irrelevant ones last); faces not
    clustered yet alone."""
    faces = _face_rows(db)
    names, irrelevant = {}, {}
    for row in db.query("SELECT op, cluster_id, args FROM cluster_ops WHERE op IN "
                        "('name', 'irrelevant') ORDER BY id"):
        args = json.loads(row["args"])
        if row["op"] == "name":
            names[row["cluster_id"]] = args.get("name")
        else:
            irrelevant[row["cluster_id"]] = bool(args.get("irrelevant"))
    members: dict[int, list[ClusterFace]] = defaultdict(list)
    for row in db.query("SELECT face_id, cluster_id FROM cluster_members ORDER BY face_id"):
        members[row["cluster_id"]].append(faces.pop(row["face_id"]))
    clusters = [Cluster(cid, names.get(cid), found, irrelevant.get(cid, False))
                for cid, found in members.items()]
    clusters += [Cluster(None, None, [face]) for face in faces.values()]
    clusters.sort(key=lambda c: (c.irrelevant, -len(c.faces), c.cluster_id is None,
                                 c.cluster_id or 0, c.faces[0].face_id))
    return clusters


def face_vector(db: sqlite_utils.Database, face_id: int) -> np.ndarray | None:
    row = next(db.query("SELECT embedding FROM faces WHERE id = ?", [face_id]), None)
    return None if row is None else _vector(row["embedding"])


def search_faces(db: sqlite_utils.Database, query: np.ndarray, threshold: float,
                 limit: int | None = None) -> list[SearchHit]:
    """Every face of the case at or above `threshold` to the query face, best first."""
    rows = list(db.query("SELECT id, embedding FROM faces ORDER BY id"))
    if not rows:
        return []
    index = FaceIndex(np.array([r["id"] for r in rows], np.int64),
                      np.stack([_vector(r["embedding"]) for r in rows]))
    found = index.search(np.asarray(query, np.float32), threshold, limit)
    faces = _face_rows(db)
    return [SearchHit(face_id, faces[face_id].path, faces[face_id].frame, faces[face_id].box,
                      round(float(score), 6)) for face_id, score in found]
