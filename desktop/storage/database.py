"""Opening Homeward's SQLite files: WAL, foreign keys, numbered migrations, transactions.

The connection runs in autocommit mode and every write goes through `transaction()`, an
explicit BEGIN IMMEDIATE ... COMMIT: an import either lands whole or not at all, and no helper
can commit half of it behind our back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from desktop.errors import HomewardError

Migration = Callable[[sqlite_utils.Database], None]


class StorageError(HomewardError):
    """A database file cannot be opened, is not Homeward's, or is newer than this program."""


def append_only_triggers(table: str, key: str) -> str:
    """SQL for triggers that refuse UPDATE, DELETE and an INSERT OR REPLACE over an existing
    row (REPLACE skips delete triggers unless recursive_triggers is on)."""
    refuse = f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
    return (f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}\n{refuse}\n"
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}\n{refuse}\n"
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}\n"
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key})\n{refuse}\n")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """All statements inside commit together, or none do."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:  # SQLite may already have rolled back by itself
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database, migrations: Sequence[Migration], kind: str) -> None:
    """Bring the schema to len(migrations); each step commits with its version or not at all."""
    current = schema_version(db)
    if current > len(migrations):
        raise StorageError(f"This {kind} was written by a newer Homeward (schema {current}); "
                           f"this version reads up to schema {len(migrations)}.")
    # Foreign keys are off during a step, as SQLite's procedure for rebuilding a table asks,
    # and checked before it commits.
    db.execute("PRAGMA foreign_keys = OFF")
    try:
        for version in range(current + 1, len(migrations) + 1):
            with transaction(db):
                migrations[version - 1](db)
                broken = db.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise StorageError(f"Upgrading this {kind} to schema {version} would break "
                                       "references between its tables.", repr(broken[:5]))
                db.execute(f"PRAGMA user_version = {version}")
    finally:
        db.execute("PRAGMA foreign_keys = ON")


def open_database(path: Path, migrations: Sequence[Migration], kind: str, *,
                  application_id: int, create: bool = False,
                  wal: bool = True) -> sqlite_utils.Database:
    """Open (or create) a Homeward database of one kind, migrated to the current schema.
    wal=False for a file other machines open over a network share, where SQLite's WAL (shared
    memory) is unsafe: the rollback journal is used instead."""
    path = Path(path)
    if create and path.exists():
        raise StorageError(f"{path} already exists; open it instead of creating it.")
    if not create and not path.is_file():
        raise StorageError(f"No {kind} at {path}.", "create one first")
    conn = None
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        db = sqlite_utils.Database(conn)
        # Check what the file is before writing anything to it (even the journal mode).
        found = int(db.execute("PRAGMA application_id").fetchone()[0])
        if not create and found != application_id:
            raise StorageError(f"{path} is not a Homeward {kind}.",
                               f"SQLite application_id {found}, expected {application_id}")
        if schema_version(db) > len(migrations):
            raise StorageError(f"This {kind} was written by a newer Homeward (schema "
                               f"{schema_version(db)}); this version reads up to schema "
                               f"{len(migrations)}.")
        if wal:
            db.enable_wal()
        else:
            db.execute("PRAGMA journal_mode = DELETE")
        # In WAL mode NORMAL never corrupts and keeps every commit across a killed process;
        # only a power cut may undo the last commits, which a resumed scan simply redoes.
        db.execute("PRAGMA synchronous = NORMAL")
        if create:
            db.execute(f"PRAGMA application_id = {application_id}")
        migrate(db, migrations, kind)
        return db
    except sqlite3.DatabaseError as exc:
        _close(conn, path if create else None)
        raise StorageError(f"{path} cannot be opened as a {kind}", str(exc)) from exc
    except BaseException:
        _close(conn, path if create else None)
        raise


def _close(conn: sqlite3.Connection | None, created: Path | None) -> None:
    """Release the file (Windows keeps open files locked); remove a half-created one."""
    if conn is not None:
        conn.close()
    if created is not None:
        for leftover in (created, Path(f"{created}-wal"), Path(f"{created}-shm")):
            leftover.unlink(missing_ok=True)
