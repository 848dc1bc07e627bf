"""Review on a real scanned case: decision history, survival across re-scans, bulk decisions,
and an audit trail whose tampering (edit, delete, reorder) is detected."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FACEDATA, scanned_case

from desktop.review.decisions import InvalidDecision, decide, history
from desktop.review.queue import hits_of_person, review_items
from desktop.scan.case import Case
from desktop.scan.job import ScanJob
from desktop.storage import audit

FR = FACEDATA / "face_recognition"


@pytest.fixture
def scanned(tmp_path: Path, test_pack):
    case, gallery, source = scanned_case(tmp_path, test_pack, "R-1", "examiner")
    return case, gallery, test_pack, source


def top_hits(case: Case) -> list[dict]:
    return [h for h in review_items(case.db) if h["rank"] == 1]


def test_decisions_are_appended_and_the_latest_is_current(scanned):
    case, *_ = scanned
    hit = top_hits(case)[0]
    assert hit["status"] == "pending"
    decide(case.db, [hit["hit_id"]], "confirm", "Alice", "same scar on the chin")
    decide(case.db, [hit["hit_id"]], "reject", "Bob", "second look: different ears")
    past = history(case.db, hit["hit_id"])
    assert [(d.verdict, d.reviewer) for d in past] == [("confirm", "Alice"), ("reject", "Bob")]
    now = next(h for h in review_items(case.db) if h["hit_id"] == hit["hit_id"])
    assert (now["status"], now["reviewer"], now["note"]) == ("reject", "Bob",
                                                              "second look: different ears")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        case.db.execute("UPDATE decisions SET verdict = 'confirm'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        case.db.execute("DELETE FROM decisions")


def test_bad_decisions_are_refused_and_nothing_is_written(scanned):
    case, *_ = scanned
    hit_id = top_hits(case)[0]["hit_id"]
    for args, message in (([hit_id], "identify", "A"), "must be one of"), \
                         (([hit_id], "confirm", "  "), "reviewer's name"), \
                         (([99999], "confirm", "A"), "No hit 99999"), \
                         (([hit_id], "confirm", "A\x1b[31m"), "control characters"):
        with pytest.raises(InvalidDecision, match=message):
            decide(case.db, *args)
    assert history(case.db, hit_id) == []


def test_bulk_decision_for_a_person_and_survival_across_rescans(scanned):
    case, gallery, pack, source = scanned
    obama = next(p["id"] for p in gallery.persons() if p["name"] == "Barack_Obama")
    obama_hits = hits_of_person(case.db, obama)
    assert len(obama_hits) >= 3
    decide(case.db, obama_hits, "confirm", "Alice")
    before = {h["hit_id"]: (h["status"], h["score"]) for h in review_items(case.db)}
    shutil.copyfile(sorted((FR / "Barack_Obama").glob("*.jpg"))[5], source / "new.jpg")
    ScanJob(case, pack, gallery, workers=1).run()  # a re-scan with one new photo
    after = {h["hit_id"]: (h["status"], h["score"]) for h in review_items(case.db)}
    assert {k: after[k] for k in before} == before  # every decision and hit kept as it was
    new = [h for h in review_items(case.db) if h["path"] == "new.jpg"]
    assert new and all(h["status"] == "pending" for h in new)


def tampered_copy(case: Case, tmp_path: Path, sql: str) -> Path:
    """A copy of the case with the audit triggers dropped and one change made, as an
    attacker with a database tool would."""
    copy = tmp_path / "tampered"
    shutil.copytree(case.folder, copy)
    conn = sqlite3.connect(copy / "case.db")
    for trigger in ("audit_no_update", "audit_no_delete", "audit_no_replace"):
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.executescript(sql)
    conn.commit()
    conn.close()
    return copy


def audit_verify(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop", "audit", "verify", "--case",
                           str(folder)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("sql, finding", [
    ("UPDATE audit SET payload = '{\"verdict\": \"reject\"}' WHERE action = 'decision';",
     "content does not match its hash (edited)"),
    ("DELETE FROM audit WHERE seq = 3;", "a row was deleted"),
    ("UPDATE audit SET seq = -seq WHERE seq IN (2, 3); UPDATE audit SET seq = 3 WHERE seq = -2;"
     "UPDATE audit SET seq = 2 WHERE seq = -3;", "does not follow"),  # rows 2 and 3 swapped
])
def test_audit_trail_detects_tampering(scanned, tmp_path, sql, finding):
    case, *_ = scanned
    decide(case.db, [top_hits(case)[0]["hit_id"]], "confirm", "Alice")
    actions = [r["action"] for r in case.db.query("SELECT action FROM audit ORDER BY seq")]
    assert actions[:4] == ["case created", "source added", "scan started", "files listed"]
    assert "scan finished" in actions and actions[-1] == "decision"
    intact = audit_verify(case.folder)
    assert intact.returncode == 0 and "intact" in intact.stdout
    head = audit.verify(case.db).head
    assert head in intact.stdout
    broken = audit_verify(tampered_copy(case, tmp_path, sql))
    assert broken.returncode == 3
    assert finding in broken.stderr, broken.stderr


def test_audit_rows_cannot_be_changed_through_sqlite(scanned):
    case, *_ = scanned
    for sql in ("UPDATE audit SET actor = 'x'", "DELETE FROM audit",
                "INSERT OR REPLACE INTO audit SELECT * FROM audit WHERE seq = 1"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            case.db.execute(sql)
    assert audit.verify(case.db).ok


def test_queue_shows_each_hits_rivals_and_track_bulk_covers_one_hit(scanned):
    case, *_ = scanned
    items = review_items(case.db)
    by_id = {h["hit_id"]: h for h in items}
    for hit in items:
        rivals = hit["other_candidates"]
        assert all(by_id[r["hit_id"]]["face_id"] == hit["face_id"] for r in rivals)
        assert hit["hit_id"] not in {r["hit_id"] for r in rivals}
        assert [r["rank"] for r in rivals] == sorted(r["rank"] for r in rivals)
    photo_hit = items[0]
    assert photo_hit["track_id"] is None
    from desktop.review.queue import hits_of_track

    assert hits_of_track(case.db, photo_hit["hit_id"]) == [photo_hit["hit_id"]]
    done = subprocess.run([sys.executable, "-m", "desktop", "review", "decide", "--case",
                           str(case.folder), "--track", str(photo_hit["hit_id"]), "--decision",
                           "unsure", "--reviewer", "Carol"], capture_output=True, text=True)
    assert done.returncode == 0 and "recorded 1 decision(s): unsure by Carol" in done.stdout
