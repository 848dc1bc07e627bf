"""Issue 12, fault 1: the record seals every fact a report shows, not only itself.

Each tamper below is made on a copy of a real scanned and reviewed case, with every
append-only trigger dropped first, as anyone with an SQLite tool can. Before the sealed
record, `audit verify` said "intact" after each of the table edits, and reports printed
"verified intact" beside a falsified verdict.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import scanned_case

from desktop.review.decisions import decide
from desktop.review.queue import review_items
from desktop.scan.case import Case
from desktop.storage import audit
from desktop.storage.heads import heads_file
from desktop.storage.record import row_digest, verify_case


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory, test_pack) -> Path:
    """A real case: hits confirmed, rejected and unsure, one hit decided twice."""
    base = tmp_path_factory.mktemp("sealed")
    case, gallery, _ = scanned_case(base, test_pack, "S-1", "Examiner")
    top = [h for h in review_items(case.db) if h["rank"] == 1]
    assert len(top) >= 4
    decide(case.db, [top[0]["hit_id"]], "confirm", "Alice", "same scar")
    decide(case.db, [top[1]["hit_id"]], "reject", "Bob", "another person")
    decide(case.db, [top[2]["hit_id"]], "unsure", "Alice")
    decide(case.db, [top[2]["hit_id"]], "reject", "Alice", "changed my mind")
    case.close()
    gallery.close()
    return base / "case"


def homeward(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop", *args], capture_output=True,
                          text=True, timeout=300)


def attacked(case: Path, tmp_path: Path, sql: str) -> Path:
    """A copy of the case with every trigger dropped, then `sql` run on it."""
    copy = tmp_path / "attacked"
    shutil.copytree(case, copy)
    conn = sqlite3.connect(copy / "case.db")
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.executescript(sql)
    conn.commit()
    conn.close()
    return copy


def test_an_untouched_case_verifies_and_names_its_head(reviewed):
    done = homeward("audit", "verify", "--case", str(reviewed), "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and result["problems"] == []
    assert len(result["head"]) == 64 and int(result["head"], 16) >= 0
    plain = homeward("audit", "verify", "--case", str(reviewed))
    assert plain.returncode == 0 and result["head"] in plain.stdout and "intact" in plain.stdout


TAMPERS = {
    "decision reject→confirm": (
        "UPDATE decisions SET verdict = 'confirm' WHERE id = (SELECT MIN(id) FROM decisions "
        "WHERE verdict = 'reject');", "decisions row"),
    "decision note rewritten": (
        "UPDATE decisions SET note = 'certain' WHERE note = 'same scar';", "decisions row"),
    "decision deleted": (
        "DELETE FROM decisions WHERE id = (SELECT MAX(id) FROM decisions);", "missing (deleted)"),
    "decision inserted": (
        "INSERT INTO decisions (hit_id, verdict, reviewer, note, decided_at) "
        "SELECT hit_id, 'confirm', 'Mallory', NULL, decided_at FROM decisions LIMIT 1;",
        "not in the record"),
    "hit score 0.53→0.99": (
        "UPDATE hits SET score = 0.99 WHERE id = (SELECT MAX(id) FROM hits);", "hits row"),
    "hit person changed": (
        "UPDATE hits SET person_id = person_id + 1, person_name = 'Someone Else' "
        "WHERE id = (SELECT MIN(id) FROM hits);", "hits row"),
    "hit threshold changed": ("UPDATE hits SET threshold = 0.01;", "hits row"),
    "hit deleted": (
        "DELETE FROM hits WHERE id = (SELECT MAX(id) FROM hits WHERE id NOT IN "
        "(SELECT hit_id FROM decisions));", "missing (deleted)"),
    "file's SHA-256 changed": (
        "UPDATE contents SET sha256 = '" + "0" * 64 + "' WHERE id = 1;", "contents row 1"),
    "file's path changed": (
        "UPDATE files SET rel_path = 'elsewhere.jpg' WHERE id = 1;", "files row 1"),
    "face box moved": ("UPDATE faces SET box = '[0, 0, 10, 10]' WHERE id = 1;", "faces row 1"),
    "face embedding swapped": (
        "UPDATE faces SET embedding = (SELECT embedding FROM faces WHERE id = 2) WHERE id = 1;",
        "faces row 1"),
    "case threshold changed": (
        "UPDATE case_info SET value = '0.05' WHERE key = 'match_threshold';",
        "case_info row match_threshold"),
    "audit payload edited": (
        "UPDATE audit SET payload = '{\"verdict\": \"confirm\"}' WHERE action = 'decision';",
        "does not match its hash"),
    "audit row deleted": ("DELETE FROM audit WHERE seq = 3;", "a row was deleted"),
    "audit rows swapped": (
        "UPDATE audit SET seq = -seq WHERE seq IN (2, 3); UPDATE audit SET seq = 3 WHERE seq = -2;"
        "UPDATE audit SET seq = 2 WHERE seq = -3;", "does not follow"),
}


@pytest.mark.parametrize("tamper", TAMPERS)
def test_every_tamper_is_named_and_no_report_is_made(reviewed, tmp_path, tamper):
    sql, finding = TAMPERS[tamper]
    copy = attacked(reviewed, tmp_path, sql)
    done = homeward("audit", "verify", "--case", str(copy))
    assert done.returncode == 3, done.stdout
    assert finding in done.stderr, done.stderr
    out = tmp_path / "report.html"
    refused = homeward("report", "--case", str(copy), "--format", "html", "--out", str(out))
    assert refused.returncode != 0 and "does not verify" in refused.stderr
    assert not out.exists()


def _cut_last_decision(case: Path, tmp_path: Path) -> Path:
    """Remove the last decision and the audit rows from the one that sealed it on: what
    remains is a valid, shorter chain — only a head recorded elsewhere can show it."""
    return attacked(case, tmp_path, "DELETE FROM decisions WHERE id = (SELECT MAX(id) FROM "
                                    "decisions); DELETE FROM audit WHERE seq >= (SELECT MAX(seq) "
                                    "FROM audit WHERE action = 'decision');")


def _head(case: Path) -> str:
    opened = Case.open(case)
    try:
        return audit.verify(opened.db).head
    finally:
        opened.close()


def test_truncation_is_caught_by_an_expected_head(reviewed, tmp_path):
    head = _head(reviewed)
    copy = _cut_last_decision(reviewed, tmp_path)
    assert homeward("audit", "verify", "--case", str(copy)).returncode == 0  # the chain's limit
    done = homeward("audit", "verify", "--case", str(copy), "--expect-head", head)
    assert done.returncode == 3 and f"expected head {head} is not in this chain" in done.stderr
    assert homeward("audit", "verify", "--case", str(reviewed), "--expect-head",
                    head).returncode == 0
    bad = homeward("audit", "verify", "--case", str(reviewed), "--expect-head", "xyz")
    assert bad.returncode == 2 and "64 hexadecimal" in bad.stderr


def _forge(case: Path, tmp_path: Path) -> Path:
    """Flip a rejection to a confirmation and recompute its seal and every later hash, as an
    attacker with Homeward's own source code would."""
    copy = attacked(case, tmp_path, "")
    conn = sqlite3.connect(copy / "case.db")
    conn.row_factory = sqlite3.Row
    target = conn.execute("SELECT * FROM decisions WHERE verdict = 'reject' ORDER BY id "
                          "LIMIT 1").fetchone()
    conn.execute("UPDATE decisions SET verdict = 'confirm' WHERE id = ?", [target["id"]])
    forged_row = dict(conn.execute("SELECT * FROM decisions WHERE id = ?", [target["id"]]).fetchone())
    prev = audit.GENESIS
    for row in conn.execute("SELECT * FROM audit ORDER BY seq").fetchall():
        payload = json.loads(row["payload"])
        sealed = payload.get("sealed", {}).get("decisions", {})
        if str(target["id"]) in sealed:
            sealed[str(target["id"])] = row_digest("decisions", forged_row)
            payload["verdict"] = "confirm"
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        digest = audit.row_hash(prev, row["seq"], row["at"], row["actor"], row["action"], text)
        conn.execute("UPDATE audit SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     [text, prev, digest, row["seq"]])
        prev = digest
    conn.commit()
    conn.close()
    return copy


def test_a_forged_chain_is_caught_by_the_head_an_export_recorded(reviewed, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(reviewed, work)
    head_before = _head(work)
    forged_unexported = _forge(work, tmp_path / "a")
    # The limit, stated in the README: a full rewrite verifies on its own...
    assert homeward("audit", "verify", "--case", str(forged_unexported)).returncode == 0
    # ...but not against a head quoted earlier.
    assert homeward("audit", "verify", "--case", str(forged_unexported), "--expect-head",
                    head_before).returncode == 3
    # Once a report is exported, the workstation keeps its head outside the case.
    out = tmp_path / "r.html"
    assert homeward("report", "--case", str(work), "--format", "html", "--out",
                    str(out)).returncode == 0
    quoted = _head(work)  # the export row itself came after the quoted head
    recorded = [json.loads(line) for line in heads_file().read_text().splitlines()]
    mine = [r for r in recorded if r["what"].startswith(f"html report {out}")]
    assert len(mine) == 1 and mine[0]["head"] in out.read_text(encoding="utf-8")
    assert quoted != mine[0]["head"]
    for attack in (_forge, _cut_last_decision):
        copy = attack(work, tmp_path / attack.__name__)
        done = homeward("audit", "verify", "--case", str(copy))
        assert done.returncode == 3, attack.__name__
        assert "a report exported from this case recorded head" in done.stderr
        assert homeward("report", "--case", str(copy), "--format", "csv", "--out",
                        str(tmp_path / "x.csv")).returncode != 0


def test_every_write_path_leaves_a_verifiable_record(reviewed, tmp_path):
    """Scan, re-scan, decisions, exports, settings changes: each seals what it wrote."""
    case = Case.open(reviewed)
    try:
        report = verify_case(case.db)
        assert report.ok, report.problems
        sealed = {r["action"] for r in case.db.query("SELECT action FROM audit")}
        assert {"case created", "scan started", "files listed", "file hashed",
                "content analysed", "matched", "scan finished", "decision"} <= sealed
        assert case.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        case.close()


def test_faces_and_hits_cannot_be_stored_twice_even_past_the_lock(reviewed, tmp_path):
    """Issue 12, fault 2's second line of defence: unique constraints."""
    copy = tmp_path / "copy"
    shutil.copytree(reviewed, copy)
    conn = sqlite3.connect(copy / "case.db")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute("INSERT INTO faces (content_id, frame_index, timestamp_s, track_id, box, "
                     "landmarks, det_score, quality, embedding, crop, thumbnail) SELECT "
                     "content_id, frame_index, timestamp_s, track_id, box, landmarks, det_score, "
                     "quality, embedding, crop, thumbnail FROM faces LIMIT 1")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute("INSERT INTO hits (face_id, track_id, person_id, person_name, score, rank, "
                     "threshold, pack_id, flags, scan_id, created_at, gallery_id) SELECT face_id, "
                     "track_id, person_id, person_name, score, rank, threshold, pack_id, flags, "
                     "scan_id, created_at, gallery_id FROM hits LIMIT 1")
    conn.close()


def test_a_case_written_before_the_sealed_record_is_sealed_as_found_when_upgraded(tmp_path):
    """Schema 1 cases (no seals, no case id, hits without a gallery) open, verify, and name
    the upgrade in their trail; tampering after the upgrade is caught like in any case."""
    from desktop.storage.case_schema import CASE_APPLICATION_ID, MIGRATIONS
    from desktop.storage.database import open_database

    folder = tmp_path / "old"
    folder.mkdir()
    old = open_database(folder / "case.db", MIGRATIONS[:1], "case",
                        application_id=CASE_APPLICATION_ID, create=True)
    for key, value in (("case_number", "OLD-1"), ("examiner", "E"), ("source_root", "/x"),
                       ("gallery", "/g.db"), ("pack_id", "p"), ("model_hashes", {}),
                       ("match_threshold", 0.3), ("fps", 2.0), ("created_at", "2025")):
        old.execute("INSERT INTO case_info (key, value) VALUES (?, ?)", [key, json.dumps(value)])
    old.execute("INSERT INTO contents (sha256, md5, size, kind, format) VALUES ('a', 'b', 1, "
                "'image', 'jpeg')")
    old.execute("INSERT INTO scans (started_at, status, settings) VALUES ('2025', 'finished', '{}')")
    old.execute("INSERT INTO faces (content_id, box, landmarks, det_score, quality, embedding) "
                "VALUES (1, '[1, 2, 3, 4]', '[]', 0.9, '{}', x'00')")
    old.execute("INSERT INTO hits (face_id, person_id, person_name, score, rank, threshold, "
                "pack_id, scan_id, created_at) VALUES (1, 7, 'P', 0.5, 1, 0.3, 'p', 1, '2025')")
    old.conn.close()
    case = Case.open(folder)
    try:
        assert case.info.case_id and case.info.gallery_id is None
        assert [r["action"] for r in case.db.query("SELECT action FROM audit")] == [
            "record sealed", "record upgraded"]
        assert verify_case(case.db).ok
        assert [h["person_name"] for h in review_items(case.db)] == ["P"]  # legacy hits count
    finally:
        case.close()
    copy = attacked(folder, tmp_path, "UPDATE hits SET score = 0.99;")
    assert homeward("audit", "verify", "--case", str(copy)).returncode == 3


def test_an_upgrade_seals_again_only_the_rows_that_matched_their_seals(tmp_path):
    """Schema 4 adds columns to files and contents, which changes every row's digest: the
    upgrade seals them again, but a row edited behind Homeward's back before the upgrade
    must stay named by verification (re-sealing it would launder the edit)."""
    from desktop.storage.case_schema import CASE_APPLICATION_ID, MIGRATIONS
    from desktop.storage.database import open_database
    from desktop.storage.record import sealed, verify_case

    folder = tmp_path / "v3"
    folder.mkdir()
    old = open_database(folder / "case.db", MIGRATIONS[:3], "case",
                        application_id=CASE_APPLICATION_ID, create=True)
    with sealed(old, "E", "case created") as seal:
        for key, value in (("case_number", "V3-1"), ("examiner", "E"), ("source_root", "/x"),
                           ("gallery", ""), ("pack_id", "p"), ("model_hashes", {}),
                           ("match_threshold", 0.3), ("fps", 2.0), ("created_at", "2025"),
                           ("case_id", "c0ffee")):
            old.execute("INSERT INTO case_info (key, value) VALUES (?, ?)", [key, json.dumps(value)])
        seal.wrote("case_info", ["case_number", "examiner", "source_root", "gallery", "pack_id",
                                 "model_hashes", "match_threshold", "fps", "created_at", "case_id"])
    with sealed(old, "E", "file hashed") as seal:
        for n in (1, 2):
            old.execute("INSERT INTO contents (sha256, md5, size, kind, format) VALUES (?, 'm', 1, "
                        "'image', 'JPEG')", [f"sha{n}"])
            old.execute("INSERT INTO files (path_bytes, rel_path, size, content_id, seen_at) "
                        "VALUES (?, ?, 1, ?, '2025')", [f"p{n}".encode(), f"p{n}", n])
        seal.wrote("contents", [1, 2])
        seal.wrote("files", [1, 2])
    assert verify_case(old).ok
    old.execute("UPDATE contents SET md5 = 'forged' WHERE id = 2")  # behind Homeward's back
    old.conn.close()
    case = Case.open(folder)
    try:
        problems = verify_case(case.db).problems
        assert problems == ["contents row 2: differs from what audit row 2 sealed (edited)"]
        (source,) = case.db.query("SELECT label, kind, path FROM sources")
        assert source == {"label": "x", "kind": "folder", "path": "/x"}
    finally:
        case.close()
