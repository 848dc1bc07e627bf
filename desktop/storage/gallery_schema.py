"""gallery.db schema, as numbered migrations (never edit a released step; add one)."""

from __future__ import annotations

import sqlite3
import uuid

import sqlite_utils

from desktop.storage.database import append_only_triggers

GALLERY_APPLICATION_ID = 0x484D4731  # "HMG1": tells a gallery from any other SQLite file

V1 = """
CREATE TABLE persons (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    aliases TEXT NOT NULL DEFAULT '[]',
    sex TEXT CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    birth_date TEXT,
    age_min INTEGER,
    age_max INTEGER,
    last_seen_date TEXT,
    last_seen_place TEXT,
    case_ref TEXT,
    notes TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX persons_name ON persons (name);

-- A reference photo: the gallery's own copy (content-addressed by SHA-256) and the face in it
-- that the investigator chose, in upright image pixels. The choice outlives any model pack.
CREATE TABLE photos (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    stored_name TEXT NOT NULL,
    original_path TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    photo_date TEXT,
    face_box TEXT NOT NULL,
    added_at TEXT NOT NULL,
    UNIQUE (person_id, sha256)
);
CREATE INDEX photos_sha256 ON photos (sha256);

-- One embedding per photo and pack; vectors of different packs are never compared.
CREATE TABLE embeddings (
    photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    pack_id TEXT NOT NULL,
    detector_sha256 TEXT NOT NULL,
    recognizer_sha256 TEXT NOT NULL,
    box TEXT NOT NULL,
    landmarks TEXT NOT NULL,
    det_score REAL NOT NULL,
    quality TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (photo_id, pack_id)
);
CREATE INDEX embeddings_pack ON embeddings (pack_id);

-- Who changed what about a person, when. Append-only: the triggers refuse any rewrite,
-- including INSERT OR REPLACE over an existing row (REPLACE skips delete triggers).
CREATE TABLE person_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX person_history_person ON person_history (person_id);
"""


def _v1(db: sqlite_utils.Database) -> None:
    for statement in statements(V1 + append_only_triggers("person_history", "seq")):
        db.execute(statement)


def statements(script: str) -> list[str]:
    """Split a schema script into statements; trigger bodies stay whole."""
    found, current = [], ""
    for line in script.splitlines():
        if line.startswith("--") or not line.strip():
            continue
        current += line + "\n"
        if sqlite3.complete_statement(current):
            found.append(current)
            current = ""
    return found


# A gallery's identity: an id stored in the file, so a case is bound to this gallery and not
# to whatever file later sits at its path (or a copy edited apart from it).
def _v2(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE gallery_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO gallery_info (key, value) VALUES ('gallery_id', ?)", [uuid.uuid4().hex])


# A reference photo showing several faces, kept until the investigator chooses one: its person
# is created with the import, the photo waits here (store copy and every face's box, left to
# right) instead of being refused and its person lost.
V3 = """
CREATE TABLE pending_photos (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    stored_name TEXT NOT NULL,
    original_path TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    photo_date TEXT,
    face_boxes TEXT NOT NULL,
    added_at TEXT NOT NULL,
    UNIQUE (person_id, sha256)
);
CREATE INDEX pending_photos_sha256 ON pending_photos (sha256);
"""


def _v3(db: sqlite_utils.Database) -> None:
    for statement in statements(V3):
        db.execute(statement)


MIGRATIONS = [_v1, _v2, _v3]
