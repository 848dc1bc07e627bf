"""The review queue: every hit with its current verdict, pending ones first, best first."""

from __future__ import annotations

import sqlite_utils

from desktop.match.hits import list_hits
from desktop.review.decisions import current_verdicts

PENDING = "pending"


def review_items(db: sqlite_utils.Database, *, status: str | None = None,
                 person_id: int | None = None, min_score: float | None = None) -> list[dict]:
    """Hits with `status` (pending, confirm, reject, unsure) and who decided, filtered."""
    verdicts = current_verdicts(db)
    hits = list_hits(db)
    by_face: dict[int, list[dict]] = {}
    for hit in hits:
        by_face.setdefault(hit["face_id"], []).append(hit)
    items = []
    for hit in hits:
        # What else this face resembles: a reviewer weighs a hit against its rivals.
        hit["other_candidates"] = sorted(
            ({"hit_id": o["hit_id"], "person_id": o["person_id"], "person_name": o["person_name"],
              "score": o["score"], "rank": o["rank"]}
             for o in by_face[hit["face_id"]] if o["hit_id"] != hit["hit_id"]),
            key=lambda o: o["rank"])
        decision = verdicts.get(hit["hit_id"])
        hit["status"] = decision.verdict if decision else PENDING
        hit["reviewer"] = decision.reviewer if decision else None
        hit["decided_at"] = decision.decided_at if decision else None
        hit["note"] = decision.note if decision else None
        if status is not None and hit["status"] != status:
            continue
        if person_id is not None and hit["person_id"] != person_id:
            continue
        if min_score is not None and hit["score"] < min_score:
            continue
        items.append(hit)
    items.sort(key=lambda h: (h["status"] != PENDING, -h["score"], h["hit_id"]))
    return items


def hits_of_track(db: sqlite_utils.Database, hit_id: int) -> list[int]:
    """All hits of the same track and person as this one (for a bulk decision)."""
    row = next(iter(db.query("SELECT track_id, person_id FROM hits WHERE id = ?", [hit_id])), None)
    if row is None or row["track_id"] is None:
        return [hit_id]
    return [r["id"] for r in db.query("SELECT id FROM hits WHERE track_id = ? AND person_id = ?",
                                      [row["track_id"], row["person_id"]])]


def hits_of_person(db: sqlite_utils.Database, person_id: int) -> list[int]:
    return [r["id"] for r in db.query("SELECT id FROM hits WHERE person_id = ? ORDER BY id",
                                      [person_id])]
