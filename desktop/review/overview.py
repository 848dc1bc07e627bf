"""Where a case stands: files by status, faces, hits by verdict, scans, problem files,
exported reports. What the Cases and Scan pages show, and `homeward case show` prints."""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from desktop.review.decisions import VERDICTS, current_verdicts
from desktop.scan.case import Case, CaseInfo

INTERRUPTED = ("running", "cancelled", "failed")  # a later start resumes these


@dataclass(frozen=True)
class CaseOverview:
    info: CaseInfo
    files_by_status: dict[str, int]
    faces: int
    tracks: int
    hits: int
    verdicts: dict[str, int]  # pending, confirm, reject, unsure
    scans: list[dict]  # id, started_at, finished_at, status, settings
    exports: list[dict]  # at, actor, format, out, sha256

    @property
    def last_scan_interrupted(self) -> bool:
        """The last scan did not finish (killed, cancelled, failed): the next one resumes it."""
        return bool(self.scans) and self.scans[-1]["status"] in INTERRUPTED


def _count(db: sqlite_utils.Database, table: str) -> int:
    return next(db.query(f"SELECT COUNT(*) AS n FROM {table}"))["n"]


def case_overview(case: Case) -> CaseOverview:
    db = case.db
    files = {r["status"] or "pending": r["n"] for r in db.query(
        "SELECT status, COUNT(*) AS n FROM files GROUP BY status ORDER BY status")}
    hits = _count(db, "hits")
    decided = current_verdicts(db)
    verdicts = {v: sum(1 for d in decided.values() if d.verdict == v) for v in VERDICTS}
    verdicts = {"pending": hits - len(decided), **verdicts}
    scans = list(db.query("SELECT * FROM scans ORDER BY id"))
    for scan in scans:
        scan["settings"] = json.loads(scan["settings"])
    exports = [{"at": r["at"], "actor": r["actor"], **json.loads(r["payload"])}
               for r in db.query("SELECT at, actor, payload FROM audit WHERE action = 'export' "
                                 "ORDER BY seq")]
    return CaseOverview(case.info, files, _count(db, "faces"), _count(db, "tracks"), hits,
                        verdicts, scans, exports)


def problem_files(db: sqlite_utils.Database, limit: int = 10_000) -> list[dict]:
    """Files that could not be analysed, with the reason (row state, not crashes)."""
    return list(db.query(
        "SELECT rel_path, status, reason, size FROM files "
        "WHERE status IN ('corrupt', 'unreadable', 'unsupported') ORDER BY id LIMIT ?", [limit]))
