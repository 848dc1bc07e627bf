"""Gallery imports on real faces: hundreds of LFW identities by folder and by CSV, bad rows,
atomic failure, reindexing with another pack, 10,000-person case-data imports."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import FACEDATA, TEST_PACK, require_shared
from PIL import Image

from desktop.engine.engine import EngineOptions
from desktop.gallery.fields import PersonFields
from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import PackInfo, import_rows, reindex, resolve_pending
from desktop.gallery.sources import ImportRow, ImportSourceError, rows_from_csv, rows_from_folder
from desktop.scan.analyze import analyze_paths


def lfw_identities(start: int, count: int) -> list[Path]:
    require_shared()
    return sorted(p for p in (FACEDATA / "lfw").iterdir() if p.is_dir())[start:start + count]


@pytest.fixture(scope="module")
def engine_for(test_pack):
    def make(pack):
        info = PackInfo(pack.id, pack.manifest.model_hashes)
        return info, lambda paths: analyze_paths(paths, pack, EngineOptions(provider="cpu"))
    return make


@pytest.fixture
def gallery(tmp_path: Path) -> Gallery:
    return Gallery.create(tmp_path / "gallery.db")


def person_folders(root: Path, identities: list[Path]) -> Path:
    """`<root>/<name>/<photos>` made of links to the LFW photos (the import copies them)."""
    for identity in identities:
        (root / identity.name).mkdir(parents=True)
        for photo in identity.iterdir():
            (root / identity.name / photo.name).symlink_to(photo)
    return root


def test_folder_import_of_200_identities_round_trips(gallery, tmp_path, engine_for, test_pack):
    identities = lfw_identities(0, 200)
    root = person_folders(tmp_path / "people", identities)
    rows, problems = rows_from_folder(root)
    pack, analyze = engine_for(test_pack)
    report = import_rows(gallery, rows, analyze, pack, "tester", problems)
    photos = sum(len(list(i.iterdir())) for i in identities)
    print(f"\nfolder import: {len(identities)} identities, {photos} photos -> "
          f"{len(report.persons_created)} persons, {report.photos_added} photos, "
          f"{len(report.pending)} awaiting a face choice, {len(report.problems)} problems")
    assert report.photos_added + len(report.pending) + len(report.problems) == photos
    assert all("no face" in p.reason for p in report.problems)
    # LFW photos often show bystanders: those wait for the investigator's choice of face.
    assert report.photos_added > 0.8 * photos and report.pending
    assert len(gallery.pending()) == len(report.pending)
    persons = gallery.persons()
    assert len(persons) == len(report.persons_created) >= 170
    assert all(p["photos"] == p["faces"] for p in persons)
    assert {p["name"] for p in persons} <= {i.name.replace("_", " ") for i in identities}
    # The stored copy is byte-identical to the source, named by its SHA-256.
    photo = gallery.photos(persons[0]["id"])[0]
    assert gallery.stored_path(photo).read_bytes() == Path(photo["original_path"]).read_bytes()
    # Embeddings come back exactly as the engine made them, unit length, tagged by pack.
    person_ids, _, vectors = gallery.embeddings(TEST_PACK)
    assert vectors.shape == (report.photos_added, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    people, templates = gallery.templates(TEST_PACK)
    with_faces = sum(1 for p in persons if p["faces"])  # the others wait for a face choice
    assert len(people) == with_faces and templates.shape == (with_faces, 512)
    # Matching against templates finds each person's own photos first.
    best = np.argmax(vectors @ templates.T, axis=1)
    assert np.mean(people[best] == person_ids) > 0.98
    # Importing the same folder again adds nothing.
    again = import_rows(gallery, *rows_from_folder(root)[:1], analyze, pack, "tester")
    assert again.photos_added == 0 and again.persons_created == []
    assert len(again.duplicates) == report.photos_added + len(report.pending)


def write_csv(path: Path, rows: list[dict], encoding: str = "utf-8") -> None:
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


SCRIPTS = ["Анна Петрова", "فاطمة الزهراء", "王小明", "Nguyễn Thị Lan", "Åsa Ødegård"]


def test_csv_import_good_rows_land_bad_rows_are_reported(gallery, tmp_path, engine_for, test_pack):
    identities = lfw_identities(200, 100)
    photos_dir = tmp_path / "refs"
    photos_dir.mkdir()
    rows = []
    for n, identity in enumerate(identities):
        for photo in sorted(identity.iterdir())[:2]:
            (photos_dir / photo.name).symlink_to(photo)
            rows.append({"name": SCRIPTS[n] if n < len(SCRIPTS) else identity.name,
                         "photo": f"refs/{photo.name}", "aliases": "A;B" if n == 0 else "",
                         "sex": "Female" if n % 2 else "male", "case_ref": f"CASE-{n:04d}",
                         "last_seen_date": "2024-05", "age_min": "10", "age_max": "14",
                         "face": "", "photo_date": ""})
    (tmp_path / "refs" / "text.jpg").write_text("not an image", encoding="utf-8")
    Image.new("RGB", (300, 300), "gray").save(tmp_path / "refs" / "blank.jpg")
    bad = [
        {**rows[0], "name": "Missing Photo", "photo": "refs/none.jpg", "case_ref": "X1"},
        {**rows[0], "name": "Bad Sex", "sex": "robot", "case_ref": "X2"},
        {**rows[0], "name": "Bad Date", "last_seen_date": "31/12/2024", "case_ref": "X3"},
        {**rows[0], "name": "Bad Ages", "age_min": "15", "case_ref": "X4"},
        {**rows[0], "name": "No Face", "photo": "refs/blank.jpg", "case_ref": "X5"},
        {**rows[0], "name": "Text File", "photo": "refs/text.jpg", "case_ref": "X6"},
        {**rows[0], "name": "Face Three", "face": "3", "case_ref": "X7"},
        {**rows[0], "name": "", "case_ref": "X8"},
    ]
    csv_path = tmp_path / "persons.csv"
    write_csv(csv_path, rows + bad)
    with open(csv_path, "ab") as handle:  # one row in Latin-1: not UTF-8
        handle.write("Jos\xe9 Latin,refs/x.jpg,,,,,,,,,\r\n".encode("latin-1"))
    parsed, problems = rows_from_csv(csv_path)
    pack, analyze = engine_for(test_pack)
    report = import_rows(gallery, parsed, analyze, pack, "tester", problems)
    reasons = {p.where.split(" row ")[1]: p.reason for p in report.problems}
    first_bad = len(rows) + 2  # header is row 1
    expected = ["not found", "Sex must be", "Last seen date must be", "Minimum age (15)",
                "no face found", "cannot be read", "face 3 does not exist", "Name must not",
                "not valid UTF-8"]
    for offset, fragment in enumerate(expected):
        assert fragment in reasons[str(first_bad + offset)], (offset, reasons)
    names = {p["name"]: p for p in gallery.persons()}
    assert set(SCRIPTS) <= set(names)  # names in any script survive exactly
    assert names[SCRIPTS[0]]["aliases"] == ["A", "B"]
    assert names[SCRIPTS[1]]["sex"] == "female" and names[SCRIPTS[1]]["case_ref"] == "CASE-0001"
    assert not {"Missing Photo", "Bad Sex", "No Face", "Text File"} & set(names)
    assert report.photos_added >= 0.8 * len(rows)
    assert len(report.persons_created) >= 0.85 * len({r["case_ref"] for r in rows})


def test_csv_without_required_columns_changes_nothing(gallery, tmp_path):
    path = tmp_path / "p.csv"
    write_csv(path, [{"fullname": "A", "image": "a.jpg"}])
    before = gallery.path.read_bytes()
    with pytest.raises(ImportSourceError, match="lacks the column"):
        rows_from_csv(path)
    assert gallery.path.read_bytes() == before


def test_semicolon_csv_with_bom_is_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffname;photo;sex\r\nMaría;;female\r\n".encode())
    rows, problems = rows_from_csv(path)
    assert problems == [] and rows[0].person.name == "María" and rows[0].photo is None


def test_a_failure_while_writing_leaves_the_gallery_as_it_was(gallery, tmp_path, engine_for,
                                                             test_pack, monkeypatch):
    root = person_folders(tmp_path / "people", lfw_identities(300, 20))
    pack, analyze = engine_for(test_pack)
    import_rows(gallery, *rows_from_folder(root)[:1], analyze, pack, "tester")
    before = (gallery.persons(), gallery.history(), sorted(gallery.store.iterdir()))
    more = person_folders(tmp_path / "more", lfw_identities(320, 20))
    from desktop.gallery import gallery as gallery_module

    calls = {"n": 0}
    original = gallery_module._Writer.add_photo

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10:
            raise OSError(28, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(gallery_module._Writer, "add_photo", failing)
    with pytest.raises(OSError, match="No space"):
        import_rows(gallery, *rows_from_folder(more)[:1], analyze, pack, "tester")
    assert calls["n"] == 10
    assert (gallery.persons(), gallery.history(), sorted(gallery.store.iterdir())) == before


def test_single_add_picks_a_face_and_reindex_keeps_that_face(gallery, engine_for, test_pack):
    from desktop.engine.geometry import box_iou as iou
    from desktop.engine.pack_store import resolve_pack

    group = FACEDATA / "face_recognition" / "_multi" / "two_people.jpg"
    pack, analyze = engine_for(test_pack)
    person = PersonFields(name="Right-hand person", case_ref="MP-1")
    kept = import_rows(gallery, [ImportRow("add", person, group)], analyze, pack, "t", strict=True)
    (pending,) = gallery.pending()  # two faces and no choice: the person waits with the photo
    assert (kept.persons_created, kept.pending[0].faces) == ([pending.person_id], 2)
    assert gallery.photos() == []
    resolve_pending(gallery, pending.id, 2, analyze, pack, "t")
    assert gallery.pending() == []
    photo = gallery.photos(pending.person_id)[0]
    chosen = photo["face_box"]
    left, right = sorted(analyze_result_boxes(analyze, group))
    assert iou(chosen, right) > 0.9 and iou(chosen, left) < 0.1
    open_pack = resolve_pack("open")
    open_info, open_analyze = engine_for(open_pack)
    done = reindex(gallery, open_analyze, open_info)
    assert (done.embedded, done.already_embedded, done.problems) == (1, 0, [])
    stored = json.loads(next(iter(gallery.db.query(
        "SELECT box FROM embeddings WHERE pack_id = 'open'")))["box"])
    assert iou(stored, chosen) > 0.3
    assert gallery.photos()[0]["packs"] == ["open", TEST_PACK]  # nothing lost
    assert gallery.embeddings("open")[2].shape == (1, 128)
    again = reindex(gallery, open_analyze, open_info)
    assert (again.embedded, again.already_embedded) == (0, 1)  # already done


def analyze_result_boxes(analyze, path: Path) -> list[list[float]]:
    result = next(iter(analyze([path])))
    return [[float(v) for v in f.detection.box] for f in result.faces]


def test_ten_thousand_person_case_data_import(gallery, tmp_path, engine_for, test_pack):
    path = tmp_path / "big.csv"
    write_csv(path, [{"name": f"Person {n:05d}", "photo": "", "case_ref": f"C{n}",
                      "age_min": str(n % 18)} for n in range(10_000)])
    pack, analyze = engine_for(test_pack)
    rows, problems = rows_from_csv(path)
    report = import_rows(gallery, rows, analyze, pack, "tester", problems)
    assert len(report.persons_created) == 10_000 and report.problems == []
    assert len(gallery.persons()) == 10_000
    assert len(gallery.history()) == 10_000


def test_cli_create_import_list_edit_remove(tmp_path, test_pack):
    db = tmp_path / "g.db"
    root = person_folders(tmp_path / "people", lfw_identities(400, 5))

    def homeward(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "desktop", "gallery", *args,
                               "--gallery", str(db)], capture_output=True, text=True, timeout=300)

    assert homeward("create").returncode == 0
    assert homeward("create").returncode == 3  # never over an existing gallery
    imported = homeward("import", "--folder", str(root), "--pack", TEST_PACK, "--json")
    assert json.loads(imported.stdout)["persons_created"] == 5
    listing = json.loads(homeward("list", "--json").stdout)
    assert len(listing) == 5 and all(p["photos"] >= 1 for p in listing)
    first = listing[0]["id"]
    edited = homeward("edit", str(first), "--set", "sex=female", "--set", "notes=seen in Lyon")
    assert edited.returncode == 0 and "sex, notes changed" in edited.stdout
    refused = homeward("edit", str(first), "--set", "age_min=200")
    assert refused.returncode == 3 and "Minimum age must be between" in refused.stderr
    assert homeward("remove", str(first)).returncode == 0
    assert len(json.loads(homeward("list", "--json").stdout)) == 4
    history = Gallery.open(db).history(first)
    assert [h["action"] for h in history][-2:] == ["edited", "removed"]
    second = listing[1]["id"]
    photo = json.loads(homeward("show", str(second), "--json").stdout)["photos"][0]
    removed = homeward("remove-photo", str(photo["id"]))
    assert removed.returncode == 0 and f"person {second}" in removed.stdout
    shown = json.loads(homeward("show", str(second), "--json").stdout)
    assert photo["id"] not in [p["id"] for p in shown["photos"]]
    assert shown["history"][-1]["action"] == "photo removed"
    assert homeward("remove-photo", str(photo["id"])).returncode == 3  # already gone
    obama = FACEDATA / "face_recognition" / "Barack_Obama"
    added = homeward("add", "--name", "Ana Silva", "--case-ref", "MP-1", "--pack", TEST_PACK,
                     str(obama / "obama.jpg"))
    assert added.returncode == 0, added.stderr
    new_id = int(added.stdout.split()[1].rstrip(":"))
    group = FACEDATA / "face_recognition" / "_multi" / "two_people.jpg"
    waiting = homeward("add", "--person", str(new_id), "--pack", TEST_PACK, str(group))
    assert waiting.returncode == 0 and "awaiting a face choice: 1" in waiting.stdout
    (pending,) = json.loads(homeward("pending", "--format", "json").stdout)
    more = homeward("pending", "--choose", str(pending["id"]), "--face", "1", "--pack", TEST_PACK)
    assert more.returncode == 0 and f"person {new_id}: face 1 chosen" in more.stdout
    shown = json.loads(homeward("show", str(new_id), "--json").stdout)
    assert (shown["person"]["case_ref"], len(shown["photos"])) == ("MP-1", 2)
