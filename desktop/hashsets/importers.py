"""Importing a hash set from the file an examiner was given: Project VIC / CAID VICS JSON,
NSRL RDSv3 (SQLite) or a plain list of MD5 / SHA-1 / SHA-256 digests.

Every import streams its input (10^6 entries never sit in a Python list), counts and samples
the entries it cannot use without stopping, and lands in the store as one transaction.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from desktop.errors import InvalidArguments
from desktop.hashsets.categories import LIST_CATEGORIES
from desktop.hashsets.store import (
    ALGORITHM_OF_LENGTH,
    BadEntries,
    BadEntry,
    HashSet,
    HashSetInputError,
    NewSet,
    Row,
    write_set,
)
from desktop.hashsets.vics import MediaRecord, VicsFile, scheme_of

KINDS = ("vics", "nsrl", "list")
SQLITE_MAGIC = b"SQLite format 3\x00"
NSRL_COLUMNS = {"sha256", "sha1", "md5"}


@dataclass(frozen=True)
class ImportReport:
    hash_set: HashSet
    bad_entries: int
    bad_samples: list[BadEntry]  # the first 20

    def to_dict(self) -> dict:
        return {"set": self.hash_set.to_dict(), "bad_entries": self.bad_entries,
                "bad_samples": [{"where": b.where, "reason": b.reason} for b in self.bad_samples]}


def detect_kind(path: Path) -> str:
    """By content, not by name: SQLite's header is NSRL, a JSON object is VICS, else a list."""
    with _open_binary(path) as stream:
        head = stream.read(4096)
    if head.startswith(SQLITE_MAGIC):
        return "nsrl"
    return "vics" if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{") else "list"


def import_file(path: Path, *, kind: str | None = None, name: str | None = None,
                category: str | None = None, examiner: str | None = None,
                store_path: Path | None = None,
                progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import `path` as the next version of the set `name` (default: the file's stem).
    `category` applies to plain lists only: known (default), notable or priority."""
    path = Path(path)
    kind = kind or detect_kind(path)
    if kind not in KINDS:
        raise InvalidArguments(f"Unknown hash-set kind {kind!r}.", f"use one of {', '.join(KINDS)}")
    if category is not None and kind != "list":
        raise InvalidArguments(f"--category applies to plain lists; a {kind} set carries its own.")
    category = category or "known"
    if category not in LIST_CATEGORIES:
        raise InvalidArguments(f"Unknown list category {category!r}.",
                               f"use one of {', '.join(LIST_CATEGORIES)}")
    name = (name or path.stem).strip()
    if not name:
        raise InvalidArguments("A hash set needs a name.")
    bad = BadEntries()
    meta = NewSet(name, kind, str(path.resolve()), _sha256_of(path), None, examiner)
    if kind == "nsrl":
        with _open_nsrl(path) as conn:
            meta = replace(meta, source_date=_nsrl_release(conn))
            hash_set = write_set(meta, _nsrl_rows(conn, bad, str(path)), bad, path=store_path,
                                 progress=progress)
    elif kind == "vics":
        with open(path, encoding="utf-8-sig", errors="strict") as stream:
            latest: list[str] = []
            rows = _vics_rows(_vics_file(stream, str(path)), bad, latest, str(path))
            hash_set = write_set(meta, _decoding(rows, str(path)), bad, path=store_path,
                                 progress=progress, source_date=lambda: latest[0] if latest else None)
    else:
        _refuse_binary(path)
        with open(path, encoding="utf-8-sig", errors="replace") as stream:
            hash_set = write_set(meta, _list_rows(stream, f"list:{category}", bad, str(path)), bad,
                                 path=store_path, progress=progress)
    return ImportReport(hash_set, bad.count, list(bad.samples))


def _open_binary(path: Path):
    try:
        return open(path, "rb")
    except OSError as exc:
        raise HashSetInputError(f"{path} cannot be read.", str(exc)) from exc


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with _open_binary(path) as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _digest(text: str) -> bytes | None:
    """The raw bytes of an MD5, SHA-1 or SHA-256 in hex (either case), else None."""
    if len(text) not in (32, 40, 64):
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _no_valid(where: str, bad: BadEntries) -> HashSetInputError:
    shown = "; ".join(f"{b.where}: {b.reason}" for b in bad.samples[:5])
    return HashSetInputError(f"{where} holds no valid hashes; nothing was imported.",
                        f"{bad.count} bad entries ({shown})" if bad.count else "it is empty")


# Plain lists -------------------------------------------------------------------------------

def _refuse_binary(path: Path) -> None:
    with _open_binary(path) as stream:
        head = stream.read(8192)
    if b"\x00" in head:
        raise HashSetInputError(f"{path} is a binary file, not a list of hashes; nothing was imported.",
                           "expected one MD5, SHA-1 or SHA-256 in hex per line")


def _list_rows(stream, category: str, bad: BadEntries, where: str) -> Iterator[Row]:
    """One digest per line (its algorithm by length), optionally followed by whitespace and
    anything (the md5sum / sha256sum layout); blank lines and '#' comments are skipped."""
    valid = 0
    for number, line in enumerate(stream, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        token = text.split(None, 1)[0]
        digest = _digest(token)
        if digest is None:
            bad.add(f"line {number}", f"not an MD5, SHA-1 or SHA-256 in hex: {token[:70]!r}")
            continue
        valid += 1
        yield digest, ALGORITHM_OF_LENGTH[len(digest)], category
    if not valid:
        raise _no_valid(where, bad)


# VICS JSON ---------------------------------------------------------------------------------

def _vics_file(stream, where: str) -> VicsFile:
    try:
        return VicsFile(stream, where)
    except UnicodeDecodeError as exc:
        raise HashSetInputError(f"{where} is not a readable VICS JSON file: it is not UTF-8 text.",
                           str(exc)) from exc


def _decoding(rows: Iterator[Row], where: str) -> Iterator[Row]:
    """Text that stops being UTF-8 part-way is a broken file, reported as such."""
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        raise HashSetInputError(f"{where} is not a readable VICS JSON file: it is not UTF-8 text.",
                           str(exc)) from exc


def _vics_category(value: object, scheme: str) -> str | None:
    if value is None or value == "":
        return f"{scheme}:none"
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return f"{scheme}:{int(value)}"
    return None


def _where(vics: VicsFile, record: MediaRecord) -> str:
    """Asked for bad records only: counting lines is not worth it for every record."""
    return f"record {record.number} (line {vics.line_at(record.offset)})"


def _vics_rows(vics: VicsFile, bad: BadEntries, latest: list[str], where: str) -> Iterator[Row]:
    """MD5 and SHA-1 (and SHA-256, where a record has one) of every Media record; `latest`
    ends holding the latest DateUpdated (ISO 8601 in UTC, so the text orders as time does)."""
    scheme = scheme_of(vics.context)
    valid = 0
    for record in vics.records():
        media = record.value
        if not isinstance(media, dict):
            bad.add(_where(vics, record), "not a JSON object")
            continue
        category = _vics_category(media.get("Category"), scheme)
        if category is None:
            bad.add(_where(vics, record), f"Category {media.get('Category')!r} is not a number")
            continue
        digests = []
        for field_name, length in (("MD5", 16), ("SHA1", 20), ("SHA256", 32)):
            text = media.get(field_name)
            if text in (None, ""):
                continue
            digest = _digest(text.strip()) if isinstance(text, str) else None
            if digest is None or len(digest) != length:
                bad.add(_where(vics, record), f"{field_name} {str(text)[:70]!r} is not a {field_name} in hex")
                digests = []
                break
            digests.append(digest)
        else:
            if not digests:
                bad.add(_where(vics, record), "no MD5, SHA1 or SHA256")
        if not digests:
            continue
        valid += 1
        updated = media.get("DateUpdated")
        if isinstance(updated, str) and (not latest or updated > latest[0]):
            latest[:] = [updated]
        for digest in digests:
            yield digest, ALGORITHM_OF_LENGTH[len(digest)], category
    if not valid:
        raise _no_valid(where, bad)


# NSRL RDSv3 --------------------------------------------------------------------------------

class _open_nsrl:
    """The RDS file opened read-only and immutable (it may sit on read-only media), checked
    for NIST's FILE table with its sha256, sha1 and md5 columns."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro&immutable=1", uri=True)
            columns = {row[1].lower() for row in self.conn.execute("PRAGMA table_info(FILE)")}
        except sqlite3.DatabaseError as exc:
            raise HashSetInputError(f"{self.path} cannot be read as an NSRL RDS database.",
                               str(exc)) from exc
        if not columns >= NSRL_COLUMNS:
            self.conn.close()
            raise HashSetInputError(f"{self.path} is not an NSRL RDSv3 database; nothing was imported.",
                               "it has no FILE table with sha256, sha1 and md5 columns"
                               if not columns else f"its FILE table lacks "
                               f"{', '.join(sorted(NSRL_COLUMNS - columns))}")
        return self.conn

    def __exit__(self, *_exc) -> None:
        self.conn.close()


def _nsrl_release(conn: sqlite3.Connection) -> str | None:
    """The RDS release date from its VERSION table, when it has one."""
    try:
        row = conn.execute("SELECT MAX(release_date) FROM VERSION").fetchone()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row and row[0] is not None else None


def _nsrl_rows(conn: sqlite3.Connection, bad: BadEntries, where: str) -> Iterator[Row]:
    """The SHA-256 of every FILE row, the one digest stored for NSRL: every lookup carries a
    file's SHA-256, so its MD5 and SHA-1 would only triple the store (RDS has 10^8 rows)."""
    valid = 0
    try:
        for rowid, text in conn.execute("SELECT rowid, sha256 FROM FILE"):
            digest = _digest(text.strip()) if isinstance(text, str) else None
            if digest is None or len(digest) != 32:
                bad.add(f"FILE row {rowid}", f"sha256 {str(text)[:70]!r} is not a SHA-256 in hex")
                continue
            valid += 1
            yield digest, "sha256", "nsrl"
    except sqlite3.DatabaseError as exc:
        raise HashSetInputError(f"{where} cannot be read as an NSRL RDS database.", str(exc)) from exc
    if not valid:
        raise _no_valid(where, bad)
