"""Issue 13 point 4, across cases: two real cases sharing three unknown people are registered
to a lab index; `homeward lab links` reports exactly those three people, `lab search` finds a
held-out photo's person in both cases, unregistering removes the links, and both sealed
records still verify with the registrations in them. Bad lab index files and cases are
refused with a clear error, leaving the index and the case as they were.

Real LFW photos scanned by `homeward scan` without a gallery (shared SCRFD-500M +
MobileFaceNet pack); the `lab` commands run through the real CLI entry point.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FACEDATA, REPO, TEST_PACK, require_shared
from test_people_case import labelled_faces

LFW = FACEDATA / "lfw"
SHARED_PEOPLE = ("Jennifer_Garner", "Pete_Sampras", "Tiger_Woods")  # in both cases
ONLY_IN = {"A": ("Nicole_Kidman", "Lleyton_Hewitt"), "B": ("Keanu_Reeves", "Norah_Jones")}


@dataclass(frozen=True)
class Scanned:
    folder: Path
    case_id: str
    person_cluster: dict[str, int]  # LFW identity -> its one cluster in this case
    person_face: dict[str, int]  # LFW identity -> one of its labelled faces


@dataclass(frozen=True)
class TwoCases:
    a: Scanned
    b: Scanned
    base: Path  # holds the held-out photos


def homeward(*args: str) -> tuple[int, str, str]:
    """The real `homeward` entry point, in this process (faster than a subprocess)."""
    from desktop.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def lab(*args: str | Path) -> tuple[int, str, str]:
    return homeward("lab", *map(str, args))


def _scanned(folder: Path) -> Scanned:
    from desktop.scan.case import Case

    code, out, err = homeward("clusters", "--case", str(folder), "--format", "json")
    assert code == 0, err
    found = json.loads(out)
    labelled = labelled_faces(found)
    clusters: dict[str, set[int]] = {}
    faces: dict[str, int] = {}
    for cluster in found:
        for face in cluster["faces"]:
            if face["face_id"] in labelled:
                clusters.setdefault(labelled[face["face_id"]], set()).add(cluster["cluster_id"])
                faces[labelled[face["face_id"]]] = face["face_id"]
    for person, ids in clusters.items():  # the premise: each person is one cluster of the case
        assert len(ids) == 1, (folder, person, ids)
    case = Case.open(folder)
    case_id = case.info.case_id
    case.close()
    return Scanned(folder, case_id, {p: next(iter(c)) for p, c in clusters.items()}, faces)


@pytest.fixture(scope="module")
def cases(tmp_path_factory, test_pack) -> TwoCases:
    """Case A and case B: different photos of the three shared people, people and strangers
    of their own; one photo of each shared person held out for `lab search --photo`."""
    require_shared()
    base = tmp_path_factory.mktemp("lab")
    sources = {name: base / f"source-{name}" for name in ("A", "B")}
    for source in sources.values():
        source.mkdir()
    for person in SHARED_PEOPLE:
        photos = sorted((LFW / person).glob("*.jpg"))
        for n, photo in enumerate(photos[:6]):
            shutil.copyfile(photo, sources["A" if n % 2 == 0 else "B"] / photo.name)
        shutil.copyfile(photos[6], base / f"held_out_{person}.jpg")
    strangers = [d for d in sorted(LFW.iterdir()) if len(list(d.glob("*.jpg"))) == 1][40:50]
    for name, source in sources.items():
        for person in ONLY_IN[name]:
            for photo in sorted((LFW / person).glob("*.jpg"))[:3]:
                shutil.copyfile(photo, source / photo.name)
        for folder in strangers[:5] if name == "A" else strangers[5:]:
            shutil.copyfile(next(folder.glob("*.jpg")), source / f"{folder.name}_0001.jpg")
    scans = {name: subprocess.Popen(
        [sys.executable, "-m", "desktop", "scan", str(source), "--case", str(base / f"case-{name}"),
         "--pack", TEST_PACK, "--workers", "1", "--quiet", "--case-number", f"2025-{name}"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, source in sources.items()}
    for name, scan in scans.items():
        _, err = scan.communicate(timeout=600)
        assert scan.returncode == 0, (name, err)
    return TwoCases(_scanned(base / "case-A"), _scanned(base / "case-B"), base)


@pytest.fixture
def index(cases, tmp_path) -> Path:
    """A fresh lab index with both cases registered."""
    path = tmp_path / "lab.db"
    for case in (cases.a, cases.b):
        code, out, err = lab("register", "--case", case.folder, "--index", path,
                             "--examiner", "Examiner Ada")
        assert code == 0, err
        assert "registered" in out
    return path


def expected_links(a: Scanned, b: Scanned) -> set[tuple[int, int]]:
    """(cluster of a, cluster of b) holding the same LFW person: the three shared people."""
    return {(a.person_cluster[p], b.person_cluster[p])
            for p in set(a.person_cluster) & set(b.person_cluster)}


def audit_actions(folder: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(folder / "case.db")
    rows = conn.execute("SELECT action, payload FROM audit ORDER BY seq").fetchall()
    conn.close()
    return rows


def verifies(folder: Path) -> bool:
    from desktop.scan.case import Case
    from desktop.storage.record import verify_case

    case = Case.open(folder)
    try:
        report = verify_case(case.db)
    finally:
        case.close()
    assert report.ok, report.problems
    return report.ok


@contextmanager
def held_by_another_process(lock: str) -> Iterator[subprocess.Popen]:
    """Another process holding a writer lock, as a running scan or register would."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom desktop.storage.lock import write_lock\n"
         "with write_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)",
         lock], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_links_report_exactly_the_three_shared_people(cases, index):
    """Issue 13 point 4: two cases sharing three unknown people report exactly those three
    links, from either side, best first, as leads (not identifications) in the table."""
    a, b = cases.a, cases.b
    expected = expected_links(a, b)
    assert len(expected) == 3
    code, out, err = lab("links", "--case", a.folder, "--index", index, "--format", "json")
    assert code == 0, err
    links = json.loads(out)
    assert all(set(k) == {"cluster_id", "other_case_id", "other_case_number", "other_cluster_id",
                          "score", "status", "reviewer", "note", "decided_at", "link"}
               for k in links)
    assert {(k["cluster_id"], k["other_cluster_id"]) for k in links} == expected
    assert len(links) == 3
    assert {(k["other_case_id"], k["other_case_number"]) for k in links} == {(b.case_id, "2025-B")}
    assert [k["score"] for k in links] == sorted((k["score"] for k in links), reverse=True)
    code, out, _ = lab("links", "--case", b.folder, "--index", index, "--format", "json")
    assert {(k["other_cluster_id"], k["cluster_id"]) for k in json.loads(out)} == expected
    code, out, _ = lab("links", "--case", a.folder, "--index", index)
    assert code == 0 and "not identifications" in out and "3 link(s)" in out


def test_search_by_a_held_out_photo_finds_the_person_in_both_cases(cases, index):
    """Issue 13 point 4: a face (an outside photo, or a face of a case) searched across all
    registered cases finds its person's cluster in both, above every other cluster."""
    a, b = cases.a, cases.b
    for person in SHARED_PEOPLE:
        code, out, err = lab("search", "--photo", cases.base / f"held_out_{person}.jpg",
                             "--index", index, "--format", "json")
        assert code == 0, err
        hits = json.loads(out)
        assert {(h["case_id"], h["cluster_id"]) for h in hits[:2]} == {
            (a.case_id, a.person_cluster[person]), (b.case_id, b.person_cluster[person])}, hits
        others = {(s.case_id, c) for s in (a, b) for p, c in s.person_cluster.items() if p != person}
        assert not others & {(h["case_id"], h["cluster_id"]) for h in hits}
    code, out, err = lab("search", "--case", a.folder, "--face", a.person_face["Tiger_Woods"],
                         "--index", index, "--format", "json")
    assert code == 0, err
    assert {(h["case_id"], h["cluster_id"]) for h in json.loads(out)} == {
        (a.case_id, a.person_cluster["Tiger_Woods"]), (b.case_id, b.person_cluster["Tiger_Woods"])}
    code, out, _ = lab("search", "--photo", cases.base / "held_out_Tiger_Woods.jpg",
                       "--index", index)
    assert code == 0 and "not identifications" in out and "2025-B" in out


def test_unregister_removes_the_links_and_both_records_verify(cases, index):
    """Issue 13 point 4: unregistering removes the case's entries (its links, its search
    hits); both sides keep the fact: the case's sealed record and the index's log."""
    a, b = cases.a, cases.b
    code, out, err = lab("unregister", "--case", b.folder, "--index", index,
                         "--examiner", "Examiner Bo")
    assert code == 0, err
    code, out, err = lab("links", "--case", a.folder, "--index", index, "--format", "json")
    assert code == 0 and json.loads(out) == [], err
    code, out, _ = lab("list", "--index", index, "--format", "json")
    assert [c["case_id"] for c in json.loads(out)] == [a.case_id]
    code, out, _ = lab("search", "--photo", cases.base / "held_out_Pete_Sampras.jpg",
                       "--index", index, "--format", "json")
    assert {h["case_id"] for h in json.loads(out)} == {a.case_id}
    assert verifies(a.folder) and verifies(b.folder)
    conn = sqlite3.connect(index)
    index_id = conn.execute("SELECT value FROM lab_info WHERE key = 'index_id'").fetchone()[0]
    log = conn.execute("SELECT action, case_id, details FROM log ORDER BY seq").fetchall()
    conn.close()
    assert [(action, case_id) for action, case_id, _ in log] == [
        ("registered", a.case_id), ("registered", b.case_id), ("unregistered", b.case_id)]
    actions = [(action, json.loads(payload)) for action, payload in audit_actions(b.folder)]
    mine = [(action, p) for action, p in actions if p.get("index_id") == index_id]
    assert [action for action, _ in mine] == ["lab index: registered", "lab index: unregistered"]
    assert all(p["index"] == str(index.resolve()) for _, p in mine)
    seq = json.loads(log[2][2])["case_audit_seq"]  # the index's log names the case's audit row
    assert actions[seq - 1][0] == "lab index: unregistered"


def test_registering_again_replaces_the_case_entries(cases, index):
    """Re-registering (after a new scan) replaces the case's entries, never adds to them;
    clusters of only low-quality faces get no template (they never link people)."""
    a = cases.a
    code, out_register, err = lab("register", "--case", a.folder, "--index", index)
    assert code == 0 and "re-registered" in out_register, err
    code, out, _ = lab("list", "--index", index, "--format", "json")
    listed = json.loads(out)
    assert sorted(c["case_id"] for c in listed) == sorted([a.case_id, cases.b.case_id])
    mine = next(c for c in listed if c["case_id"] == a.case_id)
    stored, left_out = map(int, re.search(r"(\d+) cluster\(s\) \((\d+) of only low-quality "
                                          r"faces left out\)", out_register).groups())
    conn = sqlite3.connect(a.folder / "case.db")
    assert mine["clusters"] == stored > 0
    assert stored + left_out == conn.execute("SELECT COUNT(*) FROM clusters").fetchone()[0]
    assert mine["faces"] < conn.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
    conn.close()
    code, out, _ = lab("links", "--case", a.folder, "--index", index, "--format", "json")
    assert len(json.loads(out)) == 3


def _unharmed(folder: Path, before: int) -> None:
    assert len(audit_actions(folder)) == before
    assert verifies(folder)


def test_a_missing_lab_index_is_named_and_not_created(cases, tmp_path):
    """Issue 13 bad input: a missing lab index is named; nothing is created in its place."""
    a = cases.a
    before = len(audit_actions(a.folder))
    missing = tmp_path / "nowhere.db"
    for args in (("links", "--case", a.folder), ("search", "--case", a.folder, "--face",
                                                 a.person_face["Tiger_Woods"]),
                 ("list",), ("unregister", "--case", a.folder)):
        code, _, err = lab(*args, "--index", missing)
        assert code == 3 and f"No lab index at {missing}" in err, (args, err)
    assert list(tmp_path.iterdir()) == []
    _unharmed(a.folder, before)


def test_a_lab_index_held_by_another_writer_is_refused(cases, index):
    """Issue 13 bad input: a lab index locked by another writer is refused naming who holds
    it; readers go on; the index and the case are left as they were."""
    a = cases.a
    before, kept = len(audit_actions(a.folder)), digest(index)
    with held_by_another_process(f"{index}.lock") as holder:
        for action in ("register", "unregister"):
            code, _, err = lab(action, "--case", a.folder, "--index", index)
            assert code == 3 and f"lab index {index} is being written by" in err, err
            assert f"process {holder.pid}" in err
        code, out, _ = lab("links", "--case", a.folder, "--index", index, "--format", "json")
        assert code == 0 and len(json.loads(out)) == 3  # readers are not blocked
    assert digest(index) == kept
    _unharmed(a.folder, before)


def test_a_lab_index_from_a_newer_homeward_is_refused(cases, index):
    """Issue 13 bad input: a lab index of a newer schema is refused, not touched."""
    a = cases.a
    conn = sqlite3.connect(index)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before, kept = len(audit_actions(a.folder)), digest(index)
    for args in (("register", "--case", a.folder), ("links", "--case", a.folder), ("list",)):
        code, _, err = lab(*args, "--index", index)
        assert code == 3 and "newer Homeward" in err, (args, err)
    assert digest(index) == kept
    _unharmed(a.folder, before)


def test_a_corrupt_lab_index_or_another_file_is_refused(cases, tmp_path):
    """Issue 13 bad input: a file that is not SQLite, or SQLite but not a lab index (a case.db),
    is refused and left as it was."""
    a = cases.a
    before = len(audit_actions(a.folder))
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all " * 400)
    case_db = tmp_path / "case-as-index.db"
    shutil.copyfile(a.folder / "case.db", case_db)
    for path, reason in ((garbage, "cannot be opened as a lab index"),
                         (case_db, "is not a Homeward lab index")):
        kept = digest(path)
        for args in (("register", "--case", a.folder), ("links", "--case", a.folder)):
            code, _, err = lab(*args, "--index", path)
            assert code == 3 and reason in err, (path, args, err)
        assert digest(path) == kept
    _unharmed(a.folder, before)


def test_a_case_not_registered_is_named(cases, tmp_path):
    """Issue 13 bad input: links or unregister of a case not in the index say so."""
    a, b = cases.a, cases.b
    path = tmp_path / "lab.db"
    assert lab("register", "--case", b.folder, "--index", path)[0] == 0
    before = len(audit_actions(a.folder))
    for action in ("links", "unregister"):
        code, _, err = lab(action, "--case", a.folder, "--index", path)
        assert code == 3 and "Case 2025-A is not registered" in err, err
    _unharmed(a.folder, before)


def test_a_case_of_another_pack_is_never_compared(cases, index, tmp_path):
    """Issue 13 bad input: a case of another pack (another embedding space) is refused by an
    index of shared_s cases, for register and for search."""
    from desktop.scan.case import Case, CaseInfo

    other = Case.create(tmp_path / "other", CaseInfo(
        "2025-X", "Examiner Ada", str(tmp_path), "", "open", {"recognizer": "0" * 64}, 0.9, 2.0,
        ""))
    other.close()
    before, kept = len(audit_actions(other.folder)), digest(index)
    code, _, err = lab("register", "--case", other.folder, "--index", index)
    assert code == 3 and "never compared" in err and "'open'" in err, err
    code, _, err = lab("search", "--case", other.folder, "--face", "1", "--index", index)
    assert code == 3 and "never compared" in err, err
    assert digest(index) == kept
    _unharmed(other.folder, before)


def test_links_say_when_the_case_changed_since_it_was_registered(cases, tmp_path):
    """Work on clusters after registering (a split here) leaves the index's entries behind;
    `lab links` says so, and registering again brings the new cluster in."""
    copy = tmp_path / "case-A"
    shutil.copytree(cases.a.folder, copy)
    path = tmp_path / "lab.db"
    for folder in (copy, cases.b.folder):
        assert lab("register", "--case", folder, "--index", path)[0] == 0
    code, _, err = lab("links", "--case", copy, "--index", path)
    assert code == 0 and "changed since it was registered" not in err
    person = "Jennifer_Garner"
    code, out, err = homeward("cluster", "split", "--case", str(copy), "--cluster",
                              str(cases.a.person_cluster[person]), "--face",
                              str(cases.a.person_face[person]))
    assert code == 0, err
    new_cluster = int(re.search(r"into cluster (\d+)", out).group(1))
    code, out, err = lab("links", "--case", copy, "--index", path, "--format", "json")
    assert code == 0 and "changed since it was registered" in err
    assert len(json.loads(out)) == 3
    assert lab("register", "--case", copy, "--index", path)[0] == 0
    code, out, err = lab("links", "--case", copy, "--index", path, "--format", "json")
    assert code == 0 and "changed since it was registered" not in err
    assert (new_cluster, cases.b.person_cluster[person]) in {
        (k["cluster_id"], k["other_cluster_id"]) for k in json.loads(out)}
    assert verifies(copy)


def test_a_case_being_written_is_not_registered_half(cases, tmp_path):
    """A case another process writes (a scan) is refused before the index is touched: the
    index is written only together with the case's audit row."""
    a = cases.a
    path = tmp_path / "lab.db"
    before = len(audit_actions(a.folder))
    with held_by_another_process(f"{a.folder / 'case.db'}.lock") as holder:
        code, _, err = lab("register", "--case", a.folder, "--index", path)
        assert code == 3 and "being written by" in err and f"process {holder.pid}" in err
    assert not path.exists()
    _unharmed(a.folder, before)


def test_a_scan_of_a_registered_case_updates_the_index_and_names_its_links(cases, tmp_path):
    """Issue 13 point 4: after a scan, the clusters this case shares with earlier registered
    cases are reported (leads for review); the scan also brings its new clusters in."""
    copy = tmp_path / "case-A"
    shutil.copytree(cases.a.folder, copy)
    path = tmp_path / "lab.db"
    for folder in (copy, cases.b.folder):
        assert lab("register", "--case", folder, "--index", path)[0] == 0
    source = tmp_path / "source-A"
    shutil.copytree(cases.base / "source-A", source)
    from desktop.scan.case import Case

    case = Case.open(copy)
    case.update_info({"source_root": str(source.resolve())}, "test", "source moved", {})
    case.close()
    shutil.copyfile(sorted((LFW / ONLY_IN["B"][0]).glob("*.jpg"))[5], source / "newcomer.jpg")
    registered = [a for a, _ in audit_actions(copy)].count("lab index: registered")
    code, out, err = homeward("scan", str(source), "--case", str(copy), "--pack", TEST_PACK,
                              "--workers", "1", "--quiet")
    assert code == 0, err
    assert "lab index: 4 cross-case link(s), 4 not reviewed yet, with case(s) 2025-B" in out, out
    code, out, err = lab("links", "--case", copy, "--index", path, "--format", "json")
    assert code == 0 and "changed since it was registered" not in err
    assert len(json.loads(out)) == 4  # the three shared people, and B's person now seen in A
    assert [a for a, _ in audit_actions(copy)].count("lab index: registered") == registered + 1
    assert verifies(copy)
    path.unlink()  # the index is gone: the scan still succeeds, and says so
    code, out, err = homeward("scan", str(source), "--case", str(copy), "--pack", TEST_PACK,
                              "--workers", "1", "--quiet")
    assert code == 0 and "the lab index was not updated" in err and not path.exists()


def test_reports_list_the_cross_case_links_as_leads(cases, tmp_path, monkeypatch,
                                                   isolated_data_dir):
    """Issue 13 point 6; the export's head goes to this test's own data folder (the module's
    other copies of case A share its id and go other ways)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "packs").symlink_to(isolated_data_dir / "packs")
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(data))
    copy = tmp_path / "case-A"
    shutil.copytree(cases.a.folder, copy)
    path = tmp_path / "lab.db"
    for folder in (copy, cases.b.folder):
        assert lab("register", "--case", folder, "--index", path)[0] == 0
    out = tmp_path / "report.html"
    code, _, err = homeward("report", "--case", str(copy), "--format", "html", "--out", str(out))
    assert code == 0, err
    html = out.read_text(encoding="utf-8")
    assert "Same unknown person in other cases (3)" in html
    assert html.count("<td>2025-B</td>") == 3 and "not identifications" in html
    assert lab("unregister", "--case", copy, "--index", path)[0] == 0
    code, _, err = homeward("report", "--case", str(copy), "--format", "html", "--out", str(out))
    assert code == 0 and "not registered in a lab index" in out.read_text(encoding="utf-8")
