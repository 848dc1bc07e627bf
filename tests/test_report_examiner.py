"""Issue 15, reports: what a court expects, checked in the files a reader gets. The HTML is
opened in real headless Chromium (its DOM and a screenshot), the PDF is read back with
poppler-utils (pdftotext per page, pdfimages), both made by `homeward report` from one real
scanned case with confirmed, unsure and rejected hits."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import FACEDATA, scanned_case
from PIL import Image

from desktop.review.decisions import decide
from desktop.review.queue import review_items

FR = FACEDATA / "face_recognition"
EXIF_PHOTO = "obama_exif.jpg"  # DateTimeOriginal 2012:12:06 15:46:01
CASE_DATA = {"case_ref": "MP-2019/0042", "last_seen_date": "2019-03-14",
             "last_seen_place": "Central Station, platform 4"}
FOOTER = re.compile(r"^\s*Homeward report, case .+ - page \d+ of \d+ - audit head")
HEADING = re.compile(r"^\s*(Hit \d+:|Identifications:|Annex [ABC]:|Named unknown persons|"
                     r"Same unknown person)")


@dataclass(frozen=True)
class Examined:
    case: Path
    source: Path
    items: dict[int, dict]  # review items by hit id, as decided
    html: Path
    pdf: Path

    def hits(self, status: str) -> list[dict]:
        return [h for h in self.items.values() if h["status"] == status]


def tool(name: str) -> str:
    """A real binary the check needs; its absence is a failure (CI installs it)."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (packaging/setup_env.sh installs it)")
    return found


def run(*args: str | Path) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def examined(tmp_path_factory: pytest.TempPathFactory, test_pack) -> Examined:
    """Three confirmed hits (one photo with an EXIF date), one unsure, one rejected; the
    matched gallery person carries case data; both reports made by the command line."""
    from desktop.gallery.gallery import Gallery

    base = tmp_path_factory.mktemp("examiner-report")
    case, gallery, source = scanned_case(base, test_pack, "EX-2026/15", "Examiner Jane",
                                         {EXIF_PHOTO: FR / "Barack_Obama" / "obama.jpg"})
    hits = {h["path"]: h["hit_id"] for h in review_items(case.db) if h["rank"] == 1}
    decide(case.db, [hits[EXIF_PHOTO]], "confirm", "Alice", "same scar")
    decide(case.db, [hits["Barack_Obama_obama-720p.jpg"]], "confirm", "Alice")
    decide(case.db, [hits["Joseph_Biden_biden2.jpg"]], "confirm", "Bob")
    decide(case.db, [hits["Barack_Obama_obama-240p.jpg"]], "reject", "Bob", "ears differ")
    decide(case.db, [hits["Barack_Obama_obama-480p.jpg"]], "unsure", "Bob", "too blurred")
    items = {h["hit_id"]: h for h in review_items(case.db)}
    case.close()
    gallery.close()
    opened = Gallery.open(base / "g.db")
    with opened.writing() as write:
        write.edit_person(opened.persons_named("Barack_Obama")[0], CASE_DATA, "Examiner Jane")
    opened.close()
    out = {}
    for form in ("html", "pdf"):
        out[form] = base / f"report.{form}"
        run(sys.executable, "-m", "desktop", "report", "--case", base / "case", "--format", form,
            "--out", out[form])
    return Examined(base / "case", source, items, out["html"], out["pdf"])


class Hits(HTMLParser):
    """Per hit block (div id="hit-N"): its images (alt, src) and its text; per section, text."""

    def __init__(self) -> None:
        super().__init__()
        self.hit: int | None = None
        self.depth = 0
        self.section = "head"
        self.images: dict[int, list[tuple[str, str]]] = {}
        self.text: dict[int, list[str]] = {}
        self.sections: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "div":
            if attributes.get("class") == "section":
                self.section = attributes["id"]
            if self.hit is not None:
                self.depth += 1
            elif (attributes.get("id") or "").startswith("hit-"):
                self.hit, self.depth = int(attributes["id"][4:]), 0
                self.images[self.hit], self.text[self.hit] = [], []
        if tag == "img" and self.hit is not None:
            self.images[self.hit].append((attributes.get("alt", ""), attributes["src"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.hit is not None:
            if self.depth == 0:
                self.hit = None
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        self.sections.setdefault(self.section, []).append(data)
        if self.hit is not None:
            self.text[self.hit].append(data)

    def of(self, hit_id: int) -> str:
        return " ".join(self.text[hit_id])


@pytest.fixture(scope="module")
def parsed(examined: Examined) -> Hits:
    """The HTML report as headless Chromium built it."""
    hits = Hits()
    hits.feed(run(tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
                  "--dump-dom", examined.html.as_uri()))
    return hits


def picture(src: str) -> Image.Image:
    assert src.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))


def test_each_confirmed_hit_shows_face_reference_and_context_with_captions(examined, parsed):
    """Issue 15 fault: a confirmed hit's pictures had no captions (which is the gallery's
    reference, which the evidence?) and the context picture was shown without its face boxed."""
    confirmed = examined.hits("confirm")
    for hit in confirmed:
        images = parsed.images[hit["hit_id"]]
        assert [alt for alt, _ in images] == ["face found", "gallery reference photo",
                                              "context with the matched face boxed"]
        for _, src in images:
            assert picture(src).size[0] > 0
        text = parsed.of(hit["hit_id"])
        assert "Face found in the evidence" in text
        assert f"Gallery reference photo of {hit['person_name']}" in text
        assert f"Context: {hit['path']}; the matched face is boxed" in text
    refs = {p.read_bytes() for p in (examined.case / "refs").iterdir()}
    assert all(base64.b64decode(parsed.images[h["hit_id"]][1][1].split(",", 1)[1]) in refs
               for h in confirmed)


def test_the_matched_face_is_boxed_on_the_context_picture_in_chromium(examined, tmp_path):
    """Issue 15 fault: no box was drawn on the context picture, so in a group photo the matched
    face was not shown. Each confirmed hit's picture carries a magenta outline of the face's
    proportions, as Chromium paints the report."""
    shot = tmp_path / "report.png"
    run(tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
        "--window-size=1400,6000", "--hide-scrollbars", examined.html.as_uri())
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    magenta = ((pixels[..., 0] > 180) & (pixels[..., 1] < 100) & (pixels[..., 2] > 180))
    _, _, stats, _ = cv2.connectedComponentsWithStats(magenta.astype(np.uint8), 8)
    outlines = []
    for x, y, w, h, area in stats[1:]:
        inside = magenta[y:y + h, x:x + w]
        rows, columns = inside.mean(axis=1), inside.mean(axis=0)
        sides = rows[:8].max(), rows[-8:].max(), columns[:8].max(), columns[-8:].max()
        if w >= 20 and h >= 20 and area < 0.4 * w * h and min(sides) > 0.8:  # an outline
            outlines.append((y, w / h))
    boxes = [h["box"] for h in sorted(examined.hits("confirm"), key=lambda h: -h["score"])]
    assert len(outlines) == len(boxes), outlines
    for (_, drawn), box in zip(sorted(outlines), boxes, strict=True):
        assert drawn == pytest.approx((box[2] - box[0]) / (box[3] - box[1]), rel=0.15)


def test_the_missing_persons_case_data_stand_beside_each_confirmed_hit(examined, parsed):
    """Issue 15 fault: the missing person's case data (case reference, last seen) were absent
    from the report."""
    for hit in examined.hits("confirm"):
        text = parsed.of(hit["hit_id"])
        if hit["person_name"] == "Barack_Obama":
            assert all(value in text for value in CASE_DATA.values()), text
        else:
            assert "none recorded in the gallery" in text


def test_rejected_and_unsure_hits_are_listed_in_an_annex(examined, parsed):
    """Issue 15 fault: rejected hits were only counted, never listed."""
    for status, section in (("reject", "rejected"), ("unsure", "unsure")):
        (hit,) = examined.hits(status)
        text = " ".join(parsed.sections[section])
        assert "Annex" in text and hit["path"] in text and hit["sha256"] in text
        assert f"{hit['reviewer']} on " in text and hit["note"] in text
        assert hit["hit_id"] in parsed.images  # listed with the face found


def test_file_system_times_and_exif_date_are_reported(examined, parsed):
    """Issue 15 fault: file system times were absent from the report (and the EXIF date must
    show where the camera recorded one)."""
    (hit,) = [h for h in examined.hits("confirm") if h["path"] == EXIF_PHOTO]
    text = parsed.of(hit["hit_id"])
    modified = datetime.fromtimestamp((examined.source / EXIF_PHOTO).stat().st_mtime, UTC)
    assert f"modified {modified:%Y-%m-%d %H:%M:%S}" in text
    assert "EXIF date taken (camera clock) 2012-12-06T15:46:01" in text


def pdf_pages(pdf: Path) -> list[list[str]]:
    """Each page's non-empty lines as pdftotext lays them out."""
    pages = int(re.search(r"Pages:\s+(\d+)", run(tool("pdfinfo"), pdf)).group(1))
    return [[line for line in run(tool("pdftotext"), "-layout", "-f", n, "-l", n, pdf, "-")
             .splitlines() if line.strip()] for n in range(1, pages + 1)]


def test_pdf_first_page_is_a_summary(examined):
    """Issue 15 fault: the report did not open with a summary (sources with their hashes,
    counts of files, faces and hits by verdict)."""
    first = pdf_pages(examined.pdf)[0]
    text = "\n".join(first)
    assert "EX-2026/15" in text and "Examiner Jane" in text and "shared_s" in text
    in_order = re.sub(r"\s+", "", run(tool("pdftotext"), "-f", 1, "-l", 1, examined.pdf, "-"))
    # pdftotext drops the hyphen where a path breaks after one
    assert "Sources" in text and str(examined.source).replace("-", "") in in_order.replace("-", "")
    files = len(list(examined.source.iterdir()))
    assert re.search(r"Faces found\s+\d+", text) and re.search(rf"Files in the sources\s+{files}\n", text)
    for label, count in (("Confirmed by a reviewer", 3), ("Marked unsure", 1),
                         ("Rejected by a reviewer", 1), ("Not yet reviewed", 0)):
        assert re.search(rf"{label}.*\s{count}\s*$", text, re.M), label
    assert FOOTER.match(first[-1]), first[-1]  # every page names the case, itself and the head
    head = re.search(r"audit head ([0-9a-f]{64})", first[-1]).group(1)
    assert "Audit trail head hash" in text and head in in_order.split("Homewardreport,case")[0]
    assert not re.search("[\ufb00-\ufb06]", text)  # no ligature glyph: hashes and words searchable


def test_pdf_keeps_each_heading_with_its_content_and_holds_every_reference(examined, parsed):
    """Issue 15 fault: every hit heading sat alone at the foot of a PDF page. Now no heading
    is a page's last line (above the footer), each hit's heading shares its page with its
    table, and every confirmed hit's reference photo is among the PDF's images."""
    pages = pdf_pages(examined.pdf)
    for number, lines in enumerate(pages, 1):
        body = lines[:-1] if FOOTER.match(lines[-1]) or lines[-1].strip().isdigit() else lines
        assert not HEADING.match(body[-1]), f"page {number} ends with heading {body[-1]!r}"
        for index, line in enumerate(body):
            if re.match(r"^\s*Hit \d+:", line) and "score" not in line:  # a confirmed hit
                assert any("Candidate" in later for later in body[index:]), number
    listed = run(tool("pdfimages"), "-list", examined.pdf).splitlines()[2:]
    sizes = {(int(row.split()[3]), int(row.split()[4])) for row in listed}
    assert len(listed) >= 3 * len(examined.hits("confirm"))
    for hit in examined.hits("confirm"):
        assert picture(parsed.images[hit["hit_id"]][1][1]).size in sizes
