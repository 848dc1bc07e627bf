"""Oversized CSV rows are refused one by one; the rest of a gallery CSV still imports (real
LFW faces, real gallery)."""

from __future__ import annotations

import csv
from pathlib import Path

from conftest import FACEDATA, require_shared

from desktop.engine.engine import EngineOptions
from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import PackInfo, import_rows
from desktop.gallery.sources import MAX_ROW_CHARS, rows_from_csv
from desktop.scan.analyze import analyze_paths

MEGABYTE_CELL = "x" * (1 << 20)
MULTILINE_CELL = ("line, with \"quotes\"\n" * 60_000)[:1 << 20]


def test_a_megabyte_cell_refuses_its_row_and_the_rest_import(tmp_path: Path, test_pack) -> None:
    """Issue 12 fault 9: a 1 MB cell aborted the whole CSV import ("field larger than field
    limit"), good rows included."""
    require_shared()
    identities = sorted(p for p in (FACEDATA / "lfw").iterdir() if p.is_dir())[:5]
    good = [{"name": i.name, "photo": str(sorted(i.iterdir())[0]), "notes": "seen at the station"}
            for i in identities]
    oversized = [
        {"name": "One Line Megabyte", "photo": good[0]["photo"], "notes": MEGABYTE_CELL},
        {"name": "Quoted Lines", "photo": good[0]["photo"], "notes": MULTILINE_CELL},
        {"name": "Just Over", "photo": "", "notes": "y" * MAX_ROW_CHARS},
    ]
    path = tmp_path / "persons.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["name", "photo", "notes"])
        writer.writeheader()
        writer.writerows([good[0], oversized[0], good[1], oversized[1], good[2], oversized[2],
                          *good[3:]])

    rows, problems = rows_from_csv(path)

    assert [r.person.name for r in rows] == [g["name"] for g in good]
    assert [p.where for p in problems] == ["persons.csv row 3", "persons.csv row 5",
                                           "persons.csv row 7"]
    assert all(f"longer than {MAX_ROW_CHARS:,} characters" in p.reason for p in problems)
    gallery = Gallery.create(tmp_path / "gallery.db")
    try:
        report = import_rows(gallery, rows, lambda paths: analyze_paths(
            paths, test_pack, EngineOptions(provider="cpu")),
            PackInfo(test_pack.id, test_pack.manifest.model_hashes), "tester", problems)
        names = {p["name"] for p in gallery.persons()}
    finally:
        gallery.close()
    assert names == {g["name"] for g in good}
    assert report.photos_added == len(good)
    assert [p.where for p in report.problems][:3] == [p.where for p in problems]
