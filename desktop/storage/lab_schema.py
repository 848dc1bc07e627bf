"""The lab index's schema, as numbered migrations (never edit a released step; add one).

A lab index holds, for every case registered to it, one template per cluster of that case:
enough to link the same unknown person across cases without opening every case.db.
"""

from __future__ import annotations

import uuid

import sqlite_utils

from desktop.storage.database import append_only_triggers
from desktop.storage.gallery_schema import statements

LAB_APPLICATION_ID = 0x484D4C31  # "HML1": tells a lab index from any other SQLite file

V1 = """
-- The index's own identity (index_id), named in the record of every case registered to it.
CREATE TABLE lab_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- A registered case; model_hashes is JSON with sorted keys (cases of one pack and models only).
CREATE TABLE cases (
    case_id TEXT PRIMARY KEY,
    case_number TEXT NOT NULL,
    folder TEXT NOT NULL,
    pack_id TEXT NOT NULL,
    model_hashes TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    registered_by TEXT NOT NULL
);

-- One per cluster of a registered case: the L2-normalised mean of its good faces' embeddings
-- (a video track counts once, by its own template); faces counts every face of the cluster.
CREATE TABLE templates (
    case_id TEXT NOT NULL REFERENCES cases (case_id) ON DELETE CASCADE,
    cluster_id INTEGER NOT NULL,
    faces INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    template BLOB NOT NULL,
    PRIMARY KEY (case_id, cluster_id)
);

-- Every register and unregister, by whom and when. Append-only (the triggers refuse rewrites).
CREATE TABLE log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    case_id TEXT NOT NULL,
    details TEXT NOT NULL
);
"""


def _v1(db: sqlite_utils.Database) -> None:
    for statement in statements(V1 + append_only_triggers("log", "seq")):
        db.execute(statement)
    db.execute("INSERT INTO lab_info (key, value) VALUES ('index_id', ?)", [uuid.uuid4().hex])


MIGRATIONS = [_v1]
