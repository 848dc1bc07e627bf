"""The report as one self-contained, printable HTML file.

Nothing in it points outside the file: images are data: URIs, the style is inline, there is no
script. Every string that came from a person or the seized media (names, notes, paths,
metadata) is escaped, so a hostile file name cannot inject markup into evidence.
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop.people.lab_index import Link
from desktop.report.collect import CrossCaseLeads, NamedPerson, ReportData, ReportHit
from desktop.report.evidence import boxed_context
from desktop.scan.case import CaseInfo

log = logging.getLogger(__name__)

ImageSource = Callable[[bytes], str | None]  # a picture's bytes -> what goes into src="..."

STYLE = """
body { font-family: sans-serif; font-size: 10pt; color: #000; margin: 1.5em; }
h1 { font-size: 16pt; } h2 { font-size: 13pt; border-bottom: 1px solid #444; margin-top: 1.5em; }
h3 { font-size: 11pt; margin: 0.2em 0; }
table.info td { padding: 1px 8px 1px 0; vertical-align: top; }
table.grid { border-collapse: collapse; }
table.grid td, table.grid th { border: 1px solid #888; padding: 2px 4px; vertical-align: top;
  text-align: left; }
table.figures td { vertical-align: top; padding: 0 10px 4px 0; }
div.hit { border: 1px solid #888; padding: 6px; margin: 8px 0; page-break-inside: avoid; }
div.entry { border-top: 1px solid #bbb; padding: 3px 0; page-break-inside: avoid; }
#summary { page-break-after: always; }
.caption { font-size: 8.5pt; }
.mono { font-family: monospace; font-size: 8.5pt; }
.warn { font-weight: bold; }
img { margin: 2px 6px 2px 0; vertical-align: top; }
@media print { body { margin: 0; } }
"""

SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG", "image/png"), (b"RIFF", "image/webp"))


@dataclass(frozen=True)
class Block:
    """A piece of the report that the PDF keeps on one page whenever it fits one."""

    html: str
    ends_page: bool = False  # the next block starts a new page
    keep_with_next: bool = False  # a heading: never left alone at the foot of a page


def data_uri(data: bytes) -> str:
    mime = next((m for magic, m in SIGNATURES if data.startswith(magic)), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def read_picture(path: Path | None) -> bytes | None:
    """A derived picture's bytes, or None (logged) when it is missing."""
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        log.warning("image %s not embedded: %s", path, exc)
        return None


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _row(label: str, value: object, mono: bool = False) -> str:
    cls = ' class="mono"' if mono else ""
    return f"<tr><td>{esc(label)}</td><td{cls}>{esc(value)}</td></tr>"


def _image(data: bytes | None, alt: str, width: int, image_src: ImageSource) -> str:
    src = image_src(data) if data is not None else None
    if src is None:
        return f"<span>[{esc(alt)} unavailable]</span>"
    return f'<img src="{esc(src)}" alt="{esc(alt)}" width="{width}">'


def _figure(data: bytes | None, alt: str, width: int, caption: str, image_src: ImageSource) -> str:
    return (f'<td width="{width + 12}">{_image(data, alt, width, image_src)}<br>'
            f'<span class="caption">{esc(caption)}</span></td>')


def _when(hit: ReportHit) -> str:
    when = (hit.decided_at or "")[:19].replace("T", " ")
    said = {"confirm": "confirmed", "reject": "rejected", "unsure": "marked unsure"}
    if hit.reviewer is None:
        return "not reviewed"
    return f"{said[hit.status]} by {hit.reviewer} on {when} UTC"


def _reference_caption(hit: ReportHit) -> str:
    ref = hit.reference
    if ref.photo is None:
        return f"Gallery reference photo: {ref.note}"
    which = f"gallery photo {ref.photo_id}, one of {ref.of_photos}"
    if ref.similarity is not None:
        which += f", the closest to this face (similarity {ref.similarity:.4f})"
    return f"Gallery reference photo of {hit.person_name} ({which})"


def _context_caption(hit: ReportHit) -> str:
    where = hit.paths[0] if hit.paths else "the file"
    if hit.kind == "video":
        where += f", frame {hit.frame}"
    return f"Context: {where}; the matched face is boxed in magenta"


def _case_data(hit: ReportHit, people_note: str) -> list[str]:
    """The missing person's case data as the gallery holds it when the report is made."""
    person = hit.person
    if person is None:
        return [_row("Missing person's case data", "not shown: the case's gallery cannot be read"
                     if people_note else "not shown: the person is no longer in the gallery")]
    ages = "" if person.age_min is None and person.age_max is None else \
        f"{'' if person.age_min is None else person.age_min}-" \
        f"{'' if person.age_max is None else person.age_max}"
    fields = [("Case reference", person.case_ref), ("Last seen (date)", person.last_seen_date),
              ("Last seen (place)", person.last_seen_place), ("Birth date", person.birth_date),
              ("Age range (years)", ages), ("Sex", person.sex),
              ("Also known as", "; ".join(person.aliases)), ("Case notes", person.notes)]
    rows = [_row(label, value) for label, value in fields if value]
    return rows or [_row("Missing person's case data", "none recorded in the gallery")]


def _files(hit: ReportHit) -> list[str]:
    rows = []
    for copy in hit.files:
        times = "; ".join(f"{label} {value}" for label, value in (
            ("modified", copy.modified), ("changed", copy.changed), ("accessed", copy.accessed),
            ("created", copy.created)) if value) or "none recorded by the file system"
        rows += [_row("Location (source : path)", copy.location + (
                     " (deleted file, recovered)" if copy.deleted else "")),
                 _row("File system times (UTC)", times)]
    return rows


def _hit(hit: ReportHit, people_note: str, image_src: ImageSource) -> str:
    """A confirmed hit: the three pictures side by side, then everything that backs it."""
    where = ""
    if hit.kind == "video":
        where = f"frame {hit.frame}, {hit.timestamp:.2f} s" if hit.timestamp is not None \
            else f"frame {hit.frame}"
    context = boxed_context(hit.thumbnail, hit.box, *(hit.image_size or (None, None)))
    figures = (_figure(read_picture(hit.crop), "face found", 160,
                       "Face found in the evidence (probe)", image_src)
               + _figure(read_picture(hit.reference.photo), "gallery reference photo", 160,
                         _reference_caption(hit), image_src)
               + _figure(context, "context with the matched face boxed", 320,
                         _context_caption(hit), image_src))
    rows = [
        _row("Candidate", f"{hit.person_name} (gallery person {hit.person_id})"),
        *_case_data(hit, people_note),
        _row("Decision", _when(hit)),
        _row("Reviewer's note", hit.note or ""),
        _row("Score / rank / threshold", f"{hit.score:.4f} / #{hit.rank} / {hit.threshold:.4f}"),
        *_files(hit),
        *[_row("Known file (hash set)", k) for k in hit.known],
        _row("SHA-256", hit.sha256, True),
        *([_row("SHA-1", hit.sha1, True)] if hit.sha1 else []),
        _row("MD5", hit.md5, True),
        _row("Size (bytes)", hit.size),
        _row("Media kind", hit.kind),
        *([_row(label, value) for label, value in hit.exif] if hit.exif else
          [_row("EXIF date taken", "not recorded in the file")] if hit.kind == "image" else []),
    ]
    if where:
        rows.append(_row("Video position", where))
    rows += [
        _row("Face box (x1, y1, x2, y2)", ", ".join(f"{v:.1f}" for v in hit.box)),
        _row("Model pack", hit.pack_id),
        *[_row(f"Model {k}", v, True) for k, v in sorted(hit.model_hashes.items())],
        _row("Flags", ", ".join(hit.flags) or "none"),
        _row("Crop file", hit.crop or ""),
        _row("Context file", hit.thumbnail or ""),
    ]
    return (f'<div class="hit" id="hit-{hit.hit_id}"><h3>Hit {hit.hit_id}: {esc(hit.person_name)}'
            f'</h3><table class="figures" cellspacing="0"><tr>{figures}</tr></table>'
            f'<table class="info" cellspacing="0">{"".join(rows)}</table></div>')


def _entry(hit: ReportHit, image_src: ImageSource) -> str:
    """An annexed hit (unsure, rejected or pending): listed with its face and its evidence."""
    lines = [f"<b>Hit {hit.hit_id}: {esc(hit.person_name)}</b> (gallery person {hit.person_id}), "
             f"score {hit.score:.4f}, rank #{hit.rank}; {esc(_when(hit))}"
             + (f": {esc(hit.note)}" if hit.note else ""),
             *[esc(c.location) + (" (deleted file, recovered)" if c.deleted else "")
               for c in hit.files],
             f'<span class="mono">SHA-256 {esc(hit.sha256)}</span>']
    return (f'<div class="entry" id="hit-{hit.hit_id}"><table cellspacing="0"><tr>'
            f'<td width="76">{_image(read_picture(hit.crop), "face found", 64, image_src)}</td>'
            f"<td>{'<br>'.join(lines)}</td></tr></table></div>")


def _section(title: str, css_id: str, intro: str, entries: list[str]) -> list[Block]:
    """A section's heading (kept with its first entry) and its entries, one block each."""
    head = f'<div class="section" id="{css_id}"><h2>{esc(title)} ({len(entries)})</h2><p>{intro}</p>'
    if not entries:
        return [Block(head + "<p>None.</p></div>")]
    return [Block(head, keep_with_next=True), *(Block(e) for e in entries[:-1]),
            Block(entries[-1] + "</div>")]


def _named_people(people: list[NamedPerson], image_src: ImageSource) -> list[Block]:
    entries = [
        f'<div class="hit">{_image(read_picture(p.crop), "face", 120, image_src)}<table>'
        + _row("Examiner's name for this unknown person", p.name)
        + _row("Cluster", p.cluster_id)
        + _row("Faces / files", f"{p.faces} / {len(p.paths)}")
        + _row("Files", ", ".join(p.paths[:20]) + (" …" if len(p.paths) > 20 else ""))
        + "</table></div>" for p in people]
    return _section("Named unknown persons", "people",
                    '<span class="warn">Investigative leads, not identifications:</span> faces the '
                    "software grouped by similarity, named by the examiner to follow them up. "
                    "Nobody has been identified by these groups.", entries)


def _review(link: Link) -> str:
    """What a reviewer decided on a link, in the words of the report."""
    if link.reviewer is None:
        return "candidate lead, not reviewed"
    when = (link.decided_at or "")[:16].replace("T", " ")
    said = {"confirm": "confirmed", "unsure": "marked unsure"}[link.status]
    return f"{said} by {link.reviewer} on {when} UTC" + (f": {link.note}" if link.note else "")


def _cross_case(leads: CrossCaseLeads) -> str:
    counts = leads.counts()
    if leads.index is None:
        body = "<p>This case is not registered in a lab index.</p>"
    elif leads.note:
        body = f"<p>{esc(leads.note)}</p>"
    else:
        rows = "".join(f"<tr><td>{k.cluster_id}</td><td>{esc(k.other_case_number)}</td>"
                       f"<td>{k.other_cluster_id}</td><td>{k.score:.4f}</td>"
                       f"<td>{esc(_review(k))}</td></tr>" for k in leads.links)
        body = (f"<p>Lab index {esc(leads.index)}, read when this report was made. "
                f"{counts['confirmed']} confirmed, {counts['unsure']} unsure, "
                f"{counts['pending']} not yet reviewed; {counts['rejected']} rejected by a "
                "reviewer (counted, not shown).</p>"
                + ("<table><tr><th>Cluster here</th><th>Other case</th><th>Its cluster</th>"
                   f"<th>Similarity</th><th>Review</th></tr>{rows}</table>" if leads.links
                   else "<p>None.</p>"))
    return (f'<div class="section" id="cross-case"><h2>Same unknown person in other cases '
            f'({len(leads.links)})</h2><p><span class="warn">Investigative leads, not '
            "identifications:</span> groups of faces of this case that resemble groups in other "
            "registered cases, for a person to review. A confirmed link means a reviewer judged "
            "both groups to show the same person; it still names nobody.</p>"
            f"{body}</div>")


def calibration_text(info: CaseInfo) -> str:
    """How the case's threshold was chosen, as a report states it."""
    calibration = info.calibration
    if calibration is None:
        return ("none recorded: the threshold is the pack's default or the examiner's choice, "
                "not measured on local data")
    if abs(calibration["threshold"] - info.match_threshold) > 1e-9:
        return (f"the case's threshold was changed after creation; the pack's calibration "
                f"({calibration['describe']}) no longer applies")
    return calibration["describe"]


def _sources(data: ReportData) -> str:
    rows = []
    for source in data.sources:
        verified = source.details.get("verification", {}).get("result")
        hashes = "<br>".join(f"{name} {esc(value)}" for name, value in (
            ("SHA-256", source.sha256), ("MD5", source.md5)) if value) or (
            "not hashed (a folder: each file is hashed)" if source.kind == "folder" else
            "not recorded")
        rows.append(f"<tr><td>{esc(source.label)}</td><td>{esc(source.format or source.kind)}"
                    f"</td><td>{esc(source.path)}</td><td>{esc(source.size or '')}</td>"
                    f'<td class="mono">{hashes}</td><td>{esc(verified or "")}</td></tr>')
    return ('<h2>Sources (read only)</h2><table class="grid" border="1" cellspacing="0" '
            'cellpadding="3"><tr><th>Label</th><th>Format</th><th>Path</th><th>Size (bytes)</th>'
            f"<th>Hashes of the source</th><th>Acquisition hash check</th></tr>{''.join(rows)}"
            "</table>")


def _summary(data: ReportData) -> str:
    """The first page: who, what was searched with what, what was found, and the seal."""
    info, totals, counts = data.info, data.totals, data.counts()
    head = [
        _row("Case number", info.case_number),
        _row("Case examiner", info.examiner),
        _row("Report produced by", data.examiner),
        _row("Report generated (UTC)", data.generated_at),
        _row("Case created", info.created_at),
        _row("Gallery", info.gallery or "none (scanned without a gallery: no hits)"),
        _row("Gallery id (the case is bound to it)", info.gallery_id or "not recorded", True),
        _row("Model pack", info.pack_id),
        *[_row(f"Model {k}", v, True) for k, v in sorted(info.model_hashes.items())],
        _row("Match threshold", f"{info.match_threshold:.4f}"),
        _row("Threshold calibration", calibration_text(info)),
    ]
    found = [
        _row("Files in the sources", totals.files),
        _row("Distinct contents / analysed for faces", f"{totals.contents} / {totals.analysed}"),
        _row("Faces found", totals.faces),
        _row("Candidate hits", len(data.all_hits)),
        _row("Confirmed by a reviewer", counts["confirmed"]),
        _row("Marked unsure (Annex A)", counts["unsure"]),
        _row("Rejected by a reviewer (Annex B)", counts["rejected"]),
        _row("Not yet reviewed (Annex C)", counts["pending"]),
    ]
    seal = [
        _row("Case record", f"case id {info.case_id}; every fact in this report is sealed in "
                            "its hash chain (homeward audit verify --expect-head HASH)"),
        _row("Audit trail rows", data.audit_rows),
        _row("Audit trail head hash (verified intact)", data.audit_head, True),
    ]
    table = '<table class="grid" border="1" cellspacing="0" cellpadding="3">'
    return (f'<h1>Homeward face-search report, case {esc(info.case_number)}</h1>'
            f'<div class="section" id="summary"><h2>Summary</h2>{table}{"".join(head)}'
            f'</table>{_sources(data)}<h2>Counts</h2>{table}{"".join(found)}</table>'
            f'<h2>Seal</h2>{table}{"".join(seal)}</table></div>')


def report_blocks(data: ReportData, image_src: ImageSource = data_uri) -> list[Block]:
    """The report in reading order; `image_src` lets the PDF writer name its own images."""
    return [
        Block(_summary(data), ends_page=True),
        *_section("Identifications: candidates confirmed by a human reviewer", "confirmed",
                  "Each entry below is a <b>candidate, confirmed by human reviewer</b>: the "
                  "software proposed it by face similarity and the named reviewer confirmed it. "
                  "The score is a similarity measure, not a probability of identity. Beside the "
                  "face found: the gallery photo it was matched against and the picture it was "
                  "found in.", [_hit(h, data.people_note, image_src) for h in data.confirmed]),
        *_named_people(data.named_people, image_src),
        Block(_cross_case(data.cross_case)),
        *_section("Annex A: hits a reviewer marked unsure", "unsure",
                  '<span class="warn">These are not identifications.</span>',
                  [_entry(h, image_src) for h in data.unsure]),
        *_section("Annex B: hits a reviewer rejected", "rejected",
                  "The reviewer judged the face not to be the candidate.",
                  [_entry(h, image_src) for h in data.rejected]),
        *_section("Annex C: candidates not yet reviewed", "pending",
                  '<span class="warn">These are NOT identifications: no person has reviewed '
                  "them.</span>", [_entry(h, image_src) for h in data.pending]),
    ]


def page_html(body: str, title: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>\n")


def render_html(data: ReportData) -> str:
    """The whole report as one self-contained page."""
    body = "".join(block.html for block in report_blocks(data))
    return page_html(body, f"Homeward report {data.info.case_number}")
