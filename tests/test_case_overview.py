"""`homeward case show` and the overview the Cases and Scan pages show: counts from the case
database, interrupted scans noticed, problem files listed."""

from __future__ import annotations

import json
from pathlib import Path

from desktop.cli import main
from desktop.review.decisions import decide
from desktop.review.overview import case_overview
from desktop.scan.case import Case


def test_case_show_counts_files_hits_and_verdicts(case_copy, capsys):
    case = Case.open(case_copy)
    hit_ids = [r["id"] for r in case.db.query("SELECT id FROM hits ORDER BY id")]
    assert len(hit_ids) >= 3
    decide(case.db, hit_ids[:2], "confirm", "Reviewer A")
    decide(case.db, hit_ids[2:3], "reject", "Reviewer A")
    decide(case.db, hit_ids[:1], "unsure", "Reviewer B")  # the latest decision counts
    files = next(case.db.query("SELECT COUNT(*) AS n FROM files"))["n"]
    case.close()

    assert main(["case", "show", "--case", str(case_copy), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["info"]["case_number"] == "UI-2026/1"
    assert sum(shown["files_by_status"].values()) == files
    assert shown["hits"] == len(hit_ids)
    assert shown["verdicts"] == {"pending": len(hit_ids) - 3, "confirm": 1, "reject": 1,
                                 "unsure": 1}
    assert [s["status"] for s in shown["scans"]] == ["finished"]
    recorded = shown["scans"][0]["settings"]  # what the hits were matched against
    assert recorded["gallery"] == str(Path(shown["info"]["gallery"]).resolve())
    assert (recorded["gallery_persons"], recorded["gallery_embeddings"]) == (2, 2)
    assert shown["last_scan_interrupted"] is False


def test_a_scan_that_never_finished_is_reported_as_interrupted(case_copy, capsys):
    case = Case.open(case_copy)
    case.start_scan({"workers": 1}, "examiner")  # as if the process was killed mid-scan
    assert case_overview(case).last_scan_interrupted
    case.close()
    assert main(["case", "show", "--case", str(case_copy)]) == 0
    assert "did not finish" in capsys.readouterr().out
