"""Where a case stands: files by status, faces, hits by verdict, scans, problem files,
exported reports. What the Cases and Scan pages show, and `homeward case show` prints."""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from desktop.review.decisions import VERDICTS, current_verdicts
from desktop.scan.case import Case, CaseInfo
from desktop.scan.sources import case_sources, verification_words

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
    sources: list[dict]  # label, kind, format, path, sha256, md5, files, deleted, details
    known: list[dict]  # set_name, set_version, label, ignorable, priority, contents

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
    sources = []
    for source in case_sources(db):
        counts = next(db.query("SELECT COUNT(*) AS files, COALESCE(SUM(deleted), 0) AS deleted "
                               "FROM files WHERE source_id = ?", [source.source_id]))
        sources.append({"label": source.label, "kind": source.kind, "format": source.format,
                        "path": source.path, "sha256": source.sha256, "md5": source.md5,
                        **counts, "details": source.details})
    known = list(db.query(
        "SELECT set_name, set_version, label, ignorable, priority, COUNT(*) AS contents "
        "FROM known_files GROUP BY set_name, set_version, label, ignorable, priority "
        "ORDER BY priority DESC, set_name, label"))
    return CaseOverview(case.info, files, _count(db, "faces"), _count(db, "tracks"), hits,
                        verdicts, scans, exports, sources, known)


def source_summary(source: dict) -> str:
    """One line about a source: kind, hashes, and an E01's verification in words."""
    text = f"{source['label']}: {source['format'] or source['kind']}, {source['path']}"
    if source["sha256"]:
        text += f", SHA-256 {source['sha256']}"
    if source["kind"] == "e01":
        text += "; " + verification_words(source["details"] or {})
    if source["deleted"]:
        text += f"; {source['deleted']} deleted files recovered"
    return text


def problem_files(db: sqlite_utils.Database, limit: int = 10_000) -> list[dict]:
    """Files that could not be analysed, with the reason (row state, not crashes)."""
    return list(db.query(
        "SELECT rel_path, status, reason, size FROM files "
        "WHERE status IN ('corrupt', 'unreadable', 'unsupported', 'refused') ORDER BY id LIMIT ?",
        [limit]))
