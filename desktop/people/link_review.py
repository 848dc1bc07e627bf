"""Reviewers' decisions on cross-case links: appended, never replaced; the latest one counts.

A link (a cluster of this case like a cluster of another registered case) is a candidate, as
a gallery hit is, until a person confirms, rejects or marks it unsure; even confirmed, it is
an investigative lead, not an identification. Decisions live in this case's sealed record,
keyed by (cluster here, other case, its cluster), because the lab index lives outside the
record. A decision outlives its link: after a merge empties the cluster, or the other case is
unregistered, the link is no longer listed but its decision stays in the record; a pair that
matches again is shown with the decision it had.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import sqlite_utils

from desktop.errors import InvalidArguments
from desktop.storage.database import utc_now
from desktop.storage.record import sealed

if TYPE_CHECKING:
    from desktop.people.lab_index import Link

VERDICTS = ("confirm", "reject", "unsure")
PENDING = "pending"

LinkKey = tuple[int, str, int]  # (cluster here, other case id, its cluster)


class InvalidLinkDecision(InvalidArguments):
    """A decision on a link cannot be recorded (unknown verdict or cluster, no reviewer)."""


@dataclass(frozen=True)
class LinkDecision:
    id: int
    cluster_id: int
    other_case_id: str
    other_case_number: str
    other_cluster_id: int
    score: float  # the link's score when it was decided
    verdict: str
    reviewer: str
    note: str | None
    decided_at: str

    @property
    def key(self) -> LinkKey:
        return (self.cluster_id, self.other_case_id, self.other_cluster_id)


def _clean(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    text = unicodedata.normalize("NFC", text.strip())
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise InvalidLinkDecision("The note or reviewer name contains control characters.")
    return text


def decide_link(db: sqlite_utils.Database, link: Link, verdict: str, reviewer: str,
                note: str | None = None) -> LinkDecision:
    """Record one verdict on one link, sealed and audited in the same transaction."""
    if verdict not in VERDICTS:
        raise InvalidLinkDecision(f"The decision must be one of {', '.join(VERDICTS)}, "
                                  f"not {verdict!r}.")
    reviewer_name = _clean(reviewer)
    if reviewer_name is None:
        raise InvalidLinkDecision("A decision needs the reviewer's name.")
    note = _clean(note)
    if next(db.query("SELECT 1 AS x FROM clusters WHERE id = ?", [link.cluster_id]), None) is None:
        raise InvalidLinkDecision(f"No cluster {link.cluster_id} in this case.")
    row = [link.cluster_id, link.other_case_id, link.other_case_number, link.other_cluster_id,
           link.score, verdict, reviewer_name, note, utc_now()]
    with sealed(db, reviewer_name, "cross-case link decision", {
            "link": link.key, "other_case_number": link.other_case_number, "score": link.score,
            "verdict": verdict, "note": note}) as seal:
        cursor = db.execute(
            "INSERT INTO link_decisions (cluster_id, other_case_id, other_case_number, "
            "other_cluster_id, score, verdict, reviewer, note, decided_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        decision_id = int(cursor.lastrowid)
        seal.payload["decision_id"] = decision_id
        seal.wrote("link_decisions", [decision_id])
    return LinkDecision(decision_id, *row)


def link_status(db: sqlite_utils.Database) -> dict[LinkKey, LinkDecision]:
    """The latest decision of every decided link, listed or not."""
    found = [LinkDecision(**r) for r in db.query(
        "SELECT d.* FROM link_decisions d JOIN (SELECT MAX(id) AS id FROM link_decisions "
        "GROUP BY cluster_id, other_case_id, other_cluster_id) latest ON latest.id = d.id")]
    return {d.key: d for d in found}


def with_decision(link: Link, decision: LinkDecision | None) -> Link:
    """The link as its latest decision leaves it (pending without one)."""
    if decision is None:
        return replace(link, status=PENDING, reviewer=None, note=None, decided_at=None)
    return replace(link, status=decision.verdict, reviewer=decision.reviewer, note=decision.note,
                   decided_at=decision.decided_at)


def review_text(link: Link) -> str:
    """The link's review in a line: its latest decision, or that nobody reviewed it yet."""
    if link.reviewer is None:
        return "pending: candidate lead, not reviewed"
    when = (link.decided_at or "")[:16].replace("T", " ")
    return f"{link.status} by {link.reviewer} {when} UTC" + (f": {link.note}" if link.note else "")
