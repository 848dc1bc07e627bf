"""Issue 13 point 4, review of cross-case links: each link between two real cases sharing
three unknown people is a candidate a reviewer confirms, rejects or marks unsure, exactly like
a gallery hit: appended and sealed in the case's record, the latest decision counting, shown by
`homeward lab links`, in the report's cross-case leads (a rejected link is no lead) and on
the People page (C, R, U as on the Review page). The decisions outlive their links.

Real LFW photos scanned by `homeward scan` (shared SCRFD-500M + MobileFaceNet pack), the
cases of tests/test_lab_index.py; the commands run through the real CLI entry point.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
import test_lab_index
from PySide6.QtCore import Qt
from test_lab_index import audit_actions, expected_links, held_by_another_process, homeward, lab

from desktop.ui.pages.people import PeoplePage

cases = test_lab_index.cases  # the module's two real cases sharing three unknown people
REVIEWER = "Reviewer Ada"
WAIT_MS = 60_000


def registered_copy(cases, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of case A (its own record to write) and case B, registered to a fresh index."""
    copy = tmp_path / "case-A"
    shutil.copytree(cases.a.folder, copy)
    path = tmp_path / "lab.db"
    for folder in (copy, cases.b.folder):
        code, _, err = lab("register", "--case", folder, "--index", path)
        assert code == 0, err
    return copy, path


def links_of(folder: Path, index: Path) -> list[dict]:
    code, out, err = lab("links", "--case", folder, "--index", index, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def decide(folder: Path, index: Path, key: str, verdict: str, *more: str) -> tuple[int, str, str]:
    return lab("decide", "--case", folder, "--index", index, "--link", key, "--decision",
               verdict, *more)


def rows(folder: Path, sql: str, args: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(folder / "case.db")
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def audit_verifies(folder: Path) -> bool:
    code, out, err = homeward("audit", "verify", "--case", str(folder))
    assert code == 0, (out, err)
    return "intact" in out


def test_a_decision_is_a_sealed_append_only_row(cases, tmp_path):
    """Deciding a link appends one row to link_decisions, sealed by the audit row that ends
    its transaction; `audit verify` covers it; the row can be neither updated nor deleted."""
    copy, index = registered_copy(cases, tmp_path)
    link = links_of(copy, index)[0]
    before = len(audit_actions(copy))
    code, out, err = decide(copy, index, link["link"], "confirm", "--reviewer", REVIEWER,
                            "--note", "same scar, left brow")
    assert code == 0, err
    assert "confirm by Reviewer Ada" in out and "not an identification" in out
    assert rows(copy, "SELECT cluster_id, other_case_id, other_case_number, other_cluster_id, "
                      "score, verdict, reviewer, note FROM link_decisions") == [
        (link["cluster_id"], cases.b.case_id, "2025-B", link["other_cluster_id"], link["score"],
         "confirm", REVIEWER, "same scar, left brow")]
    actions = audit_actions(copy)
    assert len(actions) == before + 1
    action, payload = actions[-1]
    decision_id = rows(copy, "SELECT id FROM link_decisions")[0][0]
    assert action == "cross-case link decision"
    assert list(json.loads(payload)["sealed"]["link_decisions"]) == [str(decision_id)]
    assert audit_verifies(copy)
    conn = sqlite3.connect(copy / "case.db")
    try:
        for sql in ("UPDATE link_decisions SET verdict = 'reject'", "DELETE FROM link_decisions"):
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute(sql)
    finally:
        conn.close()


def test_the_latest_decision_counts_and_links_show_it(cases, tmp_path):
    """`lab links` keeps its fields and adds each link's status, reviewer, note, decided_at
    and a stable key; a changed mind adds a decision, and the latest one is shown."""
    copy, index = registered_copy(cases, tmp_path)
    links = links_of(copy, index)
    assert {(k["cluster_id"], k["other_cluster_id"]) for k in links} == expected_links(cases.a,
                                                                                      cases.b)
    assert all(set(k) == {"cluster_id", "other_case_id", "other_case_number", "other_cluster_id",
                          "score", "status", "reviewer", "note", "decided_at", "link"}
               for k in links)
    assert all((k["status"], k["reviewer"], k["note"], k["decided_at"]) ==
               ("pending", None, None, None) for k in links)
    key = links[1]["link"]
    assert key == f"{links[1]['cluster_id']}:{cases.b.case_id}:{links[1]['other_cluster_id']}"
    assert decide(copy, index, key, "confirm", "--reviewer", REVIEWER)[0] == 0
    assert decide(copy, index, key, "reject", "--reviewer", "Reviewer Bo", "--note",
                  "other ear shape")[0] == 0
    after = links_of(copy, index)
    assert [k["link"] for k in after] == [k["link"] for k in links]  # stable keys, same order
    decided = next(k for k in after if k["link"] == key)
    assert (decided["status"], decided["reviewer"], decided["note"]) == (
        "reject", "Reviewer Bo", "other ear shape")
    assert decided["decided_at"] > rows(copy, "SELECT MIN(decided_at) FROM link_decisions")[0][0]
    assert [k["status"] for k in after if k["link"] != key] == ["pending", "pending"]
    assert rows(copy, "SELECT verdict FROM link_decisions ORDER BY id") == [("confirm",),
                                                                           ("reject",)]
    code, out, _ = lab("links", "--case", copy, "--index", index)
    assert code == 0 and "reject by Reviewer Bo" in out and f"link {key}" in out
    assert out.count("pending: candidate lead, not reviewed") == 2


def test_bad_decisions_are_refused_and_nothing_is_written(cases, tmp_path):
    """An unknown link or an empty reviewer is a usage error (exit 2); a case another process
    writes, or a missing index, is refused (exit 3); the record is left as it was."""
    copy, index = registered_copy(cases, tmp_path)
    key = links_of(copy, index)[0]["link"]
    before = len(audit_actions(copy))
    code, _, err = decide(copy, index, "99999:nope:1", "confirm", "--reviewer", REVIEWER)
    assert code == 2 and "No link '99999:nope:1'" in err, err
    code, _, err = decide(copy, index, key, "confirm", "--reviewer", "   ")
    assert code == 2 and "reviewer's name" in err, err
    with held_by_another_process(f"{copy / 'case.db'}.lock"):
        code, _, err = decide(copy, index, key, "confirm", "--reviewer", REVIEWER)
        assert code == 3 and "being written by" in err, err
    code, _, err = decide(copy, tmp_path / "nowhere.db", key, "confirm", "--reviewer", REVIEWER)
    assert code == 3 and "No lab index at" in err, err
    assert len(audit_actions(copy)) == before
    assert rows(copy, "SELECT COUNT(*) FROM link_decisions") == [(0,)]
    assert audit_verifies(copy)


def test_the_report_shows_each_decision_and_leaves_rejected_links_out(
        cases, tmp_path, monkeypatch, isolated_data_dir):
    """Issue 13 point 6: the cross-case leads show who confirmed a link, when and why (still a
    lead), which are not reviewed, and count the rejected ones without presenting them."""
    data = tmp_path / "data"  # the export's head goes to this test's own data folder
    data.mkdir()
    (data / "packs").symlink_to(isolated_data_dir / "packs")
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(data))
    copy, index = registered_copy(cases, tmp_path)
    confirmed, rejected, pending = links_of(copy, index)
    assert decide(copy, index, confirmed["link"], "confirm", "--reviewer", REVIEWER, "--note",
                  "same <tattoo>")[0] == 0
    assert decide(copy, index, rejected["link"], "reject", "--reviewer", REVIEWER)[0] == 0
    out = tmp_path / "report.html"
    code, _, err = homeward("report", "--case", str(copy), "--format", "html", "--out", str(out))
    assert code == 0, err
    html = out.read_text(encoding="utf-8")
    section = html[html.index('id="cross-case"'):]
    assert "Same unknown person in other cases (2)" in section and "not identifications" in section
    when = rows(copy, "SELECT decided_at FROM link_decisions WHERE verdict = 'confirm'")[0][0]
    assert (f"confirmed by {REVIEWER} on {when[:10]} {when[11:16]} UTC: same &lt;tattoo&gt;"
            in section)
    assert section.count("candidate lead, not reviewed") == 1
    assert "1 confirmed, 0 unsure, 1 not yet reviewed; 1 rejected" in section
    shown = {(int(a), int(b)) for a, b in
             re.findall(r"<tr><td>(\d+)</td><td>2025-B</td><td>(\d+)</td>", section)}
    assert shown == {(k["cluster_id"], k["other_cluster_id"]) for k in (confirmed, pending)}


def test_decisions_outlive_their_links(cases, tmp_path):
    """Unregistering the other case removes its links, not the decisions on them (they are
    facts of this case's record); registered again, the pair shows its decision. A cluster
    merged away has no link left; its decision stays in the record."""
    copy, index = registered_copy(cases, tmp_path)
    first, second, _ = links_of(copy, index)
    assert decide(copy, index, first["link"], "unsure", "--reviewer", REVIEWER)[0] == 0
    assert decide(copy, index, second["link"], "confirm", "--reviewer", REVIEWER)[0] == 0
    code, _, err = lab("unregister", "--case", cases.b.folder, "--index", index)
    assert code == 0, err
    assert links_of(copy, index) == []
    assert rows(copy, "SELECT verdict FROM link_decisions ORDER BY id") == [("unsure",),
                                                                           ("confirm",)]
    assert audit_verifies(copy)
    assert lab("register", "--case", cases.b.folder, "--index", index)[0] == 0
    status = {k["link"]: k["status"] for k in links_of(copy, index)}
    assert (status[first["link"]], status[second["link"]]) == ("unsure", "confirm")
    into = next(c for c in cases.a.person_cluster.values()
                if c not in (first["cluster_id"], second["cluster_id"]))
    code, _, err = homeward("cluster", "merge", "--case", str(copy), "--cluster", str(into),
                            "--from", str(first["cluster_id"]))
    assert code == 0, err
    assert lab("register", "--case", copy, "--index", index)[0] == 0
    after = links_of(copy, index)
    assert first["cluster_id"] not in {k["cluster_id"] for k in after}
    assert {k["link"]: k["status"] for k in after}[second["link"]] == "confirm"
    assert rows(copy, "SELECT COUNT(*) FROM link_decisions") == [(2,)]
    assert audit_verifies(copy)


def test_the_people_page_reviews_links_with_the_review_keys(cases, tmp_path, window, qtbot):
    """On the People page, L lists the case's cross-case links; C on the list records a
    confirmation through the link service, then the next pending link is current; N, a note,
    Enter and R reject it with that note."""
    copy, index = registered_copy(cases, tmp_path)
    expected = links_of(copy, index)
    win = window(case=copy)
    win.state.update_settings(replace(win.state.settings, reviewer=REVIEWER, provider="cpu"))
    page = win.page(PeoplePage)
    win.show_page(win.pages.index(page))
    qtbot.waitUntil(lambda: not page.busy(), timeout=WAIT_MS)
    qtbot.keyClick(page.cluster_grid, Qt.Key.Key_L)
    qtbot.waitUntil(lambda: not page.busy(), timeout=WAIT_MS)
    table = page.links.table
    assert page.stack.currentWidget() is page.links and table.rowCount() == 3
    assert [table.item(r, 4).text() for r in range(3)] == ["pending: candidate lead, not reviewed"] * 3
    table.selectRow(0)
    qtbot.keyClick(table, Qt.Key.Key_C)
    assert rows(copy, "SELECT cluster_id, other_cluster_id, verdict, reviewer, note "
                      "FROM link_decisions") == [
        (expected[0]["cluster_id"], expected[0]["other_cluster_id"], "confirm", REVIEWER, None)]
    assert table.item(0, 4).text().startswith(f"confirm by {REVIEWER}")
    assert table.currentRow() == 1
    qtbot.keyClick(table, Qt.Key.Key_N)
    assert page.links.note.hasFocus()
    qtbot.keyClicks(page.links.note, "different nose")
    qtbot.keyClick(page.links.note, Qt.Key.Key_Return)
    qtbot.keyClick(table, Qt.Key.Key_R)
    assert [k["status"] for k in links_of(copy, index)] == ["confirm", "reject", "pending"]
    assert links_of(copy, index)[1]["note"] == "different nose"
    assert audit_verifies(copy)


def test_a_reclustering_keeps_the_cluster_a_link_decision_names(cases, tmp_path):
    """A link decision names this case's cluster: a full re-clustering (even under other
    parameters, which regroup clusters nobody worked on) keeps that cluster and its faces, so
    the decision stays attached to the faces the reviewer saw."""
    import dataclasses

    from desktop.engine.pack_store import resolve_pack
    from desktop.people.case_people import pack_params, recluster_case
    from desktop.scan.case import Case

    copy, index = registered_copy(cases, tmp_path)
    link = links_of(copy, index)[0]
    code, _, err = decide(copy, index, link["link"], "confirm", "--reviewer", REVIEWER)
    assert code == 0, err
    before = sorted(f for (f,) in rows(copy, "SELECT face_id FROM cluster_members "
                                             "WHERE cluster_id = ?", (link["cluster_id"],)))
    case = Case.open(copy)
    try:
        params = pack_params(resolve_pack(case.info.pack_id))
        strict = dataclasses.replace(params, link=params.link + 0.3)
        summary = recluster_case(case.db, strict, REVIEWER)
        assert summary.faces_moved > 0  # the stricter parameters did regroup the case
    finally:
        case.close()
    after = sorted(f for (f,) in rows(copy, "SELECT face_id FROM cluster_members "
                                            "WHERE cluster_id = ?", (link["cluster_id"],)))
    assert set(before) <= set(after)
    assert audit_verifies(copy)
