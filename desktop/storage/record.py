"""The sealed record of a case: every fact a report or the review queue shows is covered by
the hash chain.

Each write to case.db is one transaction that ends with an audit row naming the rows it wrote
and a digest of each (every column, the embedding bytes included), read back as stored. A
later transaction that changes a row seals it again; the latest seal is the one that counts.
Verification walks the chain, then recomputes the digest of every row of every sealed table:
a row edited, deleted or inserted behind Homeward's back is named, with the audit row that
sealed it. What the chain alone cannot show (its last rows cut off, or every hash recomputed
by someone who rewrote the whole file) is caught by comparing its head with a head recorded
elsewhere: in every report, in the user data folder at each export, or `--expect-head`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlite_utils

from desktop.storage import audit
from desktop.storage.database import transaction
from desktop.storage.heads import heads_of
from desktop.storage.lock import case_writer

# Every table of case.db that holds a fact, with its key. The audit table is the chain.
SEALED_TABLES = {"case_info": "key", "scans": "id", "sources": "id", "contents": "id",
                 "files": "id", "known_files": "id", "tracks": "id", "faces": "id", "hits": "id",
                 "decisions": "id", "clusters": "id", "cluster_members": "face_id",
                 "cluster_ops": "id", "link_decisions": "id"}
DELETED = None  # the seal of a row a transaction removed


def row_digest(table: str, row: dict) -> str:
    """128 bits of SHA-256 over the table name and every column, in a canonical form."""
    values = [[name, {"hex": value.hex()} if isinstance(value, bytes) else value]
              for name, value in sorted(row.items())]
    canonical = json.dumps([table, values], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _chunks(keys: list, size: int = 500) -> Iterator[list]:
    for start in range(0, len(keys), size):
        yield keys[start:start + size]


class Seal:
    """The rows one transaction wrote; their digests are taken when it commits."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.payload: dict = {}
        self._wrote: dict[str, set] = {}

    def wrote(self, table: str, keys: Iterable) -> None:
        if table not in SEALED_TABLES:
            raise ValueError(f"{table} is not a sealed table")
        self._wrote.setdefault(table, set()).update(keys)

    def digests(self) -> dict[str, dict[str, str | None]]:
        sealed: dict[str, dict[str, str | None]] = {}
        for table, keys in self._wrote.items():
            column = SEALED_TABLES[table]
            found: dict[str, str | None] = dict.fromkeys(map(str, keys), DELETED)
            for chunk in _chunks(sorted(keys, key=str)):
                for row in self.db.query(f"SELECT * FROM {table} WHERE {column} IN "
                                         f"({', '.join('?' * len(chunk))})", chunk):
                    found[str(row[column])] = row_digest(table, row)
            sealed[table] = found
        return sealed


@contextmanager
def sealed(db: sqlite_utils.Database, actor: str, action: str,
           payload: dict | None = None) -> Iterator[Seal]:
    """One write to a case: under the case's writer lock, all or nothing, sealed in the
    audit row it ends with. Callers name what they wrote with `seal.wrote(table, keys)`."""
    with case_writer(db), transaction(db):
        seal = Seal(db)
        seal.payload.update(payload or {})
        yield seal
        audit.append(db, actor, action, {**seal.payload, "sealed": seal.digests()})


def seal_everything(db: sqlite_utils.Database) -> dict[str, dict[str, str | None]]:
    """Digests of every row of every sealed table the schema has so far (for sealing a case
    written before seals, in the middle of its upgrade)."""
    present = {r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {table: {str(row[key]): row_digest(table, row)
                    for row in db.query(f"SELECT * FROM {table}")}
            for table, key in SEALED_TABLES.items() if table in present}


def rows_as_sealed(db: sqlite_utils.Database, table: str) -> list[str]:
    """Keys of the rows of `table` that equal their latest seal (before a schema step that
    changes the table: only these are sealed again, so an edit made before it stays named)."""
    seals, _ = _seals(db)
    key = SEALED_TABLES[table]
    return [str(row[key]) for row in db.query(f"SELECT * FROM {table}")
            if seals.get((table, str(row[key])), (None, 0))[0] == row_digest(table, row)]


def digests_of(db: sqlite_utils.Database, table: str, keys: Iterable[str]) -> dict[str, str | None]:
    seal = Seal(db)
    seal.wrote(table, keys)
    return seal.digests().get(table, {})


@dataclass(frozen=True)
class RecordReport:
    rows: int  # rows in the audit chain
    head: str  # hash of its last row
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _seals(db: sqlite_utils.Database) -> tuple[dict[tuple[str, str], tuple[str | None, int]],
                                               list[str]]:
    """The latest seal of every row, from the audit payloads."""
    seals: dict[tuple[str, str], tuple[str | None, int]] = {}
    problems = []
    for row in db.query("SELECT seq, payload FROM audit ORDER BY seq"):
        try:
            sealed_rows = json.loads(row["payload"]).get("sealed", {})
        except (json.JSONDecodeError, AttributeError):
            problems.append(f"audit row {row['seq']}: its payload cannot be read")
            continue
        for table, digests in sealed_rows.items():
            for key, digest in digests.items():
                seals[(table, key)] = (digest, row["seq"])
    return seals, problems


def verify_record(db: sqlite_utils.Database, expect_head: str | None = None,
                  known_heads: Iterable[tuple[int, str]] = ()) -> RecordReport:
    """The chain, then every sealed table against it; then the heads recorded elsewhere."""
    chain = audit.verify(db)
    problems = list(chain.problems)
    seals, unreadable = _seals(db)
    problems += unreadable
    present = {r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, key in SEALED_TABLES.items():
        if table not in present:  # a table of a later schema (a case read before its upgrade)
            continue
        for row in db.query(f"SELECT * FROM {table}"):
            name = (table, str(row[key]))
            seal = seals.pop(name, None)
            if seal is None:
                problems.append(f"{table} row {row[key]}: not in the record "
                                "(inserted outside Homeward)")
            elif seal[0] is DELETED:
                problems.append(f"{table} row {row[key]}: the record says audit row {seal[1]} "
                                "removed it (re-inserted outside Homeward)")
            elif seal[0] != row_digest(table, row):
                problems.append(f"{table} row {row[key]}: differs from what audit row "
                                f"{seal[1]} sealed (edited)")
    for (table, key), (digest, seq) in sorted(seals.items(), key=lambda item: item[1][1]):
        if digest is not DELETED:
            problems.append(f"{table} row {key}: sealed by audit row {seq} but missing (deleted)")
    hashes = {r["seq"]: r["hash"] for r in db.query("SELECT seq, hash FROM audit")}
    if expect_head is not None and expect_head not in hashes.values():
        problems.append(f"the expected head {expect_head} is not in this chain (its last rows "
                        "were removed, or the whole chain was rewritten)")
    for seq, head in known_heads:
        if hashes.get(seq) != head:
            problems.append(f"audit row {seq}: a report exported from this case recorded head "
                            f"{head}; the chain has {hashes.get(seq, 'no such row')} (rows "
                            "removed from the end, or the chain rewritten; or this folder is a "
                            "copy of the case that went another way after that report)")
    return RecordReport(chain.rows, chain.head, problems)


def case_id_of(db: sqlite_utils.Database) -> str | None:
    row = next(db.query("SELECT value FROM case_info WHERE key = 'case_id'"), None)
    return None if row is None else json.loads(row["value"])


def verify_case(db: sqlite_utils.Database, expect_head: str | None = None) -> RecordReport:
    """The record, and every head this workstation recorded for the case at an export."""
    case_id = case_id_of(db)
    known = [(h.seq, h.head) for h in heads_of(case_id)] if case_id else []
    return verify_record(db, expect_head, known)

