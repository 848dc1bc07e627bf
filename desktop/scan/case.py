"""A case: a folder with case.db and derived files; the seized source is only ever read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from desktop.errors import HomewardError
from desktop.storage import audit
from desktop.storage.case_schema import CASE_APPLICATION_ID, MIGRATIONS
from desktop.storage.database import open_database, transaction, utc_now

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


class Case:
    def __init__(self, folder: Path, db: sqlite_utils.Database) -> None:
        self.folder = folder
        self.db = db

    @classmethod
    def create(cls, folder: Path, info: CaseInfo) -> Case:
        folder = Path(folder)
        if (folder / DB_NAME).exists():
            raise CaseError(f"{folder} already holds a case; open it instead.")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "crops").mkdir(exist_ok=True)
        (folder / "thumbs").mkdir(exist_ok=True)
        db = open_database(folder / DB_NAME, MIGRATIONS, "case",
                           application_id=CASE_APPLICATION_ID, create=True)
        with transaction(db):
            for key, value in info.__dict__.items():
                db.execute("INSERT INTO case_info (key, value) VALUES (?, ?)",
                           [key, json.dumps(value)])
            audit.append(db, info.examiner, "case created", info.__dict__)
        return cls(folder, db)

    @classmethod
    def open(cls, folder: Path) -> Case:
        folder = Path(folder)
        db = open_database(folder / DB_NAME, MIGRATIONS, "case", application_id=CASE_APPLICATION_ID)
        return cls(folder, db)

    @property
    def info(self) -> CaseInfo:
        values = {r["key"]: json.loads(r["value"]) for r in self.db.query("SELECT * FROM case_info")}
        return CaseInfo(**values)

    def start_scan(self, settings: dict, actor: str) -> int:
        with transaction(self.db):
            cursor = self.db.execute(
                "INSERT INTO scans (started_at, status, settings) VALUES (?, 'running', ?)",
                [utc_now(), json.dumps(settings)])
            scan_id = int(cursor.lastrowid)
            audit.append(self.db, actor, "scan started", {"scan_id": scan_id, **settings})
        return scan_id

    def finish_scan(self, scan_id: int, status: str, actor: str, summary: dict) -> None:
        with transaction(self.db):
            self.db.execute("UPDATE scans SET finished_at = ?, status = ? WHERE id = ?",
                            [utc_now(), status, scan_id])
            audit.append(self.db, actor, f"scan {status}", {"scan_id": scan_id, **summary})

    def close(self) -> None:
        self.db.conn.close()
