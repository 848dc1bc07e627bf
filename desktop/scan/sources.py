"""The sources of a case: each recorded once, with its kind, its own hashes and what its
format says about it; and the one way to read a case's file again, whatever holds it.

A case may hold a phone's UFDR, a laptop's E01 and an SD card's image: each is a row of
`sources`, named by a label unique in the case (a file's location reads `label : path`).
A container's SHA-256 and MD5 are taken once (again only if its size or time changed), an
E01's stored hashes are checked against its media data, and both results are sealed in the
case record.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import sqlite_utils

from desktop.errors import Cancelled
from desktop.hashing import CHUNK
from desktop.sources.base import FOLDER, SourceError, SourceFacts, SourceSpec, decode_locator, encode_locator
from desktop.sources.detect import open_entry, spec_for
from desktop.sources.opener import open_evidence
from desktop.storage.database import utc_now
from desktop.storage.record import sealed


@dataclass(frozen=True)
class CaseSource:
    source_id: int
    label: str
    kind: str
    path: str
    spec: SourceSpec
    format: str | None
    size: int | None
    mtime: float | None
    sha256: str | None
    md5: str | None
    details: dict


def case_sources(db: sqlite_utils.Database) -> list[CaseSource]:
    return [_record(row) for row in db.query("SELECT * FROM sources ORDER BY id")]


def _record(row: dict) -> CaseSource:
    spec = (SourceSpec(FOLDER, row["path"]) if row["spec"] is None  # a case from before schema 4
            else decode_locator(row["spec"]))
    assert isinstance(spec, SourceSpec)
    return CaseSource(row["id"], row["label"], row["kind"], row["path"], spec, row["format"],
                      row["size"], row["mtime"], row["sha256"], row["md5"],
                      json.loads(row["details"] or "{}"))


def add_sources(db: sqlite_utils.Database, paths: list[Path], examiner: str,
                scratch: Path) -> list[CaseSource]:
    """The case's record of each source (added when new), in the order given. A path is a
    source already in the case when it resolves to the same folder or container."""
    known = {Path(s.path): s for s in case_sources(db)}
    wanted = []
    for path in paths:
        path = Path(path).resolve()
        if path in known:
            wanted.append(known[path])
            continue
        spec = spec_for(path, scratch if path.is_file() else None)
        taken = {s.label for s in known.values()}
        label = _unique_label(path.name or str(path), taken)
        with sealed(db, examiner, "source added", {"label": label, "kind": spec.kind,
                                                   "path": str(path)}) as seal:
            source_id = db.execute(
                "INSERT INTO sources (label, kind, path, spec, format, examiner, added_at) "
                "VALUES (?,?,?,?,?,?,?) RETURNING id",
                [label, spec.kind, str(path), encode_locator(spec),
                 FOLDER if spec.kind == FOLDER else None, examiner, utc_now()]
            ).fetchone()[0]
            seal.wrote("sources", [source_id])
        known[path] = next(s for s in case_sources(db) if s.source_id == source_id)
        wanted.append(known[path])
    return wanted


def _unique_label(name: str, taken: set[str]) -> str:
    label, n = name, 1
    while label in taken:
        n += 1
        label = f"{name} ({n})"
    return label


def record_listing(db: sqlite_utils.Database, source: CaseSource, spec: SourceSpec,
                   facts: SourceFacts, examiner: str) -> CaseSource:
    """What listing the source learnt (its format, partitions, extraction...; the spec a
    decompressed copy changed), sealed when it differs from the record."""
    details = {**source.details, **facts.details}
    if (spec, facts.format, details) == (source.spec, source.format, source.details):
        return source
    with sealed(db, examiner, "source described", {
            "source_id": source.source_id, "format": facts.format,
            "verification": details.get("verification")}) as seal:
        db.execute("UPDATE sources SET spec = ?, format = ?, details = ? WHERE id = ?",
                   [encode_locator(spec), facts.format, json.dumps(details, default=str),
                    source.source_id])
        seal.wrote("sources", [source.source_id])
    return next(s for s in case_sources(db) if s.source_id == source.source_id)


def container_files(source: CaseSource) -> list[Path]:
    """The files that make up a container (all of an E01's segments), none for a folder."""
    if source.kind == FOLDER or source.spec.within is not None:
        return []
    if source.kind == "e01":
        from desktop.sources.disk import segment_paths

        return segment_paths(source.spec)
    return [Path(source.path)]


def hash_container(db: sqlite_utils.Database, source: CaseSource, examiner: str,
                   progress: Callable[[int, int], None], stop: Callable[[], bool]) -> CaseSource:
    """SHA-256 and MD5 of the container's own bytes (every segment, in order), once; again
    only when its size or modification time changed. Sealed with each segment's hashes."""
    files = container_files(source)
    if not files:
        return source
    stats = [os.stat(f) for f in files]
    size, mtime = sum(s.st_size for s in stats), max(s.st_mtime for s in stats)
    if source.sha256 and (source.size, source.mtime) == (size, mtime):
        return source
    whole = {"sha256": hashlib.sha256(), "md5": hashlib.md5()}
    segments, done = [], 0
    for path, stat in zip(files, stats, strict=True):
        own = {"sha256": hashlib.sha256(), "md5": hashlib.md5()}
        with open_evidence(path, stat.st_size) as handle:
            while chunk := handle.read(CHUNK):
                if stop():
                    raise Cancelled("Scan cancelled; run it again to continue where it stopped.")
                for hasher in (*whole.values(), *own.values()):
                    hasher.update(chunk)
                done += len(chunk)
                progress(done, size)
        segments.append({"file": path.name, "size": stat.st_size,
                         **{name: h.hexdigest() for name, h in own.items()}})
    details = {**source.details, "segments": segments} if len(files) > 1 else source.details
    with sealed(db, examiner, "source hashed", {"source_id": source.source_id,
                                                "sha256": whole["sha256"].hexdigest()}) as seal:
        db.execute("UPDATE sources SET size = ?, mtime = ?, sha256 = ?, md5 = ?, details = ? "
                   "WHERE id = ?", [size, mtime, whole["sha256"].hexdigest(),
                                    whole["md5"].hexdigest(), json.dumps(details, default=str),
                                    source.source_id])
        seal.wrote("sources", [source.source_id])
    return next(s for s in case_sources(db) if s.source_id == source.source_id)


def file_stream(db: sqlite_utils.Database, file_id: int) -> BinaryIO:
    """A case's file, read again from its source (reports, the gallery from a cluster)."""
    row = next(db.query("SELECT f.path_bytes, f.size, f.locator, s.id AS source_id FROM files f "
                        "JOIN sources s ON s.id = f.source_id WHERE f.id = ?", [file_id]), None)
    if row is None:
        raise SourceError(f"no file {file_id} in this case")
    source = next(s for s in case_sources(db) if s.source_id == row["source_id"])
    return open_entry(source.spec, file_locator(row))


def file_locator(row: dict) -> tuple:
    """A files row's locator (path_bytes, size and locator columns): for a folder case from
    before schema 4, which has none, the folder source's own (path inside, size)."""
    if row["locator"] is None:
        return (bytes(row["path_bytes"]), row["size"])
    locator = decode_locator(row["locator"])
    assert isinstance(locator, tuple)
    return locator


RANGES_SHOWN = 10
HASH_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}


def verification_words(details: dict) -> str:
    """An E01's check of its media data against the hashes stored at acquisition, in words."""
    verification = details.get("verification") or {}
    result = verification.get("result")
    stored = "/".join(HASH_NAMES.get(k, k) for k in verification.get("stored") or {}) or "hash"
    if result == "verified":
        return f"E01 verified against its stored {stored}"
    if result == "mismatch":
        damaged = details.get("damaged_ranges") or []
        where = (f"damaged ranges {_ranges(damaged)}" if damaged
                 else "no damaged range located by its checksums")
        return f"E01 FAILS its stored {stored} — {where}"
    if result == "incomplete":
        missing = details.get("missing_ranges") or []
        return ("E01 incomplete: segment files missing, its stored hash cannot be checked"
                + (f" — missing ranges {_ranges(missing)}" if missing else ""))
    if result == "no stored hash":
        return "E01 carries no stored hash to verify against"
    return "E01 not verified yet: the next scan checks it against its stored hash"


def _ranges(ranges: list) -> str:
    """(offset, length) byte ranges of the disk, as inclusive byte numbers."""
    shown = ", ".join(f"bytes {start:,}–{start + length - 1:,}"
                      for start, length in ranges[:RANGES_SHOWN])
    more = len(ranges) - RANGES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")
