"""Heads of case records, kept outside the cases (in the user data folder) each time a
report is exported: a chain cut short, or rewritten with recomputed hashes, no longer holds
a head this workstation once handed out, and `audit verify` says so.

One JSON line per export; the file is only ever appended to.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from desktop.storage.database import utc_now
from desktop.userdirs import data_dir

FILE_NAME = "record_heads.jsonl"


@dataclass(frozen=True)
class RecordedHead:
    case_id: str
    seq: int  # the audit row whose hash was handed out
    head: str
    what: str  # e.g. "html report /cases/x/report.html sha256 …"
    at: str


def heads_file() -> Path:
    return data_dir() / FILE_NAME


def record_head(case_id: str, seq: int, head: str, what: str) -> RecordedHead:
    entry = RecordedHead(case_id, seq, head, what, utc_now())
    path = heads_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(asdict(entry), ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def heads_of(case_id: str) -> list[RecordedHead]:
    """Every head recorded for this case; unreadable lines are skipped (the file is advisory
    evidence beside the case, not the case itself)."""
    try:
        lines = heads_file().read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            entry = RecordedHead(**json.loads(line))
        except (ValueError, TypeError):
            continue
        if entry.case_id == case_id:
            found.append(entry)
    return found
