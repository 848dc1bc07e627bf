"""The review queue: every hit with its current verdict, pending ones first, best first."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from desktop.match.hits import CURRENT_HITS, list_hits
from desktop.review.calibrated import case_calibration
from desktop.review.decisions import Decision, current_verdicts
from desktop.review.duplicates import near_duplicates

PENDING = "pending"


def review_items(db: sqlite_utils.Database, *, status: str | None = None,
                 person_id: int | None = None, min_score: float | None = None) -> list[dict]:
    """Hits with `status` (pending, confirm, reject, unsure) and who decided, filtered."""
    verdicts = current_verdicts(db)
    hits = list_hits(db)
    calibration = case_calibration(db)
    by_face: dict[int, list[dict]] = {}
    for hit in hits:
        by_face.setdefault(hit["face_id"], []).append(hit)
    for hit in hits:
        # What else this face resembles: a reviewer weighs a hit against its rivals.
        hit["other_candidates"] = sorted(
            ({"hit_id": o["hit_id"], "person_id": o["person_id"], "person_name": o["person_name"],
              "score": o["score"], "rank": o["rank"]}
             for o in by_face[hit["face_id"]] if o["hit_id"] != hit["hit_id"]),
            key=lambda o: o["rank"])
        with_decision(hit, verdicts.get(hit["hit_id"]))
        # Readable across packs: the calibration's false-match rate bound at this score.
        hit["fmr_estimate"] = (calibration.estimate(hit["score"], hit["pack_id"])
                               if calibration else None)
    # A confirmed image's resized or recompressed copies, named beside it.
    copies = near_duplicates(db, {h["content_id"] for h in hits if h["status"] == "confirm"})
    for hit in hits:
        hit["near_duplicates"] = copies.get(hit["content_id"], []) if hit["status"] == "confirm" else []
    items = filter_items(hits, status=status, person_id=person_id, min_score=min_score)
    # Pending first, known victim material (a hash set's priority category) first among them.
    items.sort(key=lambda h: (h["status"] != PENDING, not h["priority"], -h["score"], h["hit_id"]))
    return items


def with_decision(item: dict, decision: Decision | None) -> dict:
    """The item's status fields set from its current decision (None: pending). The desktop
    app uses it to update one row after a decision without re-reading the whole queue."""
    item["status"] = decision.verdict if decision else PENDING
    item["reviewer"] = decision.reviewer if decision else None
    item["decided_at"] = decision.decided_at if decision else None
    item["note"] = decision.note if decision else None
    return item


def filter_items(items: list[dict], *, status: str | None = None, person_id: int | None = None,
                 min_score: float | None = None) -> list[dict]:
    """The items passing every given filter, in their order (None: no filter on that field).
    The desktop app filters a loaded queue with it instead of reading the case again."""
    return [h for h in items
            if (status is None or h["status"] == status)
            and (person_id is None or h["person_id"] == person_id)
            and (min_score is None or h["score"] >= min_score)]


@dataclass(frozen=True)
class FaceGroup:
    """One probe face and its candidate hits in the queue, best rank first: what the review
    grid shows as one tile ("3 candidates") and the face-centred view lists."""

    face_id: int
    hits: list[dict]

    @property
    def lead(self) -> dict:
        """The hit a tile stands for: the first in queue order (pending first, best first)."""
        return self.hits[0]

    def ranked(self) -> list[dict]:
        return sorted(self.hits, key=lambda h: (h["rank"], -h["score"], h["hit_id"]))


def group_by_face(items: list[dict]) -> list[FaceGroup]:
    """The items' faces, in the order of each face's first item; each face's items in order."""
    groups: dict[int, list[dict]] = {}
    for item in items:
        groups.setdefault(item["face_id"], []).append(item)
    return [FaceGroup(face_id, hits) for face_id, hits in groups.items()]


def hits_of_track(db: sqlite_utils.Database, hit_id: int) -> list[int]:
    """All hits of the same track and person as this one (for a bulk decision)."""
    row = next(iter(db.query("SELECT track_id, person_id FROM hits WHERE id = ?", [hit_id])), None)
    if row is None or row["track_id"] is None:
        return [hit_id]
    return [r["id"] for r in db.query(
        f"SELECT id FROM hits h WHERE track_id = ? AND person_id = ? AND {CURRENT_HITS}",
        [row["track_id"], row["person_id"]])]


def hits_of_person(db: sqlite_utils.Database, person_id: int) -> list[int]:
    return [r["id"] for r in db.query(
        f"SELECT id FROM hits h WHERE person_id = ? AND {CURRENT_HITS} ORDER BY id", [person_id])]
