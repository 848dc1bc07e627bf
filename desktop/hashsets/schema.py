"""hashsets.db schema, as numbered migrations (never edit a released step; add one)."""

from __future__ import annotations

import sqlite_utils

from desktop.storage.gallery_schema import statements

HASHSETS_APPLICATION_ID = 0x484D4831  # "HMH1": tells the hash-set store from any other SQLite file

V1 = """
-- One imported version of a named set. A re-import of a name adds version n+1; lookups use
-- the highest version of each name, older ones stay for the record until the name is removed.
CREATE TABLE sets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    version INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('vics', 'nsrl', 'list')),
    source_path TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    source_date TEXT,
    imported_at TEXT NOT NULL,
    examiner TEXT,
    md5_count INTEGER NOT NULL DEFAULT 0,
    sha1_count INTEGER NOT NULL DEFAULT 0,
    sha256_count INTEGER NOT NULL DEFAULT 0,
    bad_entries INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name, version)
);

-- digest: the raw bytes (16, 20 or 32); category: a key of desktop/hashsets/categories.py.
-- Keyed by set first, so a set is counted and removed by one range; a lookup probes each
-- current set's range for the file's digests.
CREATE TABLE hashes (
    set_id INTEGER NOT NULL REFERENCES sets (id) ON DELETE CASCADE,
    digest BLOB NOT NULL,
    algorithm TEXT NOT NULL CHECK (algorithm IN ('md5', 'sha1', 'sha256')),
    category TEXT NOT NULL,
    PRIMARY KEY (set_id, digest)
) WITHOUT ROWID;
"""


def _v1(db: sqlite_utils.Database) -> None:
    for statement in statements(V1):
        db.execute(statement)


MIGRATIONS = [_v1]
