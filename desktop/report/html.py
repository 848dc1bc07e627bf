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
from pathlib import Path

from desktop.people.lab_index import Link
from desktop.report.collect import CrossCaseLeads, NamedPerson, ReportData, ReportHit
from desktop.scan.case import CaseInfo

log = logging.getLogger(__name__)

ImageSource = Callable[[Path], str | None]  # an image file -> what goes into src="..."

MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}

STYLE = """
body { font-family: sans-serif; font-size: 10pt; color: #000; margin: 1.5em; }
h1 { font-size: 16pt; } h2 { font-size: 13pt; border-bottom: 1px solid #444; margin-top: 1.5em; }
h3 { font-size: 11pt; margin: 0.2em 0; }
table.info td { padding: 1px 8px 1px 0; vertical-align: top; }
div.hit { border: 1px solid #888; padding: 6px; margin: 8px 0; page-break-inside: avoid; }
.mono { font-family: monospace; font-size: 8.5pt; }
.warn { font-weight: bold; }
img { margin: 2px 6px 2px 0; vertical-align: top; }
@media print { body { margin: 0; } }
"""


def data_uri(path: Path) -> str | None:
    """The file as a data: URI, or None (logged) when it is missing."""
    try:
        payload = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError as exc:
        log.warning("image %s not embedded: %s", path, exc)
        return None
    return f"data:{MIME.get(path.suffix.lower(), 'application/octet-stream')};base64,{payload}"


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _row(label: str, value: object, mono: bool = False) -> str:
    cls = ' class="mono"' if mono else ""
    return f"<tr><td>{esc(label)}</td><td{cls}>{esc(value)}</td></tr>"


def _image(path: Path | None, alt: str, width: int, image_src: ImageSource) -> str:
    src = image_src(path) if path is not None else None
    if src is None:
        return f"<span>[{esc(alt)} unavailable]</span>"
    return f'<img src="{esc(src)}" alt="{esc(alt)}" width="{width}">'


def _hit(hit: ReportHit, image_src: ImageSource) -> str:
    where = ""
    if hit.kind == "video":
        where = f"frame {hit.frame}, {hit.timestamp:.2f} s" if hit.timestamp is not None \
            else f"frame {hit.frame}"
    rows = [
        _row("Candidate", f"{hit.person_name} (gallery person {hit.person_id})"),
        _row("Gallery reference photo", hit.reference.note or "shown beside the face found "
                                                              "(second picture)"),
        _row("Status", hit.status),
        _row("Score / rank / threshold", f"{hit.score:.4f} / #{hit.rank} / {hit.threshold:.4f}"),
        *[_row("Location (source : path)", p) for p in hit.locations],
        *[_row("Known file (hash set)", k) for k in hit.known],
        _row("SHA-256", hit.sha256, True),
        _row("MD5", hit.md5, True),
        _row("Size (bytes)", hit.size),
        _row("Media kind", hit.kind),
        _row("EXIF date taken", hit.date_taken or "not recorded"),
    ]
    if where:
        rows.append(_row("Video position", where))
    rows += [
        _row("Face box (x1, y1, x2, y2)", ", ".join(f"{v:.1f}" for v in hit.box)),
        _row("Model pack", hit.pack_id),
        *[_row(f"Model {k}", v, True) for k, v in sorted(hit.model_hashes.items())],
        _row("Reviewer", hit.reviewer or "not reviewed"),
        _row("Decided at (UTC)", hit.decided_at or ""),
        _row("Reviewer's note", hit.note or ""),
        _row("Flags", ", ".join(hit.flags) or "none"),
        _row("Crop file", hit.crop or ""),
        _row("Thumbnail file", hit.thumbnail or ""),
    ]
    images = (_image(hit.crop, "face crop", 160, image_src)
              + _image(hit.reference.photo, "gallery reference photo", 160, image_src)
              + _image(hit.thumbnail, "image or frame", 320, image_src))
    return (f'<div class="hit" id="hit-{hit.hit_id}"><h3>Hit {hit.hit_id}: {esc(hit.person_name)}'
            f"</h3><p>{images}</p><table class=\"info\">{''.join(rows)}</table></div>")


def _section(title: str, css_id: str, intro: str, hits: list[ReportHit],
             image_src: ImageSource) -> str:
    body = "".join(_hit(h, image_src) for h in hits) or "<p>None.</p>"
    return f'<div class="section" id="{css_id}"><h2>{esc(title)} ({len(hits)})</h2>' \
           f"<p>{intro}</p>{body}</div>"


def _named_people(people: list[NamedPerson], image_src: ImageSource) -> str:
    rows = "".join(
        f'<div class="hit">{_image(p.crop, "face", 120, image_src)}<table>'
        + _row("Examiner's name for this unknown person", p.name)
        + _row("Cluster", p.cluster_id)
        + _row("Faces / files", f"{p.faces} / {len(p.paths)}")
        + _row("Files", ", ".join(p.paths[:20]) + (" …" if len(p.paths) > 20 else ""))
        + "</table></div>" for p in people) or "<p>None.</p>"
    return (f'<div class="section" id="people"><h2>Named unknown persons ({len(people)})</h2>'
            '<p><span class="warn">Investigative leads, not identifications:</span> faces the '
            "software grouped by similarity, named by the examiner to follow them up. Nobody "
            f"has been identified by these groups.</p>{rows}</div>")


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


def render_html(data: ReportData, image_src: ImageSource = data_uri) -> str:
    """The whole report; `image_src` lets the PDF writer substitute its own image names."""
    info = data.info
    head = [
        _row("Case number", info.case_number),
        _row("Case examiner", info.examiner),
        _row("Report produced by", data.examiner),
        _row("Report generated (UTC)", data.generated_at),
        _row("Case created", info.created_at),
        _row("Source root (read only)", info.source_root),
        _row("Gallery", info.gallery or "none (scanned without a gallery: no hits)"),
        _row("Gallery id (the case is bound to it)", info.gallery_id or "not recorded", True),
        _row("Model pack", info.pack_id),
        *[_row(f"Model {k}", v, True) for k, v in sorted(info.model_hashes.items())],
        _row("Match threshold", f"{info.match_threshold:.4f}"),
        _row("Threshold calibration", calibration_text(info)),
        _row("Case record", f"case id {info.case_id}; every fact above and below is sealed in "
                            "its hash chain (homeward audit verify --expect-head HASH)"),
        _row("Audit trail rows", data.audit_rows),
        _row("Audit trail head hash (verified intact)", data.audit_head, True),
    ]
    counts = data.counts()
    summary = (f"{counts['confirmed']} confirmed, {counts['unsure']} unsure, "
               f"{counts['pending']} not yet reviewed, {counts['rejected']} rejected.")
    sections = [
        _section("Identifications: candidates confirmed by a human reviewer", "confirmed",
                 "Each entry below is a <b>candidate, confirmed by human reviewer</b>: the software "
                 "proposed it by face similarity and the named reviewer confirmed it. The score is "
                 "a similarity measure, not a probability of identity.", data.confirmed,
                 image_src),
        _section("Unsure: reviewed, neither confirmed nor rejected", "unsure",
                 '<span class="warn">These are not identifications.</span>', data.unsure,
                 image_src),
        _section("Pending: candidates not yet reviewed", "pending",
                 '<span class="warn">These are NOT identifications: no person has reviewed '
                 "them.</span>", data.pending, image_src),
        _named_people(data.named_people, image_src),
        _cross_case(data.cross_case),
    ]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>Homeward report {esc(info.case_number)}</title><style>{STYLE}</style></head>"
            f"<body><h1>Homeward face-search report, case {esc(info.case_number)}</h1>"
            f'<table class="info">{"".join(head)}</table><p>{esc(summary)} Rejected candidates '
            f"are counted, not shown.</p>{''.join(sections)}</body></html>\n")
