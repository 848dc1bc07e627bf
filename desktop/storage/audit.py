"""An append-only audit trail, each row chained to the previous one by SHA-256.

hash = SHA-256(prev_hash || canonical JSON of (seq, at, actor, action, payload)). Triggers
refuse UPDATE, DELETE and REPLACE through SQLite; anyone who bypasses them (another tool,
an edited file) breaks the chain, which `verify` reports row by row. Removing rows from the
end leaves a valid shorter chain: the head hash printed in every report and by
`homeward audit verify` is what a later check compares against.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import sqlite_utils

from desktop.storage.database import append_only_triggers, utc_now

GENESIS = "0" * 64

SCHEMA = """
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
""" + append_only_triggers("audit", "seq")


def row_hash(prev_hash: str, seq: int, at: str, actor: str, action: str, payload: str) -> str:
    canonical = json.dumps([seq, at, actor, action, json.loads(payload)], sort_keys=True,
                           ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def append(db: sqlite_utils.Database, actor: str, action: str, payload: dict) -> str:
    """Add one row (inside the caller's transaction); returns its hash."""
    last = list(db.query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"))
    seq, prev = (last[0]["seq"] + 1, last[0]["hash"]) if last else (1, GENESIS)
    at = utc_now()
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    digest = row_hash(prev, seq, at, actor, action, text)
    db.execute("INSERT INTO audit (seq, at, actor, action, payload, prev_hash, hash) "
               "VALUES (?,?,?,?,?,?,?)", [seq, at, actor, action, text, prev, digest])
    return digest


@dataclass(frozen=True)
class ChainReport:
    rows: int
    head: str  # hash of the last row: quote it to detect a later truncation
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(db: sqlite_utils.Database) -> ChainReport:
    """Recompute the chain: edited, deleted, inserted or reordered rows are named."""
    problems: list[str] = []
    prev, expected_seq, rows = GENESIS, 1, 0
    for row in db.query("SELECT * FROM audit ORDER BY rowid"):
        rows += 1
        if row["seq"] != expected_seq:
            problems.append(f"audit row {row['seq']}: expected sequence number {expected_seq} "
                            "(a row was deleted, inserted or moved)")
        if row["prev_hash"] != prev:
            problems.append(f"audit row {row['seq']}: does not follow the row before it "
                            "(rows deleted or reordered)")
        try:
            recomputed = row_hash(row["prev_hash"], row["seq"], row["at"], row["actor"],
                                  row["action"], row["payload"])
        except (json.JSONDecodeError, TypeError):
            recomputed = ""
        if recomputed != row["hash"]:
            problems.append(f"audit row {row['seq']}: content does not match its hash (edited)")
        prev, expected_seq = row["hash"], row["seq"] + 1
    return ChainReport(rows, prev, problems)
