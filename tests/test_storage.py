"""Storage layer: gallery files, migrations, transactions, append-only history, person fields.

Real SQLite files in tmp_path; no mocks.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from desktop.gallery.fields import LABELS, SEXES, InvalidField, PersonFields
from desktop.gallery.gallery import FaceRecord, Gallery, PhotoRecord
from desktop.storage.database import StorageError, migrate, open_database, transaction
from desktop.storage.gallery_schema import GALLERY_APPLICATION_ID, MIGRATIONS

TEST_APP_ID = 0x54535431  # "TST1"


class Boom(Exception):
    """Raised on purpose inside a transaction."""


def pragma(path: Path, name: str):
    """Read a pragma through a fresh, independent connection."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


@pytest.fixture
def gallery(tmp_path: Path):
    g = Gallery.create(tmp_path / "gallery.db")
    yield g
    g.close()


def add(g: Gallery, **fields) -> int:
    with g.writing() as w:
        return w.add_person(PersonFields(**{"name": "A", **fields}), "tester")


def count(g: Gallery, table: str) -> int:
    return int(g.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


# --- 1. creating ---------------------------------------------------------------------------------


def test_create_makes_a_wal_gallery_with_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    g = Gallery.create(path)
    try:
        assert path.is_file()
        assert g.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert g.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert g.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert g.db.execute("PRAGMA application_id").fetchone()[0] == GALLERY_APPLICATION_ID
        assert (tmp_path / "cases.store").is_dir()
        assert g.store == tmp_path / "cases.store"
    finally:
        g.close()
    # Persisted in the file itself, not only on that connection.
    assert pragma(path, "journal_mode") == "wal"
    assert pragma(path, "user_version") == len(MIGRATIONS)
    assert pragma(path, "application_id") == GALLERY_APPLICATION_ID
    assert {"persons", "photos", "embeddings", "person_history"} <= tables(path)
    reopened = Gallery.open(path)
    try:
        assert reopened.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        reopened.close()


@pytest.mark.parametrize("existing", ["gallery", "text"])
def test_create_over_an_existing_file_refuses_and_leaves_it_alone(tmp_path: Path, existing: str) -> None:
    path = tmp_path / "taken.db"
    if existing == "gallery":
        Gallery.create(path).close()
        (tmp_path / "taken.store").rmdir()
    else:
        path.write_text("someone's notes\n", encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(StorageError, match="already exists"):
        Gallery.create(path)
    assert path.read_bytes() == before
    assert not (tmp_path / "taken.store").exists()


# --- 2. opening what is not (or no longer) ours --------------------------------------------------


def test_open_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.db"
    with pytest.raises(StorageError, match="No gallery at") as info:
        Gallery.open(path)
    assert str(path) in str(info.value)
    assert not path.exists()
    assert not (tmp_path / "nowhere.store").exists()


def test_open_foreign_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("CREATE TABLE stuff (x)")
    conn.execute("INSERT INTO stuff VALUES (1)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StorageError, match="is not a Homeward gallery") as info:
        Gallery.open(path)
    assert "1234" in info.value.detail
    assert path.read_bytes() == before
    assert pragma(path, "journal_mode") == "delete"


def test_open_text_file_named_db(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("This is not a database at all.\n" * 40, encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(StorageError, match="cannot be opened as a gallery"):
        Gallery.open(path)
    assert path.read_bytes() == before


def make_newer(path: Path, journal_mode: str) -> bytes:
    Gallery.create(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    return path.read_bytes()


def test_open_gallery_from_a_newer_homeward(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    before = make_newer(path, "wal")
    with pytest.raises(StorageError, match="newer Homeward"):
        Gallery.open(path)
    assert path.read_bytes() == before
    assert pragma(path, "user_version") == len(MIGRATIONS) + 1


def test_open_newer_gallery_in_rollback_journal_mode_is_not_modified(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    before = make_newer(path, "delete")
    with pytest.raises(StorageError, match="newer Homeward"):
        Gallery.open(path)
    assert path.read_bytes() == before


# --- 3. migrations -------------------------------------------------------------------------------


def step_one(db) -> None:
    db.execute("CREATE TABLE one (x INTEGER)")


def step_two_broken(db) -> None:
    db.execute("CREATE TABLE two (y INTEGER)")
    db.execute("INSERT INTO one VALUES (42)")
    raise Boom("step 2 fails half-way")


def step_two_fixed(db) -> None:
    db.execute("CREATE TABLE two (y INTEGER)")


def test_migrate_is_transactional_per_step(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    open_database(path, [step_one], "test file", application_id=TEST_APP_ID,
                  create=True).conn.close()
    with pytest.raises(Boom):
        open_database(path, [step_one, step_two_broken], "test file",
                      application_id=TEST_APP_ID)
    assert pragma(path, "user_version") == 1
    assert pragma(path, "application_id") == TEST_APP_ID
    assert "one" in tables(path)
    assert "two" not in tables(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM one").fetchone()[0] == 0
    conn.close()

    # After the fix a re-open applies only step 2 (step 1 re-run would fail: table exists).
    db = open_database(path, [step_one, step_two_fixed], "test file", application_id=TEST_APP_ID)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert {"one", "two"} <= set(db.table_names())
    finally:
        db.conn.close()


def test_a_failed_create_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with pytest.raises(Boom):
        open_database(path, [step_one, step_two_broken], "test file",
                      application_id=TEST_APP_ID, create=True)
    assert not path.exists() and not list(tmp_path.iterdir())


def test_migrate_refuses_newer_schema_and_runs_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    db = open_database(path, [step_one, step_two_fixed], "test file",
                       application_id=TEST_APP_ID, create=True)
    ran = []
    with pytest.raises(StorageError, match="newer Homeward"):
        migrate(db, [lambda d: ran.append(1)], "test file")
    assert ran == []
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.conn.close()


# --- 4. transactions -----------------------------------------------------------------------------


def test_transaction_rolls_back_everything_on_error(tmp_path: Path) -> None:
    db = open_database(tmp_path / "t.db", [step_one], "test file",
                       application_id=TEST_APP_ID, create=True)
    try:
        with transaction(db):
            db.execute("INSERT INTO one VALUES (1)")
        with pytest.raises(Boom), transaction(db):
            db.execute("INSERT INTO one VALUES (2)")
            db.execute("CREATE TABLE extra (z)")
            db.execute("UPDATE one SET x = 100")
            raise Boom
        assert [r[0] for r in db.execute("SELECT x FROM one")] == [1]
        assert "extra" not in db.table_names()
        assert not db.conn.in_transaction
        with transaction(db):  # usable afterwards
            db.execute("INSERT INTO one VALUES (3)")
    finally:
        db.conn.close()
    conn = sqlite3.connect(tmp_path / "t.db")
    assert sorted(r[0] for r in conn.execute("SELECT x FROM one")) == [1, 3]
    conn.close()


# --- 5. append-only history ----------------------------------------------------------------------


def test_person_history_refuses_update_and_delete(gallery: Gallery) -> None:
    pid = add(gallery)
    rows = gallery.history(pid)
    assert [r["action"] for r in rows] == ["created"]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        gallery.db.execute("UPDATE person_history SET actor = 'someone else'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        gallery.db.execute("DELETE FROM person_history")
    # Also through an ordinary connection of another tool.
    conn = sqlite3.connect(gallery.path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE person_history SET details = '{}'")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM person_history WHERE seq = 1")
    conn.close()
    assert gallery.history(pid) == rows


def test_person_history_cannot_be_rewritten_by_insert_or_replace(gallery: Gallery) -> None:
    pid = add(gallery)
    rows = gallery.history(pid)
    conn = sqlite3.connect(gallery.path)  # recursive_triggers off, as in sqlite3 CLI / DB browsers
    try:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT OR REPLACE INTO person_history (seq, person_id, at, actor, action, "
                         "details) VALUES (?, ?, 'x', 'forger', 'created', '{}')",
                         [rows[0]["seq"], pid])
        conn.commit()
    finally:
        conn.close()
    assert gallery.history(pid) == rows


def test_remove_person_keeps_history_and_logs_snapshot(gallery: Gallery) -> None:
    pid = add(gallery, name="Ana Lima", aliases=("Nina",), sex="female", case_ref="C-17")
    with gallery.writing() as w:
        w.edit_person(pid, {"notes": "seen at the station"}, "tester")
    with gallery.writing() as w:
        w.remove_person(pid, "tester")
    assert count(gallery, "persons") == 0
    rows = gallery.history(pid)
    assert [r["action"] for r in rows] == ["created", "edited", "removed"]
    snapshot = rows[-1]["details"]["person"]
    assert snapshot["id"] == pid
    assert snapshot["name"] == "Ana Lima"
    assert snapshot["aliases"] == ["Nina"]
    assert snapshot["case_ref"] == "C-17"
    assert snapshot["notes"] == "seen at the station"
    assert rows[-1]["details"]["photos"] == []
    assert rows[-1]["actor"] == "tester"


# --- 6. writing() is atomic ----------------------------------------------------------------------


def face(vector) -> FaceRecord:
    return FaceRecord(box=[1.0, 2.0, 30.0, 40.0], landmarks=[[5.0, 6.0]] * 5, det_score=0.9,
                      quality={"blur": 1.0}, vector=np.asarray(vector, np.float32))


def photo(tmp_path: Path, content: bytes, vector) -> PhotoRecord:
    source = tmp_path / f"src-{hashlib.sha256(content).hexdigest()[:8]}.JPG"
    source.write_bytes(content)
    return PhotoRecord(source=source, sha256=hashlib.sha256(content).hexdigest(), width=64,
                       height=48, photo_date="2020-05", face=face(vector))


HASHES = {"detector": "d" * 64, "recognizer": "r" * 64}


def test_writing_is_atomic(gallery: Gallery, tmp_path: Path) -> None:
    rec = photo(tmp_path, b"fake jpeg bytes", [1, 0, 0, 0])
    with pytest.raises(Boom), gallery.writing() as w:
        pid = w.add_person(PersonFields(name="Ghost"), "tester")
        w.add_photo(pid, rec, "packA", HASHES, "tester")
        assert (gallery.store / f"{rec.sha256}.jpg").is_file()
        raise Boom
    for table in ("persons", "person_history", "photos", "embeddings"):
        assert count(gallery, table) == 0, table
    assert list(gallery.store.iterdir()) == []
    assert not gallery.db.conn.in_transaction
    # A committed write afterwards still works and is visible to another connection.
    pid = add(gallery, name="Real")
    conn = sqlite3.connect(gallery.path)
    assert conn.execute("SELECT name FROM persons WHERE id = ?", [pid]).fetchone() == ("Real",)
    conn.close()


# --- 7. edits and field validation ---------------------------------------------------------------


OLD = "2000-01-01T00:00:00.000+00:00"


def snapshot(g: Gallery, pid: int) -> tuple[dict, list[dict]]:
    return g.person(pid), g.history(pid)


def test_edit_person_records_only_the_changes(gallery: Gallery) -> None:
    pid = add(gallery, name="Ana", sex="female", age_min=20, age_max=30, notes="first")
    gallery.db.execute("UPDATE persons SET updated_at = ? WHERE id = ?", [OLD, pid])
    with gallery.writing() as w:
        diff = w.edit_person(pid, {"name": "Ana Maria", "sex": "FEMALE", "age_max": "35",
                                   "notes": "first", "case_ref": "C-1"}, "editor")
    assert diff == {"name": ["Ana", "Ana Maria"], "age_max": [30, 35], "case_ref": [None, "C-1"]}
    person = gallery.person(pid)
    assert person["name"] == "Ana Maria"
    assert person["age_max"] == 35
    assert person["sex"] == "female"
    assert person["case_ref"] == "C-1"
    assert person["updated_at"] > OLD
    assert person["created_at"] <= person["updated_at"]
    last = gallery.history(pid)[-1]
    assert (last["action"], last["actor"], last["details"]) == ("edited", "editor", diff)
    assert json.loads(json.dumps(last["details"])) == diff


def test_edit_person_with_nothing_new_changes_nothing(gallery: Gallery) -> None:
    pid = add(gallery, name="Ana", sex="male")
    gallery.db.execute("UPDATE persons SET updated_at = ? WHERE id = ?", [OLD, pid])
    before = snapshot(gallery, pid)
    with gallery.writing() as w:
        assert w.edit_person(pid, {"name": "  Ana ", "sex": "Male"}, "editor") == {}
    assert snapshot(gallery, pid) == before
    assert gallery.person(pid)["updated_at"] == OLD


@pytest.mark.parametrize("changes", [
    {"nickname": "Bob"},
    {"id": 99},
    {"created_at": "2001"},
    {"name": "Bob", "updated_at": "2001"},
    {"name": "   "},
    {"name": None},
    {"sex": "unsure"},
    {"birth_date": "01/02/2020"},
    {"age_min": 40},  # above the stored age_max
    {"age_max": 131},
    {"notes": "bad\x00byte"},
])
def test_edit_person_refuses_bad_changes_without_changing_anything(gallery: Gallery, changes) -> None:
    pid = add(gallery, name="Ana", age_min=20, age_max=30)
    before = snapshot(gallery, pid)
    # The refusal alone must not change anything, even when the transaction commits.
    with gallery.writing() as w, pytest.raises(InvalidField):
        w.edit_person(pid, changes, "editor")
    assert snapshot(gallery, pid) == before


def test_edit_unknown_person(gallery: Gallery) -> None:
    with pytest.raises(InvalidField, match="No person"), gallery.writing() as w:
        w.edit_person(12345, {"name": "X"}, "editor")
    assert count(gallery, "person_history") == 0


@pytest.mark.parametrize("name", ["", "   ", "\n\t", None])
def test_name_is_required(name) -> None:
    with pytest.raises(InvalidField, match="Name must not be empty"):
        PersonFields(name=name)


@pytest.mark.parametrize("field", ["name", "last_seen_place", "case_ref", "notes"])
@pytest.mark.parametrize("bad", ["A\x00B", "A\x07B", "A\x1bB", "A\x7fB", "A\rB"])
def test_control_characters_refused(field: str, bad: str) -> None:
    fields = {"name": "Ana", field: bad}
    with pytest.raises(InvalidField, match=f"{LABELS[field]} contains control characters"):
        PersonFields(**fields)


def test_control_characters_refused_in_aliases() -> None:
    with pytest.raises(InvalidField, match="Alias"):
        PersonFields(name="Ana", aliases=("ok", "b\x00d"))


def test_newlines_and_tabs_allowed_in_notes() -> None:
    assert PersonFields(name="Ana", notes="line 1\n\tline 2").notes == "line 1\n\tline 2"


@pytest.mark.parametrize("given", ["female", "Male", "OTHER", " unknown ", "FeMaLe"])
def test_sex_case_insensitive_stored_lower(gallery: Gallery, given: str) -> None:
    fields = PersonFields(name="Ana", sex=given)
    assert fields.sex == given.strip().lower()
    assert fields.sex in SEXES
    with gallery.writing() as w:
        pid = w.add_person(fields, "tester")
    assert gallery.person(pid)["sex"] == given.strip().lower()


@pytest.mark.parametrize("given", ["f", "woman", "males", "n/a", "0"])
def test_sex_outside_the_list_refused(given: str) -> None:
    with pytest.raises(InvalidField, match="Sex must be one of"):
        PersonFields(name="Ana", sex=given)


def test_blank_sex_means_none() -> None:
    assert PersonFields(name="Ana", sex="  ").sex is None


@pytest.mark.parametrize("field", ["birth_date", "last_seen_date"])
@pytest.mark.parametrize("good", ["1987", "2020-01", "2020-12", "2020-05-17", "2024-02-29",
                                  " 2020-05-17 "])
def test_dates_accepted(field: str, good: str) -> None:
    assert getattr(PersonFields(name="Ana", **{field: good}), field) == good.strip()


@pytest.mark.parametrize("field", ["birth_date", "last_seen_date"])
@pytest.mark.parametrize("bad", ["2020-13-01", "01/02/2020", "2020-00", "2020-01-32", "2020-1-5",
                                 "20200517", "87", "2020-05-17T10:00", "yesterday"])
def test_dates_refused(field: str, bad: str) -> None:
    with pytest.raises(InvalidField, match=f"{LABELS[field]} must be a date"):
        PersonFields(name="Ana", **{field: bad})


@pytest.mark.parametrize("bad", ["2021-02-30", "2021-04-31", "2023-02-29"])
def test_impossible_calendar_dates_refused(bad: str) -> None:
    with pytest.raises(InvalidField):
        PersonFields(name="Ana", birth_date=bad)


@pytest.mark.parametrize(("lo", "hi"), [(0, 0), (0, 130), (130, 130), (12, 15), ("7", " 9 "),
                                        (None, 40), (40, None), ("", "")])
def test_ages_accepted(lo, hi) -> None:
    fields = PersonFields(name="Ana", age_min=lo, age_max=hi)
    expect = [None if v is None or str(v).strip() == "" else int(str(v).strip()) for v in (lo, hi)]
    assert [fields.age_min, fields.age_max] == expect


@pytest.mark.parametrize(("lo", "hi", "message"), [
    (-1, None, "Minimum age must be between 0 and 130"),
    (None, 131, "Maximum age must be between 0 and 130"),
    (31, 30, "Minimum age .31. is greater than maximum age .30."),
    ("twelve", None, "Minimum age must be a whole number"),
    (None, "12.5", "Maximum age must be a whole number"),
])
def test_ages_refused(lo, hi, message: str) -> None:
    with pytest.raises(InvalidField, match=message):
        PersonFields(name="Ana", age_min=lo, age_max=hi)


NAMES = [
    "Анна Петрова",  # Cyrillic
    "فاطمة الزهراء",  # Arabic
    "王小明",  # CJK
    "김민준",  # Hangul
    "प्रिया शर्मा",  # Devanagari
    "Ελένη Παπαδοπούλου",  # Greek
    "Zoë O'Brien-Núñez",
]


@pytest.mark.parametrize("name", NAMES)
def test_names_in_many_scripts_round_trip(gallery: Gallery, name: str) -> None:
    nfc = unicodedata.normalize("NFC", name)
    pid = add(gallery, name=name, aliases=(name + " 2",), last_seen_place=name)
    person = gallery.person(pid)
    assert person["name"] == nfc
    assert person["aliases"] == [nfc + " 2"]
    assert person["last_seen_place"] == nfc
    assert gallery.persons_named(nfc) == [pid]
    assert gallery.history(pid)[0]["details"]["name"] == nfc
    conn = sqlite3.connect(gallery.path)  # stored as real text, not escaped
    assert conn.execute("SELECT name FROM persons WHERE id = ?", [pid]).fetchone()[0] == nfc
    assert nfc in conn.execute("SELECT details FROM person_history").fetchone()[0]
    conn.close()


def test_decomposed_accent_is_stored_composed(gallery: Gallery) -> None:
    decomposed = "Jose\u0301 Rene\u0301e"
    composed = "Jos\u00e9 Ren\u00e9e"
    assert decomposed != composed
    pid = add(gallery, name=decomposed, aliases=(decomposed,))
    person = gallery.person(pid)
    assert person["name"] == composed
    assert person["aliases"] == [composed]
    assert "\u0301" not in person["name"]
    assert gallery.persons_named(composed) == [pid]
    with gallery.writing() as w:  # the same name in decomposed form is no change
        assert w.edit_person(pid, {"name": decomposed}, "tester") == {}


# --- 8. embeddings and templates -----------------------------------------------------------------


def test_empty_gallery_has_empty_embeddings_and_templates(gallery: Gallery) -> None:
    add(gallery)  # a person with no photos still contributes no embedding
    person_ids, photo_ids, vectors = gallery.embeddings("any_pack")
    assert person_ids.shape == (0,) and photo_ids.shape == (0,)
    assert vectors.ndim == 2 and vectors.shape[0] == 0
    assert vectors.dtype == np.float32
    people, means = gallery.templates("any_pack")
    assert people.shape == (0,)
    assert means.ndim == 2 and means.shape[0] == 0
    assert means.dtype == np.float32


def test_embeddings_are_kept_per_pack(gallery: Gallery, tmp_path: Path) -> None:
    with gallery.writing() as w:
        a = w.add_person(PersonFields(name="A"), "tester")
        b = w.add_person(PersonFields(name="B"), "tester")
        w.add_photo(a, photo(tmp_path, b"a1", [3, 0, 0, 0]), "packA", HASHES, "tester")
        w.add_photo(a, photo(tmp_path, b"a2", [0, 4, 0, 0]), "packA", HASHES, "tester")
        w.add_photo(b, photo(tmp_path, b"b1", [0, 0, 0, 2]), "packA", HASHES, "tester")
    person_ids, photo_ids, vectors = gallery.embeddings("packA")
    assert person_ids.tolist() == [a, a, b]
    assert len(set(photo_ids.tolist())) == 3
    assert vectors.shape == (3, 4) and vectors.dtype == np.float32
    people, means = gallery.templates("packA")
    assert people.tolist() == [a, b]
    np.testing.assert_allclose(means, [[0.6, 0.8, 0, 0], [0, 0, 0, 1]], atol=1e-6)
    _, _, other = gallery.embeddings("packB")
    assert other.shape[0] == 0
    assert gallery.templates("packB")[1].shape[0] == 0
