"""The hash-set store: one SQLite file in the user's data folder, written by imports (one
transaction each) and read by lookups through a read-only connection.

The file is in WAL mode, so a scan looking files up in one process is never blocked by an
import in another: it keeps seeing the sets as they were until the import commits whole.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path

from desktop.errors import EXIT_USAGE, HomewardError
from desktop.hashsets.categories import describe
from desktop.hashsets.schema import HASHSETS_APPLICATION_ID, MIGRATIONS
from desktop.storage.database import open_database, transaction, utc_now
from desktop.userdirs import data_dir

KIND = "hash-set store"
ALGORITHM_OF_LENGTH = {16: "md5", 20: "sha1", 32: "sha256"}
STRONGEST_FIRST = ("sha256", "sha1", "md5")
PROGRESS_EVERY = 50_000
SORTED_BATCH = 200_000
BAD_SAMPLES = 20
_CHUNK = 900  # digests per lookup statement, well under SQLite's parameter limit
_CURRENT = "SELECT id FROM sets s WHERE version = (SELECT MAX(version) FROM sets t WHERE t.name = s.name)"
_ALL = "SELECT id FROM sets"


class HashSetError(HomewardError):
    """The store cannot be opened or read (not Homeward's, newer than this program)."""


class HashSetInputError(HashSetError):
    """What the examiner named cannot be used: an unreadable or malformed hash-set file, one
    with no valid hash, a set name that does not exist. Nothing was written."""

    exit_code = EXIT_USAGE


def default_path() -> Path:
    return data_dir() / "hashsets.db"


@dataclass(frozen=True)
class HashSet:
    id: int
    name: str
    version: int
    current: bool  # the highest version of its name: the one lookups use
    kind: str  # "vics" | "nsrl" | "list"
    source_path: str
    source_sha256: str
    source_date: str | None  # as the file states it (VICS: latest DateUpdated; NSRL: release_date)
    imported_at: str
    examiner: str | None
    md5_count: int
    sha1_count: int
    sha256_count: int
    bad_entries: int  # lines or records that were skipped
    duplicates: int  # digests offered again within the set (stored once)

    @property
    def hashes(self) -> int:
        return self.md5_count + self.sha1_count + self.sha256_count

    def to_dict(self) -> dict:
        return {**asdict(self), "hashes": self.hashes}


@dataclass(frozen=True)
class KnownMatch:
    set_id: int
    set_name: str
    set_version: int
    category: str  # a key of desktop/hashsets/categories.py, e.g. "projectvic:1"
    ignorable: bool  # known non-pertinent: face analysis may be skipped
    priority: bool  # known victim material: flag for priority review
    algorithms: tuple[str, ...]  # which of the file's digests matched, strongest first

    @property
    def label(self) -> str:
        return describe(self.category).label


@dataclass(frozen=True)
class Verdict:
    ignorable: bool
    priority: bool


def verdict(matches: Sequence[KnownMatch]) -> Verdict:
    """One file's matches together: priority wins over ignorable (a file NSRL calls known
    software that Project VIC lists as abuse material is reviewed, never skipped)."""
    priority = any(m.priority for m in matches)
    return Verdict(ignorable=not priority and any(m.ignorable for m in matches), priority=priority)


@dataclass(frozen=True)
class BadEntry:
    where: str  # "line 12", "record 40 (line 311)", "FILE row 9"
    reason: str


@dataclass
class BadEntries:
    """Entries an import skipped: all counted, the first BAD_SAMPLES kept to show."""

    count: int = 0
    samples: list[BadEntry] = field(default_factory=list)

    def add(self, where: str, reason: str) -> None:
        self.count += 1
        if len(self.samples) < BAD_SAMPLES:
            self.samples.append(BadEntry(where, reason))


@dataclass(frozen=True)
class NewSet:
    name: str
    kind: str
    source_path: str
    source_sha256: str
    source_date: str | None
    examiner: str | None


Row = tuple[bytes, str, str]  # digest, algorithm, category key


def _open_for_writing(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return open_database(path, MIGRATIONS, KIND, application_id=HASHSETS_APPLICATION_ID,
                         create=not path.exists())


def write_set(meta: NewSet, rows: Iterable[Row], bad: BadEntries, *, path: Path | None = None,
              progress: Callable[[int], None] | None = None,
              source_date: Callable[[], str | None] | None = None) -> HashSet:
    """Store one set as the next version of its name, all in one transaction: an error, a
    cancel or a killed process leaves the store as it was. `rows` is consumed as it streams;
    `source_date`, when given, is asked after the rows are read (a date found while reading)."""
    path = Path(path or default_path())
    db = _open_for_writing(path)
    conn = db.conn
    try:
        conn.execute("PRAGMA cache_size = -131072")  # 128 MiB: the inserts land in random places
        with transaction(db):
            version = conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM sets WHERE name = ?",
                                   [meta.name]).fetchone()[0]
            set_id = conn.execute(
                "INSERT INTO sets (name, version, kind, source_path, source_sha256, source_date, "
                "imported_at, examiner) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [meta.name, version, meta.kind, meta.source_path, meta.source_sha256,
                 meta.source_date, utc_now(), meta.examiner]).fetchone()[0]
            offered = 0

            def stream():
                nonlocal offered
                for digest, algorithm, category in rows:
                    offered += 1
                    if progress is not None and offered % PROGRESS_EVERY == 0:
                        progress(offered)
                    yield set_id, digest, algorithm, category

            entries = stream()

            before = conn.total_changes
            # Sorted batches: the B-tree is then filled leaf after leaf instead of at random.
            for batch in iter(lambda: sorted(islice(entries, SORTED_BATCH)), []):
                conn.executemany("INSERT OR IGNORE INTO hashes (set_id, digest, algorithm, category) "
                                 "VALUES (?, ?, ?, ?)", batch)
            stored = conn.total_changes - before
            if stored == 0:
                raise HashSetInputError(f"{meta.source_path} holds no valid hashes; nothing was imported.")
            counts = dict(conn.execute("SELECT algorithm, COUNT(*) FROM hashes WHERE set_id = ? "
                                       "GROUP BY algorithm", [set_id]).fetchall())
            conn.execute("UPDATE sets SET md5_count = ?, sha1_count = ?, sha256_count = ?, "
                         "bad_entries = ?, duplicates = ?, source_date = COALESCE(?, source_date) "
                         "WHERE id = ?",
                         [counts.get("md5", 0), counts.get("sha1", 0), counts.get("sha256", 0),
                          bad.count, offered - stored, source_date() if source_date else None,
                          set_id])
        return next(s for s in _sets(conn) if s.id == set_id)
    finally:
        conn.close()


def remove_sets(name: str, *, path: Path | None = None) -> list[HashSet]:
    """Remove every version of a named set; returns what was removed."""
    path = Path(path or default_path())
    if not path.exists():
        raise HashSetInputError(f"No hash set named {name!r}: no hash sets have been imported.")
    db = _open_for_writing(path)
    try:
        with transaction(db):
            removed = [s for s in _sets(db.conn) if s.name == name]
            if not removed:
                raise HashSetInputError(f"No hash set named {name!r}.", "see `homeward hashsets list`")
            for found in removed:
                db.conn.execute("DELETE FROM hashes WHERE set_id = ?", [found.id])
                db.conn.execute("DELETE FROM sets WHERE id = ?", [found.id])
        return removed
    finally:
        db.conn.close()


def _sets(conn: sqlite3.Connection) -> list[HashSet]:
    rows = conn.execute(
        "SELECT id, name, version, id IN (" + _CURRENT + "), kind, source_path, source_sha256, "
        "source_date, imported_at, examiner, md5_count, sha1_count, sha256_count, bad_entries, "
        "duplicates FROM sets ORDER BY name, version").fetchall()
    return [HashSet(row[0], row[1], row[2], bool(row[3]), *row[4:]) for row in rows]


class HashSetStore:
    """Lookups and listings through a read-only connection (usable from several threads).
    A store that was never created reads as empty: no sets, no matches."""

    def __init__(self, path: Path, conn: sqlite3.Connection | None) -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path | None = None) -> HashSetStore:
        path = Path(path or default_path()).resolve()
        if not path.exists():
            return cls(path, None)
        conn = _connect_read_only(path)
        try:
            found = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise HashSetError(f"{path} cannot be read as a {KIND}.", str(exc)) from exc
        if found != HASHSETS_APPLICATION_ID:
            conn.close()
            raise HashSetError(f"{path} is not a Homeward {KIND}.",
                               f"SQLite application_id {found}, expected {HASHSETS_APPLICATION_ID}")
        if version > len(MIGRATIONS):
            conn.close()
            raise HashSetError(f"This {KIND} was written by a newer Homeward (schema {version}); this "
                               f"version reads up to schema {len(MIGRATIONS)}.", str(path))
        if version < len(MIGRATIONS):  # an older schema: upgrade once, then read
            conn.close()
            _open_for_writing(path).conn.close()
            conn = _connect_read_only(path)
        return cls(path, conn)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> HashSetStore:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def sets(self) -> list[HashSet]:
        """Every stored version, by name then version; `current` marks the ones lookups use."""
        if self._conn is None:
            return []
        with self._lock:
            return _sets(self._conn)

    def lookup(self, md5: str, sha1: str | None, sha256: str, *,
               all_versions: bool = False) -> list[KnownMatch]:
        """The current sets (or every version) listing any of the file's digests."""
        return self.lookup_many([(md5, sha1, sha256)], all_versions=all_versions)[0]

    def lookup_many(self, files: Sequence[tuple[str, str | None, str]], *,
                    all_versions: bool = False) -> list[list[KnownMatch]]:
        """lookup() for many files at once, answered in their order."""
        results: list[list[KnownMatch]] = [[] for _ in files]
        if self._conn is None or not files:
            return results
        owners: dict[bytes, list[int]] = {}
        for index, digests in enumerate(files):
            for hexdigest in digests:
                if hexdigest:
                    owners.setdefault(bytes.fromhex(hexdigest), []).append(index)
        found: dict[tuple[int, int, str], tuple[str, int, set[str]]] = {}
        keys = list(owners)
        sets = _ALL if all_versions else _CURRENT
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start:start + _CHUNK]
                rows = self._conn.execute(
                    "SELECT h.digest, h.set_id, s.name, s.version, h.category, h.algorithm "
                    f"FROM hashes h JOIN sets s ON s.id = h.set_id WHERE h.set_id IN ({sets}) "
                    f"AND h.digest IN ({', '.join('?' * len(chunk))})", chunk).fetchall()
                for digest, set_id, name, version, category, algorithm in rows:
                    for index in owners[digest]:
                        entry = found.setdefault((index, set_id, category), (name, version, set()))
                        entry[2].add(algorithm)
        for (index, set_id, category), (name, version, algorithms) in sorted(found.items()):
            meaning = describe(category)
            results[index].append(KnownMatch(
                set_id, name, version, category, meaning.ignorable, meaning.priority,
                tuple(a for a in STRONGEST_FIRST if a in algorithms)))
        return results


def _connect_read_only(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise HashSetError(f"{path} cannot be opened for reading.", str(exc)) from exc
