"""Confirmed identifications as Project VIC VICS 2.0 JSON, for tools that ingest hash sets.

Layout (field names as VICS writers and readers use them): {"@odata.context", "value": [case]}
with case {"CaseID", "CaseNumber", "CaseMetadata": [{"CaseID", "PropertyName",
"PropertyValue"}], "Media": [...]}, and each Media {"MediaID", "Category", "MD5", "SHA1",
"MediaSize", "MimeType", "RelativeFilePath", "DateUpdated", "IsPrecategorized", "Comments",
"Exifs": [{"MD5", "PropertyName", "PropertyValue"}], "MediaFiles": [{"MD5", "FileName",
"FilePath"}]}. The @odata.context is a name, never fetched.

Only confirmed hits leave the tool this way: a pending candidate must not become a record in
another system. Category is 0 (uncategorised): Homeward does not classify content.
Homeward's own data (person, score, reviewer, decision) goes in "Comments", a free-text field
that VICS consumers show or ignore, as the line "Homeward: " + JSON (see `COMMENT_PREFIX`).
The case stores SHA-256 and MD5 only; SHA1 is computed from the source file now, read only,
and left null (logged) when the file is gone or no longer has the scanned size and SHA-256.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict

from desktop.hashing import file_digests
from desktop.report.collect import ReportData, ReportHit
from desktop.report.html import calibration_text
from desktop.sources.opener import EvidenceRefused

log = logging.getLogger(__name__)

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/CUSTOM/$metadata#Cases"
COMMENT_PREFIX = "Homeward: "
UNCATEGORIZED = 0
MIME = {"image": "image", "video": "video"}


def source_sha1(data: ReportData, hit: ReportHit) -> str | None:
    """SHA1 of the hit's source file, only if it still has the size and SHA-256 recorded at
    scan time; read through the evidence opener, so the export leaves its access time alone."""
    path = data.source_file(hit)
    if path is None:
        return None
    try:
        digests = file_digests(path, "sha1", "sha256", expected_size=hit.size)
    except (OSError, EvidenceRefused) as exc:
        log.warning("no SHA1 for %r: %s", path, exc)
        return None
    if digests["sha256"] != hit.sha256:
        log.warning("no SHA1 for %r: the file changed since the scan", path)
        return None
    return digests["sha1"].upper()


def _media(data: ReportData, media_id: int, hits: list[ReportHit]) -> dict:
    first = hits[0]
    comment = {"identifications": [{
        "person_name": h.person_name, "person_id": h.person_id, "hit_id": h.hit_id,
        "score": round(h.score, 6), "rank": h.rank, "threshold": h.threshold,
        "pack_id": h.pack_id, "model_hashes": h.model_hashes, "decision": h.status,
        "reviewer": h.reviewer, "decided_at": h.decided_at, "note": h.note, "frame": h.frame,
        "timestamp_s": h.timestamp, "box": h.box, "flags": h.flags} for h in hits],
        "sha256": first.sha256, "wording": "candidate, confirmed by human reviewer"}
    files = [{"MD5": first.md5.upper(), "FileName": os.path.basename(p), "FilePath": p}
             for p in first.paths]
    exifs = [{"MD5": first.md5.upper(), "PropertyName": "DateTimeOriginal",
              "PropertyValue": first.date_taken}] if first.date_taken else []
    return {
        "MediaID": media_id, "Category": UNCATEGORIZED, "MD5": first.md5.upper(),
        "SHA1": source_sha1(data, first), "MediaSize": first.size,
        "MimeType": MIME.get(first.kind, first.kind),
        "RelativeFilePath": first.paths[0] if first.paths else None,
        "DateUpdated": data.generated_at, "IsPrecategorized": False,
        "Comments": COMMENT_PREFIX + json.dumps(comment, ensure_ascii=False, sort_keys=True),
        "Exifs": exifs, "MediaFiles": files}


def build_vics(data: ReportData) -> dict:
    by_content: dict[str, list[ReportHit]] = defaultdict(list)
    for hit in data.confirmed:
        by_content[hit.sha256].append(hit)
    info = data.info
    properties = {"Examiner": info.examiner, "ReportExaminer": data.examiner,
                  "SourceRoot": info.source_root, "ModelPack": info.pack_id,
                  "MatchThreshold": str(info.match_threshold), "AuditHead": data.audit_head,
                  "HomewardCaseID": info.case_id, "GalleryID": str(info.gallery_id),
                  "ThresholdCalibration": calibration_text(info),
                  "AuditRows": str(data.audit_rows), "Generated": data.generated_at,
                  **{f"Model:{k}": v for k, v in sorted(info.model_hashes.items())}}
    case = {
        "CaseID": info.case_number, "CaseNumber": info.case_number,
        "CaseMetadata": [{"CaseID": info.case_number, "PropertyName": k, "PropertyValue": v}
                         for k, v in properties.items()],
        "Media": [_media(data, i, hits) for i, hits in enumerate(by_content.values(), 1)]}
    return {"@odata.context": CONTEXT, "value": [case]}


def render_vics(data: ReportData) -> bytes:
    return json.dumps(build_vics(data), indent=2, ensure_ascii=False).encode("utf-8")
