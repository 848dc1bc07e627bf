"""A case: a folder with case.db and derived files; the seized source is only ever read."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlite_utils

from desktop.errors import HomewardError
from desktop.scan.derived import WORK
from desktop.storage.case_schema import CASE_APPLICATION_ID, MIGRATIONS
from desktop.storage.database import open_database, utc_now
from desktop.storage.lock import CaseBusy, case_writer, write_lock
from desktop.storage.record import sealed

DB_NAME = "case.db"


class CaseError(HomewardError):
    """A case folder cannot be created or used as asked."""


@dataclass(frozen=True)
class CaseInfo:
    case_number: str
    examiner: str
    source_root: str
    gallery: str
    pack_id: str
    model_hashes: dict[str, str]
    match_threshold: float
    fps: float
    created_at: str
    case_id: str = ""  # cases made before the sealed record get one when upgraded
    gallery_id: str | None = None  # the bound gallery's identity; None: bound at next scan
    calibration: dict | None = None  # the pack's calibration the threshold came from


class Case:
    def __init__(self, folder: Path, db: sqlite_utils.Database) -> None:
        self.folder = folder
        self.db = db

    @classmethod
    def create(cls, folder: Path, info: CaseInfo) -> Case:
        """Built whole under a hidden name, then linked into place: a process killed at any
        moment leaves either no case or a complete one, never a half-made case.db."""
        folder = Path(folder)
        if (folder / DB_NAME).exists():
            raise CaseError(f"{folder} already holds a case; open it instead.")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "crops").mkdir(exist_ok=True)
        (folder / "thumbs").mkdir(exist_ok=True)
        _sweep_drafts(folder)
        if not info.case_id:
            info = CaseInfo(**{**asdict(info), "case_id": uuid.uuid4().hex})
        draft = folder / f"{DRAFT_PREFIX}{uuid.uuid4().hex}"
        try:
            with creating(draft):
                return cls._create(folder, draft, info)
        finally:
            Path(f"{draft}.held").unlink(missing_ok=True)

    @classmethod
    def _create(cls, folder: Path, draft: Path, info: CaseInfo) -> Case:
        db = open_database(draft, MIGRATIONS, "case", application_id=CASE_APPLICATION_ID,
                           create=True)
        try:
            with sealed(db, info.examiner, "case created", asdict(info)) as seal:
                for key, value in asdict(info).items():
                    db.execute("INSERT INTO case_info (key, value) VALUES (?, ?)",
                               [key, json.dumps(value)])
                seal.wrote("case_info", asdict(info))
            db.conn.close()
            _publish(draft, folder / DB_NAME)
        except FileExistsError as exc:
            raise CaseError(f"{folder} already holds a case; open it instead.") from exc
        finally:
            db.conn.close()
            _remove_draft(draft)
        return cls.open(folder)

    @classmethod
    def open(cls, folder: Path) -> Case:
        folder = Path(folder)
        db = open_database(folder / DB_NAME, MIGRATIONS, "case", application_id=CASE_APPLICATION_ID)
        return cls(folder, db)

    @property
    def work_folder(self) -> Path:
        """Where a scan keeps what it must decompress or copy to read evidence (a .tar.gz
        decompressed once, a video inside a container while it is analysed)."""
        return self.folder / WORK

    @property
    def info(self) -> CaseInfo:
        values = {r["key"]: json.loads(r["value"]) for r in self.db.query("SELECT * FROM case_info")}
        return CaseInfo(**values)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold this case's writer lock (a scan, for its whole run); refused with who holds it
        when another process writes. Scans it finds still 'running' were cut short."""
        with case_writer(self.db) as first:
            if first:  # not a re-entry from a scan this process is running
                self._mark_interrupted()
            yield

    def update_info(self, changes: dict, actor: str, action: str, why: dict) -> None:
        """Change case settings: an explicit, audited operation, never a silent one."""
        with sealed(self.db, actor, action, {**why, "changes": changes}) as seal:
            for key, value in changes.items():
                self.db.execute("INSERT INTO case_info (key, value) VALUES (?, ?) ON CONFLICT "
                                "(key) DO UPDATE SET value = excluded.value",
                                [key, json.dumps(value)])
            seal.wrote("case_info", changes)

    def _mark_interrupted(self) -> None:
        running = [r["id"] for r in self.db.query("SELECT id FROM scans WHERE status = 'running'")]
        for scan_id in running:  # we hold the lock: their process is gone
            with sealed(self.db, "homeward", "scan interrupted", {"scan_id": scan_id}) as seal:
                self.db.execute("UPDATE scans SET status = 'interrupted' WHERE id = ?", [scan_id])
                seal.wrote("scans", [scan_id])

    def start_scan(self, settings: dict, actor: str) -> int:
        with sealed(self.db, actor, "scan started", settings) as seal:
            cursor = self.db.execute(
                "INSERT INTO scans (started_at, status, settings) VALUES (?, 'running', ?)",
                [utc_now(), json.dumps(settings)])
            scan_id = int(cursor.lastrowid)
            seal.payload["scan_id"] = scan_id
            seal.wrote("scans", [scan_id])
        return scan_id

    def finish_scan(self, scan_id: int, status: str, actor: str, summary: dict) -> None:
        with sealed(self.db, actor, f"scan {status}", {"scan_id": scan_id, **summary}) as seal:
            self.db.execute("UPDATE scans SET finished_at = ?, status = ? WHERE id = ?",
                            [utc_now(), status, scan_id])
            seal.wrote("scans", [scan_id])

    def close(self) -> None:
        self.db.conn.close()


def _publish(draft: Path, final: Path) -> None:
    """Make the finished file visible under its name, never over an existing case."""
    try:
        os.link(draft, final)  # atomic, and fails if another create got there first
    except FileExistsError:
        raise
    except OSError:  # file systems without hard links (FAT, exFAT on removable drives)
        if final.exists():
            raise FileExistsError(final) from None
        os.rename(draft, final)


DRAFT_PREFIX = ".case.db.creating-"
_DRAFT = re.compile(re.escape(DRAFT_PREFIX) + r"[0-9a-f]{32}")
_DRAFT_PARTS = ("", "-wal", "-shm", ".lock", ".held")


def creating(draft: Path | str) -> AbstractContextManager[bool]:
    """Held by the process building `draft` for the whole of it: the kernel releases it when
    that process dies, which is how another process tells a killed create from a live one."""
    return write_lock(f"{draft}.held")


def _remove_draft(draft: Path) -> None:
    for part in _DRAFT_PARTS[:-1]:
        Path(f"{draft}{part}").unlink(missing_ok=True)


def _sweep_drafts(folder: Path) -> None:
    """Remove what creates that were killed left; leave a draft another process is building
    right now (two scans started together on a new case: the second is refused later, by the
    case's writer lock, not by losing the first's draft)."""
    drafts = {folder / match.group() for path in folder.iterdir()
              if (match := _DRAFT.match(path.name)) and path.name[match.end():] in _DRAFT_PARTS}
    for draft in drafts:
        try:
            with creating(draft):
                _remove_draft(draft)
        except CaseBusy:
            continue
        Path(f"{draft}.held").unlink(missing_ok=True)
