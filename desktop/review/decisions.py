"""Reviewers' decisions on hits: appended, never replaced; the latest one is current.

No hit is an identification until a person confirms it. A changed mind adds a new decision,
so the record shows who decided what and when, in order. Each decision is audited in the
same transaction that stores it.

An undo withdraws decisions without touching them: the audit row of the action 'undo' names
the decision ids it withdraws, and the current verdict is the latest decision not withdrawn
(a hit whose only decision was withdrawn is pending again). The schema has no 'pending'
verdict, and a withdrawal is as sealed as any decision: it is a link of the audit chain.
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
    withdrawn: bool = False  # taken back by an undo; kept in the history, never current


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


# The ids of every withdrawn decision, from the audit chain's undo rows.
WITHDRAWN = ("SELECT j.value FROM audit a, json_each(a.payload, '$.decision_ids') j "
             "WHERE a.action = 'undo'")


def undo(db: sqlite_utils.Database, decision_ids: list[int], reviewer: str) -> list[int]:
    """Withdraw these decisions (one earlier `decide`'s, typically): each hit's verdict falls
    back to its latest decision still standing, or pending. Returns the hit ids affected."""
    reviewer_name = _clean(reviewer)
    if reviewer_name is None:
        raise InvalidDecision("An undo needs the reviewer's name.")
    if not decision_ids:
        raise InvalidDecision("There is no decision to undo.")
    marks = ", ".join("?" * len(decision_ids))
    rows = list(db.query(f"SELECT id, hit_id, id IN ({WITHDRAWN}) AS gone FROM decisions "
                         f"WHERE id IN ({marks})", decision_ids))
    missing = sorted(set(decision_ids) - {r["id"] for r in rows})
    if missing:
        raise InvalidDecision(f"No decision {', '.join(map(str, missing))} in this case.")
    if any(r["gone"] for r in rows):
        raise InvalidDecision("These decisions were undone already.")
    hit_ids = sorted({r["hit_id"] for r in rows})
    with sealed(db, reviewer_name, "undo", {"decision_ids": sorted(decision_ids),
                                            "hit_ids": hit_ids}):
        pass  # the audit row is the whole record of an undo
    return hit_ids


def history(db: sqlite_utils.Database, hit_id: int) -> list[Decision]:
    return [Decision(**{**r, "withdrawn": bool(r["withdrawn"])}) for r in db.query(
        f"SELECT *, id IN ({WITHDRAWN}) AS withdrawn FROM decisions WHERE hit_id = ? ORDER BY id",
        [hit_id])]


def current_decisions(db: sqlite_utils.Database, hit_ids: list[int]) -> dict[int, Decision]:
    """The latest decision still standing of each of these hits (absent: pending); one
    query per 500 hits, so a bulk decision on thousands stays quick."""
    found: dict[int, Decision] = {}
    for start in range(0, len(hit_ids), 500):
        chunk = hit_ids[start:start + 500]
        found.update((r["hit_id"], Decision(**r)) for r in db.query(
            "SELECT d.* FROM decisions d JOIN (SELECT hit_id, MAX(id) AS id FROM decisions "
            f"WHERE hit_id IN ({', '.join('?' * len(chunk))}) AND id NOT IN ({WITHDRAWN}) "
            "GROUP BY hit_id) latest ON latest.id = d.id", chunk))
    return found


def current_verdicts(db: sqlite_utils.Database) -> dict[int, Decision]:
    """The latest decision still standing of every decided hit."""
    return {r["hit_id"]: Decision(**r) for r in db.query(
        "SELECT d.* FROM decisions d JOIN (SELECT hit_id, MAX(id) AS id FROM decisions "
        f"WHERE id NOT IN ({WITHDRAWN}) GROUP BY hit_id) latest ON latest.id = d.id")}
