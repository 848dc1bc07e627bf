"""Reports on a real scanned and reviewed case, generated through the command line and read
back: HTML (self-contained, escaped), PDF (text and images), CSV, VICS JSON, audit rows."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import FACEDATA, scanned_case

from desktop.review.decisions import decide
from desktop.review.queue import review_items
from desktop.scan.case import Case
from desktop.storage import audit

FR = FACEDATA / "face_recognition"
SCRIPT_NOTE = "<script>alert(1)</script> same mole"
AMP_NAME = "Barack_Obama & friends.jpg"


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory, test_pack):
    """A scanned case with 2 confirmed, 1 unsure, 1 rejected hits, the rest pending."""
    tmp_path = tmp_path_factory.mktemp("report")
    extra = {AMP_NAME: sorted((FR / "Barack_Obama").glob("*.jpg"))[5]}
    case, _, source = scanned_case(tmp_path, test_pack, "R-2024/17", "Examiner Jane", extra)
    top = [h for h in review_items(case.db) if h["rank"] == 1]
    amp = next(h for h in top if h["path"] == AMP_NAME)
    biden = next(h for h in top if h["person_name"] == "Joseph_Biden")
    others = [h for h in top if h["hit_id"] not in (amp["hit_id"], biden["hit_id"])]
    assert len(others) >= 3, "the fixture needs at least one pending hit"
    decide(case.db, [amp["hit_id"]], "confirm", "Alice", SCRIPT_NOTE)
    decide(case.db, [biden["hit_id"]], "confirm", "Bob")
    decide(case.db, [others[0]["hit_id"]], "unsure", "Alice", "=HYPERLINK(\"x\")")
    decide(case.db, [others[1]["hit_id"]], "reject", "Bob")
    items = {h["hit_id"]: h for h in review_items(case.db)}
    case.close()
    return tmp_path / "case", source, items


def report(case: Path, form: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop", "report", "--case", str(case),
                           "--format", form, "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=120)


def export_rows(case: Path) -> list[dict]:
    conn = sqlite3.connect(case / "case.db")
    rows = conn.execute("SELECT actor, payload FROM audit WHERE action = 'export' "
                        "ORDER BY seq").fetchall()
    conn.close()
    return [{"actor": a, **json.loads(p)} for a, p in rows]


def by_status(items: dict, status: str) -> list[dict]:
    return [h for h in items.values() if h["status"] == status]


class Sections(HTMLParser):
    """Text and image sources per report section (div class="section" id=...)."""

    def __init__(self) -> None:
        super().__init__()
        self.section = "head"
        self.text: dict[str, list[str]] = {}
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "div" and attributes.get("class") == "section":
            self.section = attributes["id"]
        if tag == "img":
            self.images.append(attributes["src"])

    def handle_data(self, data: str) -> None:
        self.text.setdefault(self.section, []).append(data)

    def joined(self, section: str) -> str:
        return "".join(self.text.get(section, []))


def test_html_report_is_self_contained_escaped_and_audited(reviewed, tmp_path):
    case, _, items = reviewed
    before = len(export_rows(case))
    out = tmp_path / "report.html"
    done = report(case, "html", out, "--examiner", "Reporter R")
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert "<script" not in text.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "Barack_Obama &amp; friends.jpg" in text
    for pattern in (r'src="http', r'href="http', r'(?:src|href)\s*=\s*["\']?//', r"url\(",
                    r"https?://", r"<link\b"):
        assert not re.search(pattern, text, re.I), pattern
    parsed = Sections()
    parsed.feed(text)
    confirmed, pending = parsed.joined("confirmed"), parsed.joined("pending")
    assert "candidate, confirmed by human reviewer" in confirmed
    assert SCRIPT_NOTE in confirmed and AMP_NAME in confirmed
    for hit in by_status(items, "confirm"):
        assert hit["person_name"] in confirmed and hit["sha256"] in confirmed
    for hit in by_status(items, "pending"):
        assert hit["sha256"] not in confirmed or any(
            c["sha256"] == hit["sha256"] for c in by_status(items, "confirm"))
        assert hit["path"] in pending
    assert "NOT identifications" in pending
    assert parsed.images and all(src.startswith("data:image/jpeg;base64,") for src in parsed.images)
    assert all(base64.b64decode(src.split(",", 1)[1])[:3] == b"\xff\xd8\xff"
               for src in parsed.images)
    rows = export_rows(case)
    assert len(rows) == before + 1
    assert rows[-1]["format"] == "html" and rows[-1]["actor"] == "Reporter R"
    assert rows[-1]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert rows[-1]["hits"] == {"confirmed": 2, "unsure": 1, "rejected": 1,
                                "pending": len(by_status(items, "pending"))}


def test_pdf_report_has_text_and_images(reviewed, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    case, _, items = reviewed
    before = len(export_rows(case))
    out = tmp_path / "report.pdf"
    done = report(case, "pdf", out)
    assert done.returncode == 0, done.stderr
    reader = pypdf.PdfReader(out)
    assert len(reader.pages) >= 1
    # Qt places words one by one: pypdf joins them with tabs and breaks long hashes.
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))
    flat = text.replace(" ", "")
    assert "R-2024/17" in text and "Examiner Jane" in text
    confirmed = by_status(items, "confirm")
    assert any(h["person_name"] in text for h in confirmed)
    assert all(h["sha256"] in flat for h in confirmed)
    images = [obj for page in reader.pages
              for obj in (page["/Resources"].get_object().get("/XObject") or {}).values()
              if obj.get_object().get("/Subtype") == "/Image"]
    assert images
    assert len(export_rows(case)) == before + 1 and export_rows(case)[-1]["format"] == "pdf"


def test_csv_report_has_one_row_per_hit(reviewed, tmp_path):
    case, _, items = reviewed
    out = tmp_path / "report.csv"
    done = report(case, "csv", out)
    assert done.returncode == 0, done.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert len(rows) == len(items)
    for row in rows:
        hit = items[int(row["hit_id"])]
        assert row["status"] == hit["status"]
        assert row["paths"] == " | ".join(hit["paths"]) and row["sha256"] == hit["sha256"]
    unsure = next(r for r in rows if r["status"] == "unsure")
    assert unsure["note"].startswith("'=")  # never a live formula in a spreadsheet
    assert export_rows(case)[-1]["format"] == "csv"


def test_vics_json_hashes_match_the_source_files(reviewed, tmp_path):
    case, source, items = reviewed
    out = tmp_path / "report.json"
    done = report(case, "json", out)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["@odata.context"].endswith("$metadata#Cases")
    (vics_case,) = data["value"]
    assert vics_case["CaseID"] == "R-2024/17"
    media = vics_case["Media"]
    assert len(media) == len({h["sha256"] for h in by_status(items, "confirm")}) == 2
    for entry in media:
        for key in ("MediaID", "Category", "MD5", "SHA1", "MediaSize", "MediaFiles", "Comments"):
            assert key in entry
        (first, *_) = entry["MediaFiles"]
        raw = (source / first["FilePath"]).read_bytes()
        assert entry["MD5"] == hashlib.md5(raw).hexdigest().upper()
        assert entry["SHA1"] == hashlib.sha1(raw).hexdigest().upper()
        assert entry["MediaSize"] == len(raw) and first["FileName"] == Path(first["FilePath"]).name
        extra = json.loads(entry["Comments"].removeprefix("Homeward: "))
        assert {i["decision"] for i in extra["identifications"]} == {"confirm"}
    names = {f["FilePath"] for m in media for f in m["MediaFiles"]}
    assert AMP_NAME in names
    assert export_rows(case)[-1]["format"] == "json"


def test_audit_trail_still_verifies_after_exports(reviewed, tmp_path):
    case, *_ = reviewed
    assert report(case, "csv", tmp_path / "again.csv").returncode == 0
    opened = Case.open(case)
    try:
        assert audit.verify(opened.db).ok
    finally:
        opened.close()


def test_tampered_audit_trail_refuses_to_report(reviewed, tmp_path):
    case, *_ = reviewed
    copy = tmp_path / "tampered"
    shutil.copytree(case, copy)
    conn = sqlite3.connect(copy / "case.db")
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET payload = '{\"verdict\": \"reject\"}' WHERE action = 'decision'")
    conn.commit()
    conn.close()
    out = tmp_path / "never.html"
    done = report(copy, "html", out)
    assert done.returncode != 0 and "audit trail" in done.stderr
    assert not out.exists() and not list(tmp_path.glob(".never.html*"))


def test_missing_output_folder_is_a_clear_error(reviewed, tmp_path):
    case, *_ = reviewed
    before = len(export_rows(case))
    done = report(case, "csv", tmp_path / "no" / "such" / "r.csv")
    assert done.returncode != 0 and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr and len(export_rows(case)) == before


def test_each_hit_shows_the_gallery_reference_photo_or_says_why_not(reviewed, tmp_path):
    """Issue 12: reports show reference photos from the gallery each hit was matched against,
    or say plainly that the photo is no longer available."""
    case, *_ = reviewed
    out = tmp_path / "report.html"
    assert report(case, "html", out).returncode == 0
    text = out.read_text(encoding="utf-8")
    hits = text.count('<div class="hit" id="hit-')
    assert text.count('alt="gallery reference photo"') == hits > 0
    refs = sorted((case / "refs").iterdir())
    assert refs and all(p.read_bytes()[:3] == b"\xff\xd8\xff" for p in refs)
    copy = tmp_path / "moved"
    shutil.copytree(case, copy)
    other = tmp_path / "other.db"
    done = subprocess.run([sys.executable, "-m", "desktop", "gallery", "create", "--gallery",
                           str(other)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    moved = Case.open(copy)  # the case's gallery path now names another gallery file
    moved.update_info({"gallery": str(other)}, "test", "gallery path changed", {})
    moved.close()
    assert report(copy, "html", out).returncode == 0
    text = out.read_text(encoding="utf-8")
    assert 'alt="gallery reference photo"' not in text
    assert text.count("no longer the gallery this case was matched against") == hits
