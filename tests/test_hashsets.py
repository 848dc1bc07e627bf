"""Known-file hash sets (issue 14): VICS JSON, NSRL RDSv3 and plain lists imported into the
store, looked up by every algorithm, versioned, removed; bad inputs refused with nothing
written; lookups running while another process imports. Every input is a real file built
here in the shape the real ones are written in (synthetic digests, no real hash-set values)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from desktop.cli import hashsets_cmd
from desktop.errors import HomewardError, InvalidArguments
from desktop.hashsets.importers import detect_kind, import_file
from desktop.hashsets.store import HashSetError, HashSetStore, default_path, verdict
from desktop.storage.database import StorageError

PV_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
PV1_CONTEXT = "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Cases"
CAID_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media"
NSRL_SCHEMA = """
CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL,
 crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL,
 package_id INTEGER NOT NULL,
 CONSTRAINT PK_FILE__FILE PRIMARY KEY (sha256, sha1, md5, crc32, file_name, file_size, package_id));
CREATE TABLE MFG (manufacturer_id INTEGER NOT NULL, name VARCHAR NOT NULL,
 CONSTRAINT PK_MFG__MFG_ID PRIMARY KEY (manufacturer_id));
CREATE TABLE OS (operating_system_id INTEGER NOT NULL, name VARCHAR NOT NULL, version VARCHAR NOT NULL,
 manufacturer_id INTEGER NOT NULL,
 CONSTRAINT PK_OS__OS_ID PRIMARY KEY (operating_system_id, manufacturer_id));
CREATE TABLE PKG (package_id INTEGER NOT NULL, name VARCHAR NOT NULL, version VARCHAR NOT NULL,
 operating_system_id INTEGER NOT NULL, manufacturer_id INTEGER NOT NULL, language VARCHAR NOT NULL,
 application_type VARCHAR NOT NULL, CONSTRAINT PK_PGK__PKG_ID PRIMARY KEY (package_id,
 operating_system_id, manufacturer_id, language, application_type));
CREATE TABLE VERSION (version VARCHAR UNIQUE NOT NULL, build_set VARCHAR NOT NULL,
 build_date TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL, release_date TIMESTAMP NOT NULL,
 description VARCHAR NOT NULL, CONSTRAINT PK_VERSION__VERSION PRIMARY KEY (version));
CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5, crc32 FROM FILE;
"""


def digests(seed: str) -> tuple[str, str, str]:
    data = seed.encode()
    return (hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(),
            hashlib.sha256(data).hexdigest())


@pytest.fixture(autouse=True)
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data" / "hashsets.db"


def media(seed: str, category, **extra) -> dict:
    md5, sha1, _ = digests(seed)
    return {"MediaID": abs(hash(seed)) % 10**6, "Category": category, "MD5": md5.upper(),
            "SHA1": sha1.upper(), "MediaSize": 2835, "DateUpdated": "2023-06-07T02:31:49.8300Z",
            "IsPrecategorized": "true", "VictimIdentified": "false", **extra}


def write_vics(path: Path, records: list, context: str = PV_CONTEXT) -> Path:
    path.write_text(json.dumps({"@odata.context": context, "value": records}, indent=2),
                    encoding="utf-8")
    return path


def write_nsrl(path: Path, seeds: list[str], release: str = "2024-03-01 00:00:00") -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(NSRL_SCHEMA)
    for number, seed in enumerate(seeds):
        md5, sha1, sha256 = digests(seed)
        conn.execute("INSERT INTO FILE VALUES (?, ?, ?, ?, ?, ?, ?)",
                     [sha256.upper(), sha1.upper(), md5.upper(), "0A1B2C3D", f"{seed}.dll", 100, number])
    conn.execute("INSERT INTO VERSION VALUES ('2024.03.1', 'modern minimal', ?, ?, 'RDS 2024.03.1')",
                 [release, release])
    conn.commit()
    conn.close()
    return path


def lookup(seed: str, **options):
    md5, sha1, sha256 = digests(seed)
    with HashSetStore.open() as store:
        return store.lookup(md5, sha1, sha256, **options)


def test_vics_2_json_imports_with_categories_and_is_found_by_md5_and_sha1(tmp_path):
    """VICS 2.0 Media shape: each category keeps its meaning (ignorable / priority)."""
    source = write_vics(tmp_path / "pv.json", [
        media("cam", 1), media("exploitive", 2), media("cgi", 3), media("comparison", 4),
        media("nonpertinent", 0), media("uncategorised", None),
        media("later", "1", DateUpdated="2024-01-02T00:00:00Z")])
    report = import_file(source, examiner="examiner 7")
    s = report.hash_set
    assert (s.name, s.kind, s.version, s.current, s.examiner) == ("pv", "vics", 1, True, "examiner 7")
    assert (s.md5_count, s.sha1_count, s.sha256_count, s.bad_entries) == (7, 7, 0, 0)
    assert s.source_date == "2024-01-02T00:00:00Z"
    assert s.source_sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    expected = {"cam": ("projectvic:1", False, True), "exploitive": ("projectvic:2", False, True),
                "cgi": ("projectvic:3", False, False), "comparison": ("projectvic:4", False, False),
                "nonpertinent": ("projectvic:0", True, False),
                "uncategorised": ("projectvic:none", False, False),
                "later": ("projectvic:1", False, True)}
    for seed, (category, ignorable, priority) in expected.items():
        [match] = lookup(seed)
        assert (match.category, match.ignorable, match.priority) == (category, ignorable, priority)
        assert match.algorithms == ("sha1", "md5")
        assert (match.set_name, match.set_version) == ("pv", 1)
    md5, sha1, _ = digests("cam")
    with HashSetStore.open() as store:
        assert [m.algorithms for m in store.lookup(md5, None, "00" * 32)] == [("md5",)]
        assert [m.algorithms for m in store.lookup("00" * 16, sha1, "00" * 32)] == [("sha1",)]
        assert store.lookup("00" * 16, None, "00" * 32) == []
    assert lookup("cam")[0].label.startswith("Project VIC 1")


def test_vics_1_x_cases_shape_and_caid_numbers_are_read(tmp_path):
    """VICS 1.x puts Media inside Cases under "odata.metadata"; CAID (the UK model) numbers
    have no published meaning, so they are kept and neither skipped nor prioritised."""
    doc = {"odata.metadata": PV1_CONTEXT, "value": [
        {"CaseID": "{1B0B1B8E-0000-4000-8000-000000000001}", "CaseNumber": "C-1",
         "Media": [media("one", 1, MediaFiles=[{"FileName": "a.jpg", "FilePath": "x"}])],
         "SourceApplicationName": "test"},
        {"CaseID": "{1B0B1B8E-0000-4000-8000-000000000002}", "Media": [media("two", 0)]}]}
    source = tmp_path / "old.json"
    source.write_text(json.dumps(doc), encoding="utf-8")
    assert import_file(source).hash_set.md5_count == 2
    assert [m.category for m in lookup("one")] == ["projectvic:1"]
    assert [m.ignorable for m in lookup("two")] == [True]
    import_file(write_vics(tmp_path / "caid.json", [media("uk", 2)], CAID_CONTEXT))
    [match] = lookup("uk")
    assert (match.category, match.ignorable, match.priority) == ("caid:2", False, False)
    assert "CAID category 2" in match.label


def test_nsrl_rdsv3_is_imported_read_only_by_sha256_and_is_ignorable(tmp_path):
    """NSRL = known software: every file ignorable; the RDS file itself is never written."""
    source = write_nsrl(tmp_path / "RDS_2024.03.1_modern_minimal.db", ["kernel32", "notepad", "calc"])
    before = (source.read_bytes(), source.stat().st_mtime_ns)
    report = import_file(source, name="NSRL modern")
    assert (source.read_bytes(), source.stat().st_mtime_ns) == before
    assert not Path(f"{source}-wal").exists() and not Path(f"{source}-journal").exists()
    s = report.hash_set
    assert (s.kind, s.sha256_count, s.md5_count, s.source_date) == ("nsrl", 3, 0, "2024-03-01 00:00:00")
    [match] = lookup("notepad")
    assert (match.set_name, match.category, match.ignorable, match.priority) == (
        "NSRL modern", "nsrl", True, False)
    assert match.algorithms == ("sha256",)


def test_plain_list_counts_bad_lines_with_line_numbers_and_keeps_the_good(tmp_path):
    """Bad lines are reported (first 20 shown), never fatal while some lines are good."""
    md5, _, _ = digests("m")
    _, sha1, _ = digests("s1")
    _, _, sha256 = digests("s256")
    lines = ["# examiner's list", "", md5, f"{sha1.upper()}  photos/x.jpg", sha256]
    lines += [f"not-a-hash-{n}" for n in range(25)] + ["abc", md5]
    source = tmp_path / "mine.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(source, category="priority")
    s = report.hash_set
    assert (s.md5_count, s.sha1_count, s.sha256_count, s.duplicates) == (1, 1, 1, 1)
    assert report.bad_entries == 26 and len(report.bad_samples) == 20
    assert report.bad_samples[0].where == "line 6"
    assert "not-a-hash-0" in report.bad_samples[0].reason
    for seed, algorithm in (("m", "md5"), ("s1", "sha1"), ("s256", "sha256")):
        [match] = lookup(seed)
        assert (match.category, match.priority, match.algorithms) == ("list:priority", True, (algorithm,))


def test_reimport_adds_version_2_which_lookups_use_and_remove_takes_every_version(tmp_path):
    source = tmp_path / "list.txt"
    source.write_text(digests("old")[0] + "\n" + digests("both")[0] + "\n")
    import_file(source, name="local")
    source.write_text(digests("new")[0] + "\n" + digests("both")[0] + "\n")
    assert import_file(source, name="local").hash_set.version == 2
    assert [m.set_version for m in lookup("both")] == [2]
    assert lookup("old") == []
    assert [m.set_version for m in lookup("old", all_versions=True)] == [1]
    assert [m.set_version for m in lookup("new")] == [2]
    with HashSetStore.open() as store:
        assert [(s.version, s.current) for s in store.sets()] == [(1, False), (2, True)]
    from desktop.hashsets.store import remove_sets

    assert [s.version for s in remove_sets("local")] == [1, 2]
    assert lookup("both", all_versions=True) == []
    with HashSetStore.open() as store:
        assert store.sets() == []
    with pytest.raises(HashSetError, match="No hash set named"):
        remove_sets("local")


def test_batch_lookup_answers_in_order_and_verdict_puts_priority_first(tmp_path):
    import_file(write_vics(tmp_path / "pv.json", [media("shared", 1), media("only", 0)]))
    import_file(write_nsrl(tmp_path / "nsrl.db", ["shared", "software"]))
    files = [digests(seed) for seed in ("software", "nothing", "shared", "only")]
    with HashSetStore.open() as store:
        results = store.lookup_many(files)
    assert [sorted(m.set_name for m in found) for found in results] == [
        ["nsrl"], [], ["nsrl", "pv"], ["pv"]]
    assert verdict(results[2]).priority and not verdict(results[2]).ignorable
    assert verdict(results[0]).ignorable and verdict(results[3]).ignorable
    assert not verdict(results[1]).ignorable and not verdict(results[1]).priority


def test_kind_is_detected_by_content_not_by_name(tmp_path):
    assert detect_kind(write_vics(tmp_path / "a.txt", [media("x", 1)])) == "vics"
    assert detect_kind(write_nsrl(tmp_path / "b.json", ["x"])) == "nsrl"
    (tmp_path / "c.db").write_text(digests("x")[0] + "\n")
    assert detect_kind(tmp_path / "c.db") == "list"


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    whole = json.dumps({"@odata.context": PV_CONTEXT, "value": [media(str(n), 1) for n in range(50)]})
    truncated = tmp_path / "truncated.json"
    truncated.write_text(whole[: len(whole) // 2], encoding="utf-8")
    other_json = tmp_path / "other.json"
    other_json.write_text(json.dumps({"name": "not vics", "value": [1, 2]}), encoding="utf-8")
    no_file_table = tmp_path / "nofile.db"
    conn = sqlite3.connect(no_file_table)
    conn.execute("CREATE TABLE PKG (package_id INTEGER, name VARCHAR)")
    conn.commit()
    conn.close()
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n\n", encoding="utf-8")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 40)
    all_bad = tmp_path / "allbad.txt"
    all_bad.write_text("hello\nworld\n", encoding="utf-8")
    return {"truncated JSON": (truncated, "ends too early"),
            "non-VICS JSON": (other_json, "not an OData context"),
            "SQLite without FILE": (no_file_table, "no FILE table"),
            "empty list": (empty, "no valid hashes"),
            "binary junk": (junk, "binary file"),
            "no valid line": (all_bad, "no valid hashes")}


@pytest.mark.parametrize("case", ["truncated JSON", "non-VICS JSON", "SQLite without FILE",
                                  "empty list", "binary junk", "no valid line"])
def test_bad_inputs_are_refused_clearly_and_nothing_is_written(tmp_path, case):
    import_file(write_vics(tmp_path / "keep.json", [media("kept", 1)]))
    source, message = _bad_inputs(tmp_path)[case]
    before = source.read_bytes()
    with pytest.raises(HashSetError, match=message) as raised:
        import_file(source, name="keep")
    assert str(source) in raised.value.message and raised.value.exit_code == 2  # unusable input
    assert source.read_bytes() == before
    with HashSetStore.open() as store:
        assert [(s.name, s.version) for s in store.sets()] == [("keep", 1)]
        [match] = store.lookup(*digests("kept"))
        assert match.set_version == 1


def test_a_newer_store_is_refused_for_lookups_and_imports(tmp_path, own_store):
    import_file(write_vics(tmp_path / "pv.json", [media("x", 1)]))
    conn = sqlite3.connect(own_store)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(HashSetError, match="newer Homeward") as raised:
        HashSetStore.open()
    assert raised.value.exit_code == 3  # refused
    with pytest.raises(StorageError, match="newer Homeward"):
        import_file(write_vics(tmp_path / "pv2.json", [media("y", 1)]))


def test_another_sqlite_file_is_not_taken_for_the_store(own_store):
    own_store.parent.mkdir(parents=True)
    sqlite3.connect(own_store).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(HashSetError, match="not a Homeward hash-set store"):
        HashSetStore.open()


def test_a_store_never_created_reads_as_empty(own_store):
    with HashSetStore.open() as store:
        assert store.sets() == [] and store.lookup(*digests("x")) == []
    assert not own_store.exists() and default_path() == own_store


WRITER = """
import sys
from pathlib import Path
from desktop.hashsets.importers import import_file

def progress(rows):
    if rows == int(sys.argv[3]):  # the first 200,000 rows are written, uncommitted: wait here
        print("paused", rows, flush=True)
        sys.stdin.readline()

import_file(Path(sys.argv[1]), name="shared", store_path=Path(sys.argv[2]), progress=progress)
print("done", flush=True)
"""
PAUSE_AT = 250_000


def _writer(source: Path, store: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(source), str(store), str(PAUSE_AT)],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _second_version(tmp_path: Path) -> Path:
    """Version 1 holds "both"; the file for version 2 holds "both", "fresh" and 300,000 more."""
    first = tmp_path / "v1.txt"
    first.write_text(digests("both")[0] + "\n")
    import_file(first, name="shared")
    second = tmp_path / "v2.txt"
    with open(second, "w") as out:
        out.write(digests("both")[0] + "\n" + digests("fresh")[0] + "\n")
        out.writelines(f"{n:032x}\n" for n in range(300_000))
    return second


def test_lookups_keep_answering_from_the_old_version_while_another_process_imports(tmp_path,
                                                                                     own_store):
    """WAL: a reader is neither blocked by nor shown half of an import in progress."""
    writer = _writer(_second_version(tmp_path), own_store)
    try:
        assert writer.stdout.readline().strip() == f"paused {PAUSE_AT}", writer.stderr.read()
        with HashSetStore.open() as store:
            started = time.monotonic()
            assert [m.set_version for m in store.lookup(*digests("both"))] == [1]
            assert store.lookup(*digests("fresh")) == []
            assert [s.version for s in store.sets()] == [1]
            assert time.monotonic() - started < 5
            writer.stdin.write("\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "done", writer.stderr.read()
            assert [m.set_version for m in store.lookup(*digests("both"))] == [2]
            assert [m.set_version for m in store.lookup(*digests("fresh"))] == [2]
    finally:
        writer.kill()
        writer.wait()


def test_a_killed_import_leaves_no_partial_set(tmp_path, own_store):
    writer = _writer(_second_version(tmp_path), own_store)
    assert writer.stdout.readline().strip() == f"paused {PAUSE_AT}", writer.stderr.read()
    writer.kill()
    writer.wait()
    with HashSetStore.open() as store:
        assert [(s.name, s.version) for s in store.sets()] == [("shared", 1)]
        assert store.lookup(*digests("fresh"), all_versions=True) == []
    (tmp_path / "again.txt").write_text(digests("fresh")[0] + "\n")
    assert import_file(tmp_path / "again.txt", name="shared").hash_set.version == 2


def test_a_hundred_thousand_line_list_imports_fast_and_lookups_are_cheap(tmp_path):
    source = tmp_path / "big.txt"
    with open(source, "w") as out:
        out.writelines(hashlib.md5(str(n).encode()).hexdigest() + "\n" for n in range(100_000))
    started = time.perf_counter()
    assert import_file(source).hash_set.md5_count == 100_000
    assert time.perf_counter() - started < 10  # about 1 s here; 10^6 lines in bench/hashsets.py
    files = [(hashlib.md5(str(n).encode()).hexdigest(), None, "00" * 32) for n in range(0, 100_000, 50)]
    with HashSetStore.open() as store:
        started = time.perf_counter()
        found = [store.lookup(*f) for f in files]
        per_lookup = (time.perf_counter() - started) / len(files)
    assert all(len(m) == 1 for m in found)
    assert per_lookup < 0.001  # about 0.06 ms here; a scan analyses 5-50 files a second


def _cli(argv: list[str]) -> int:
    """The hashsets commands through a parser of their own, handled as desktop.cli.main does."""
    parser = argparse.ArgumentParser(prog="homeward")
    hashsets_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except HomewardError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code


@pytest.mark.parametrize("run", [_cli, "main"])
def test_cli_import_list_remove_with_json_and_exit_codes(tmp_path, capsys, run):
    """`main` needs desktop/cli/__init__.py to register hashsets_cmd (the lead's change)."""
    if run == "main":
        from desktop.cli import main as run
    good = write_vics(tmp_path / "pv.json", [media("a", 1), media("b", 0)])
    assert run(["hashsets", "import", str(good), "--format", "json", "--examiner", "ex"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["set"]["name"] == "pv" and out["set"]["md5_count"] == 2 and out["bad_entries"] == 0
    assert out["set"]["examiner"] == "ex" and out["set"]["current"] is True
    mixed = tmp_path / "mixed.txt"
    mixed.write_text(digests("c")[0] + "\nnope\n")
    assert run(["hashsets", "import", str(mixed), "--category", "notable"]) == 1
    text = capsys.readouterr().out
    assert "imported mixed version 1" in text and "line 2" in text
    assert run(["hashsets", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["name"], s["version"], s["kind"]) for s in listed] == [("mixed", 1, "list"),
                                                                     ("pv", 1, "vics")]
    assert run(["hashsets", "list"]) == 0
    assert "pv" in capsys.readouterr().out
    assert run(["hashsets", "remove", "pv"]) == 0
    assert "removed pv version 1" in capsys.readouterr().out
    assert run(["hashsets", "import", str(tmp_path / "missing.txt")]) == 2
    assert "cannot be read" in capsys.readouterr().err
    assert run(["hashsets", "import", str(good), "--category", "known"]) == 2
    assert run(["hashsets", "remove", "pv"]) == 2


def test_category_is_refused_for_sets_that_carry_their_own(tmp_path):
    with pytest.raises(InvalidArguments, match="plain lists"):
        import_file(write_vics(tmp_path / "pv.json", [media("a", 1)]), category="priority")
