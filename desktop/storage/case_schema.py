"""case.db schema, as numbered migrations (never edit a released step; add one).

Files are rows per path; their bytes are `contents` rows keyed by SHA-256, so identical files
are analysed once and linked to every path. A content's faces are written in the same
transaction that marks it processed: a scan killed at any moment resumes with nothing lost
and nothing counted twice.
"""

from __future__ import annotations

import json
import uuid

import sqlite_utils

from desktop.storage import audit
from desktop.storage.audit import SCHEMA as AUDIT_SCHEMA
from desktop.storage.database import append_only_triggers
from desktop.storage.gallery_schema import statements
from desktop.storage.record import digests_of, rows_as_sealed, seal_everything

CASE_APPLICATION_ID = 0x484D4331  # "HMC1"

V1 = """
CREATE TABLE case_info (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE contents (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    md5 TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    status TEXT CHECK (status IN ('ok', 'no_face', 'unsupported', 'corrupt', 'unreadable')),
    reason TEXT,
    width INTEGER,
    height INTEGER,
    duration_s REAL,
    metadata TEXT NOT NULL DEFAULT '{}',
    processed_at TEXT
);

-- Paths are stored as the file system's bytes (any name survives) and as display text.
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path_bytes BLOB NOT NULL UNIQUE,
    rel_path TEXT NOT NULL,
    size INTEGER,
    mtime REAL,
    ctime REAL,
    content_id INTEGER REFERENCES contents (id),
    status TEXT,
    reason TEXT,
    seen_at TEXT NOT NULL
);
CREATE INDEX files_content ON files (content_id);

CREATE TABLE tracks (
    id INTEGER PRIMARY KEY,
    content_id INTEGER NOT NULL REFERENCES contents (id),
    first_s REAL NOT NULL,
    last_s REAL NOT NULL,
    faces INTEGER NOT NULL,
    best_face_id INTEGER,
    embedding BLOB NOT NULL
);

CREATE TABLE faces (
    id INTEGER PRIMARY KEY,
    content_id INTEGER NOT NULL REFERENCES contents (id),
    frame_index INTEGER,
    timestamp_s REAL,
    track_id INTEGER REFERENCES tracks (id),
    box TEXT NOT NULL,
    landmarks TEXT NOT NULL,
    det_score REAL NOT NULL,
    quality TEXT NOT NULL,
    embedding BLOB NOT NULL,
    crop TEXT,  -- file name in crops/
    thumbnail TEXT  -- file name in thumbs/: the image or frame it was found in
);
CREATE INDEX faces_content ON faces (content_id);

CREATE TABLE scans (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    settings TEXT NOT NULL
);

-- A candidate: a face (photo) or a track (video) x a gallery person, above the threshold.
CREATE TABLE hits (
    id INTEGER PRIMARY KEY,
    face_id INTEGER NOT NULL REFERENCES faces (id),
    track_id INTEGER REFERENCES tracks (id),
    person_id INTEGER NOT NULL,
    person_name TEXT NOT NULL,
    score REAL NOT NULL,
    rank INTEGER NOT NULL,
    threshold REAL NOT NULL,
    pack_id TEXT NOT NULL,
    flags TEXT NOT NULL DEFAULT '[]',
    scan_id INTEGER NOT NULL REFERENCES scans (id),
    created_at TEXT NOT NULL,
    UNIQUE (face_id, person_id)
);

-- A reviewer's verdict on a hit. Appended, never updated: the current verdict is the latest.
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    hit_id INTEGER NOT NULL REFERENCES hits (id),
    verdict TEXT NOT NULL CHECK (verdict IN ('confirm', 'reject', 'unsure')),
    reviewer TEXT NOT NULL CHECK (length(trim(reviewer)) > 0),
    note TEXT,
    decided_at TEXT NOT NULL
);
CREATE INDEX decisions_hit ON decisions (hit_id, id);
"""


def _v1(db: sqlite_utils.Database) -> None:
    for statement in statements(V1 + append_only_triggers("decisions", "id") + AUDIT_SCHEMA):
        db.execute(statement)


# The sealed record (issue 12). Hits name the gallery they were matched against, so a case
# re-bound to another gallery keeps its earlier hits apart; SQLite cannot change a UNIQUE
# constraint in place, so the table is rebuilt (foreign keys are off during a step).
# Faces and tracks of one content can no longer be stored twice, even by a second writer
# that bypassed the case lock. A case written before seals existed is sealed as it is found.
V2 = """
CREATE TABLE hits_v2 (
    id INTEGER PRIMARY KEY,
    face_id INTEGER NOT NULL REFERENCES faces (id),
    track_id INTEGER REFERENCES tracks (id),
    person_id INTEGER NOT NULL,
    person_name TEXT NOT NULL,
    score REAL NOT NULL,
    rank INTEGER NOT NULL,
    threshold REAL NOT NULL,
    pack_id TEXT NOT NULL,
    flags TEXT NOT NULL DEFAULT '[]',
    scan_id INTEGER NOT NULL REFERENCES scans (id),
    created_at TEXT NOT NULL,
    gallery_id TEXT,
    UNIQUE (face_id, gallery_id, person_id)
);
INSERT INTO hits_v2 SELECT *, NULL FROM hits;
DROP TABLE hits;
ALTER TABLE hits_v2 RENAME TO hits;
CREATE INDEX hits_face ON hits (face_id);
CREATE UNIQUE INDEX faces_once ON faces (content_id, IFNULL(frame_index, -1), box);
CREATE UNIQUE INDEX tracks_once ON tracks (content_id, first_s, last_s, embedding);
"""


def _v2(db: sqlite_utils.Database) -> None:
    for statement in statements(V2):
        db.execute(statement)
    if db.execute("SELECT COUNT(*) FROM case_info").fetchone()[0]:
        db.execute("INSERT INTO case_info (key, value) VALUES ('case_id', ?)",
                   [json.dumps(uuid.uuid4().hex)])
        audit.append(db, "homeward", "record sealed",
                     {"schema": 2, "why": "case written before the sealed record; its rows are "
                      "sealed as found at this upgrade", "sealed": seal_everything(db)})


# People of a case (issue 13): every face in exactly one cluster (a video track's faces in
# its track's), assigned incrementally as faces arrive, never reshuffled. The examiner's work
# on clusters is appended, never updated; it becomes constraints for every later assignment.
V3 = """
CREATE TABLE clusters (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE cluster_members (
    face_id INTEGER PRIMARY KEY REFERENCES faces (id),
    cluster_id INTEGER NOT NULL REFERENCES clusters (id),
    assigned_at TEXT NOT NULL
);
CREATE INDEX cluster_members_cluster ON cluster_members (cluster_id);
CREATE TABLE cluster_ops (
    id INTEGER PRIMARY KEY,
    op TEXT NOT NULL CHECK (op IN ('name', 'merge', 'split', 'not_this', 'irrelevant',
                                   'to_gallery')),
    cluster_id INTEGER REFERENCES clusters (id),
    args TEXT NOT NULL DEFAULT '{}',
    examiner TEXT NOT NULL CHECK (length(trim(examiner)) > 0),
    at TEXT NOT NULL
);
"""


def _v3(db: sqlite_utils.Database) -> None:
    for statement in statements(V3 + append_only_triggers("cluster_ops", "id")):
        db.execute(statement)




# Evidence as examiners receive it (issue 14): a case holds several sources (a phone's UFDR,
# a laptop's E01, an SD card's image, a folder), each recorded with its kind, its own hashes
# and what its format says about it (an E01's stored hashes and whether the data matches).
# A file is a path inside one source, found again through its locator (JSON, see
# desktop.sources.base.encode_locator; NULL in rows of a folder case from before schema 4:
# the folder path and the file's path and size find it); deleted files recovered from a file
# system are flagged.
# Contents gain SHA-1 (NSRL lists it), a PDQ perceptual hash (near-duplicate images) and
# the status `known` (in an ignorable hash set: counted, not analysed);
# known_files holds the hash-set matches of each content, as found at the scan.
V4 = """
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    spec TEXT,
    format TEXT,
    size INTEGER,
    mtime REAL,
    sha256 TEXT,
    md5 TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    examiner TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE files_v4 (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources (id),
    path_bytes BLOB NOT NULL,
    rel_path TEXT NOT NULL,
    size INTEGER,
    mtime REAL,
    ctime REAL,
    atime REAL,
    crtime REAL,
    deleted INTEGER NOT NULL DEFAULT 0,
    locator TEXT,
    content_id INTEGER REFERENCES contents (id),
    status TEXT,
    reason TEXT,
    seen_at TEXT NOT NULL,
    UNIQUE (source_id, path_bytes)
);
INSERT INTO files_v4 (id, source_id, path_bytes, rel_path, size, mtime, ctime, locator,
                      content_id, status, reason, seen_at)
    SELECT id, 1, path_bytes, rel_path, size, mtime, ctime, NULL,
           content_id, status, reason, seen_at FROM files;
DROP TABLE files;
ALTER TABLE files_v4 RENAME TO files;
CREATE INDEX files_content ON files (content_id);
CREATE TABLE contents_v4 (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    md5 TEXT NOT NULL,
    sha1 TEXT,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    status TEXT CHECK (status IN ('ok', 'no_face', 'unsupported', 'corrupt', 'unreadable',
                                  'known')),
    reason TEXT,
    width INTEGER,
    height INTEGER,
    duration_s REAL,
    metadata TEXT NOT NULL DEFAULT '{}',
    pdq TEXT,
    pdq_quality INTEGER,
    processed_at TEXT
);
INSERT INTO contents_v4 (id, sha256, md5, size, kind, format, status, reason, width, height,
                         duration_s, metadata, processed_at)
    SELECT id, sha256, md5, size, kind, format, status, reason, width, height, duration_s,
           metadata, processed_at FROM contents;
DROP TABLE contents;
ALTER TABLE contents_v4 RENAME TO contents;
CREATE TABLE known_files (
    id INTEGER PRIMARY KEY,
    content_id INTEGER NOT NULL REFERENCES contents (id),
    set_name TEXT NOT NULL,
    set_version INTEGER NOT NULL,
    category TEXT NOT NULL,
    label TEXT NOT NULL,
    algorithms TEXT NOT NULL,
    ignorable INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    UNIQUE (content_id, set_name, set_version)
);
-- A reviewer's decision on a cross-case link (this case's cluster looks like a cluster of
-- another registered case): appended, never updated, like decisions on gallery hits.
CREATE TABLE link_decisions (
    id INTEGER PRIMARY KEY,
    cluster_id INTEGER NOT NULL REFERENCES clusters (id),
    other_case_id TEXT NOT NULL,
    other_case_number TEXT NOT NULL,
    other_cluster_id INTEGER NOT NULL,
    score REAL NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('confirm', 'reject', 'unsure')),
    reviewer TEXT NOT NULL CHECK (length(trim(reviewer)) > 0),
    note TEXT,
    decided_at TEXT NOT NULL
);
CREATE INDEX link_decisions_link ON link_decisions (cluster_id, other_case_id, other_cluster_id);
"""


def _v4(db: sqlite_utils.Database) -> None:
    intact = {table: rows_as_sealed(db, table) for table in ("files", "contents")}
    info = {r["key"]: json.loads(r["value"]) for r in db.query("SELECT key, value FROM case_info")}
    for statement in statements(V4 + append_only_triggers("link_decisions", "id")):
        db.execute(statement)
    if "source_root" not in info:
        return  # a case being created: its sources come with its first scan
    root = info["source_root"]
    db.execute("INSERT INTO sources (id, label, kind, path, format, examiner, added_at) "
               "VALUES (1, ?, 'folder', ?, 'folder', ?, ?)",
               [_label(root), root, info.get("examiner", "homeward"), info.get("created_at", "")])
    sealed = {"sources": digests_of(db, "sources", ["1"]),
              **{table: digests_of(db, table, keys) for table, keys in intact.items()}}
    audit.append(db, "homeward", "record upgraded",
                 {"schema": 4, "why": "a case holds several sources; files name theirs; "
                  "contents gain SHA-1 and PDQ: the rows that matched their seals are sealed "
                  "again as upgraded (a row that did not stays named by verification)",
                  "sealed": sealed})


def _label(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or path


MIGRATIONS = [_v1, _v2, _v3, _v4]
