"""Reviewers' decisions on hits: appended, never replaced; the latest one is current.

No hit is an identification until a person confirms it. A changed mind adds a new decision,
so the record shows who decided what and when, in order. Each decision is audited in the
same transaction that stores it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import sqlite_utils

from desktop.errors import HomewardError
from desktop.storage.database import utc_now
from desktop.storage.record import sealed

VERDICTS = ("confirm", "reject", "unsure")


class InvalidDecision(HomewardError):
    """A decision cannot be recorded (unknown hit or verdict, no reviewer)."""


@dataclass(frozen=True)
class Decision:
    id: int
    hit_id: int
    verdict: str
    reviewer: str
    note: str | None
    decided_at: str


def _clean(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    text = unicodedata.normalize("NFC", text.strip())
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise InvalidDecision("The note or reviewer name contains control characters.")
    return text


def decide(db: sqlite_utils.Database, hit_ids: list[int], verdict: str, reviewer: str,
           note: str | None = None) -> list[int]:
    """Record one verdict on one or more hits (a track's or a person's, in bulk)."""
    if verdict not in VERDICTS:
        raise InvalidDecision(f"The decision must be one of {', '.join(VERDICTS)}, not {verdict!r}.")
    reviewer_name = _clean(reviewer)
    if reviewer_name is None:
        raise InvalidDecision("A decision needs the reviewer's name.")
    note = _clean(note)
    known = {r["id"] for r in db.query(
        f"SELECT id FROM hits WHERE id IN ({', '.join('?' * len(hit_ids))})", hit_ids)}
    missing = sorted(set(hit_ids) - known)
    if missing or not hit_ids:
        raise InvalidDecision(f"No hit {', '.join(map(str, missing)) or '(none given)'} in this case.")
    ids = []
    now = utc_now()
    with sealed(db, reviewer_name, "decision",
                {"hit_ids": hit_ids, "verdict": verdict, "note": note}) as seal:
        for hit_id in hit_ids:
            cursor = db.execute(
                "INSERT INTO decisions (hit_id, verdict, reviewer, note, decided_at) "
                "VALUES (?,?,?,?,?)", [hit_id, verdict, reviewer_name, note, now])
            ids.append(int(cursor.lastrowid))
        seal.payload["decision_ids"] = ids
        seal.wrote("decisions", ids)
    return ids


def history(db: sqlite_utils.Database, hit_id: int) -> list[Decision]:
    return [Decision(**r) for r in db.query(
        "SELECT * FROM decisions WHERE hit_id = ? ORDER BY id", [hit_id])]


def current_verdicts(db: sqlite_utils.Database) -> dict[int, Decision]:
    """The latest decision of every decided hit."""
    return {r["hit_id"]: Decision(**r) for r in db.query(
        "SELECT d.* FROM decisions d JOIN (SELECT hit_id, MAX(id) AS id FROM decisions "
        "GROUP BY hit_id) latest ON latest.id = d.id")}
