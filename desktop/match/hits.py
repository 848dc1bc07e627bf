"""Turning a case's faces and video tracks into candidate hits against the gallery.

A photo face is matched by its own embedding; a video track by its template (the mean of its
best faces), so one person in a long clip is one candidate, shown by its best frame. Hits
are only ever added (INSERT OR IGNORE on face x person): a re-scan keeps every existing hit
and whatever was decided about it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import sqlite_utils

from desktop.errors import HomewardError
from desktop.gallery.gallery import Gallery
from desktop.match.persons import rank_persons
from desktop.storage.database import utc_now
from desktop.storage.record import sealed

SAME_PERSON_TWICE = "same_person_twice_in_image"

# The hits that count now: matched against the gallery the case is bound to, at or above its
# threshold. Others (a former gallery's, or below a raised threshold) stay in the record with
# their decisions, outside the queue and the reports.
CURRENT_HITS = ("h.gallery_id IS (SELECT json_extract(value, '$') FROM case_info "
                "WHERE key = 'gallery_id') AND h.score >= (SELECT CAST(value AS REAL) "
                "FROM case_info WHERE key = 'match_threshold')")


@dataclass(frozen=True)
class GalleryMatrix:
    """A gallery's embeddings of one pack, with the names to show."""

    person_ids: np.ndarray
    vectors: np.ndarray
    names: dict[int, str]
    gallery_id: str  # which gallery file these came from (its identity, not its path)


@dataclass(frozen=True)
class Probe:
    face_id: int
    track_id: int | None
    group: tuple[int, int | None]  # (content, frame): faces seen together
    span: tuple[float, float] | None  # a track's time span, for overlap between tracks


def gallery_matrix(gallery: Gallery, pack_id: str, recognizer_sha256: str) -> GalleryMatrix:
    """The gallery's embeddings of this pack; refused if made by another model file."""
    models = {r["recognizer_sha256"] for r in gallery.db.query(
        "SELECT DISTINCT recognizer_sha256 FROM embeddings WHERE pack_id = ?", [pack_id])}
    if models - {recognizer_sha256}:
        raise HomewardError(
            f"The gallery's '{pack_id}' embeddings were made with another model file.",
            "embeddings of different models are never compared; run `homeward gallery reindex`")
    person_ids, _, vectors = gallery.embeddings(pack_id)
    if not len(person_ids) and gallery.persons():
        raise HomewardError(f"The gallery has no embeddings for pack '{pack_id}'.",
                            f"run `homeward gallery reindex --pack {pack_id}` first")
    names = {p["id"]: p["name"] for p in gallery.persons()}
    return GalleryMatrix(person_ids, vectors, names, gallery.identity)


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


def load_probes(db: sqlite_utils.Database) -> tuple[list[Probe], np.ndarray]:
    probes, vectors = [], []
    for row in db.query("SELECT id, content_id, frame_index, embedding FROM faces "
                        "WHERE track_id IS NULL ORDER BY id"):
        probes.append(Probe(row["id"], None, (row["content_id"], row["frame_index"]), None))
        vectors.append(_vector(row["embedding"]))
    for row in db.query("SELECT id, content_id, best_face_id, first_s, last_s, embedding "
                        "FROM tracks ORDER BY id"):
        probes.append(Probe(row["best_face_id"], row["id"], (row["content_id"], None),
                            (row["first_s"], row["last_s"])))
        vectors.append(_vector(row["embedding"]))
    return probes, (np.stack(vectors) if vectors else np.zeros((0, 0), np.float32))


def _seen_together(a: Probe, b: Probe) -> bool:
    if a.group != b.group:
        return False
    if a.span is None or b.span is None:
        return True
    return a.span[0] <= b.span[1] and b.span[0] <= a.span[1]


def match_case(db: sqlite_utils.Database, gallery: GalleryMatrix, *, pack_id: str,
               threshold: float, scan_id: int, actor: str, top_k: int = 5) -> int:
    """Add hits for every probe above the threshold; returns how many are new."""
    probes, vectors = load_probes(db)
    if len(probes) and len(gallery.vectors) and vectors.shape[1] != gallery.vectors.shape[1]:
        raise HomewardError("The gallery's embeddings do not fit this case's model pack.",
                            f"{gallery.vectors.shape[1]}-D gallery, {vectors.shape[1]}-D case")
    candidates = [c for c in rank_persons(vectors, gallery.vectors, gallery.person_ids, top_k)
                  if c.score >= threshold]
    by_group: dict[tuple[int, int], list[int]] = defaultdict(list)
    for c in candidates:
        by_group[(c.person_id, probes[c.probe].group[0])].append(c.probe)
    added = 0
    now = utc_now()
    with sealed(db, actor, "matched", {"scan_id": scan_id, "threshold": threshold,
                                       "gallery_id": gallery.gallery_id}) as seal:
        for c in candidates:
            probe = probes[c.probe]
            twins = [o for o in by_group[(c.person_id, probe.group[0])]
                     if o != c.probe and _seen_together(probe, probes[o])]
            flags = [SAME_PERSON_TWICE] if twins else []
            cursor = db.execute(
                "INSERT OR IGNORE INTO hits (face_id, track_id, person_id, person_name, score, "
                "rank, threshold, pack_id, flags, scan_id, created_at, gallery_id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [probe.face_id, probe.track_id, c.person_id, gallery.names[c.person_id],
                 c.score, c.rank, threshold, pack_id, json.dumps(flags), scan_id, now,
                 gallery.gallery_id])
            if cursor.rowcount:
                added += 1
                seal.wrote("hits", [cursor.lastrowid])
        seal.payload["new_hits"] = added
    return added


def list_hits(db: sqlite_utils.Database) -> list[dict]:
    """Every hit with the evidence to find it again: paths, hashes, frame, time, box (in the
    pixels of an image_width x image_height picture, to place it on the scaled thumbnail)."""
    rows = list(db.query(
        "SELECT h.id AS hit_id, h.face_id, h.person_id, h.person_name, h.score, h.rank, h.threshold, "
        "h.pack_id, h.flags, h.track_id, f.frame_index AS frame, f.timestamp_s AS timestamp, "
        "f.box, f.crop, f.thumbnail, c.id AS content_id, c.sha256, c.md5, c.kind, "
        "c.width AS image_width, c.height AS image_height FROM hits h "
        "JOIN faces f ON f.id = h.face_id JOIN contents c ON c.id = f.content_id "
        f"WHERE {CURRENT_HITS} ORDER BY h.score DESC, h.id"))
    paths: dict[int, list[str]] = defaultdict(list)
    locations: dict[int, list[str]] = defaultdict(list)
    sources: dict[int, list[str]] = defaultdict(list)
    for row in db.query("SELECT f.content_id, f.rel_path, s.label FROM files f JOIN sources s "
                        "ON s.id = f.source_id WHERE f.content_id IS NOT NULL ORDER BY f.id"):
        paths[row["content_id"]].append(row["rel_path"])
        sources[row["content_id"]].append(row["label"])
        locations[row["content_id"]].append(f"{row['label']} : {row['rel_path']}")
    known: dict[int, list[dict]] = defaultdict(list)
    for row in db.query("SELECT content_id, set_name, set_version, category, label, priority "
                        "FROM known_files ORDER BY priority DESC, id"):
        known[row.pop("content_id")].append(row)
    for row in rows:
        row["box"] = json.loads(row["box"])
        row["flags"] = json.loads(row["flags"])
        content_id = row["content_id"]
        # In a known-file hash set: shown to the reviewer; known victim material first.
        row["known"] = [f"{k['set_name']} v{k['set_version']}: {k['label']}" for k in known[content_id]]
        row["known_categories"] = [k["category"] for k in known[content_id]]
        row["priority"] = any(k["priority"] for k in known[content_id])
        # `paths`: inside their sources, as a folder scan always gave them; `locations`:
        # "source label : path inside", what a case of several sources needs to be read.
        row["paths"], row["locations"] = paths[content_id], locations[content_id]
        row["path"] = row["paths"][0] if row["paths"] else None
        row["source"] = sources[content_id][0] if sources[content_id] else None
    return rows
