"""Confirmed identifications as Project VIC VICS 2.0 JSON, for tools that ingest hash sets.

Layout (field names as VICS writers and readers use them): {"@odata.context", "value": [case]}
with case {"CaseID", "CaseNumber", "CaseMetadata": [{"CaseID", "PropertyName",
"PropertyValue"}], "Media": [...]}, and each Media {"MediaID", "Category", "MD5", "SHA1",
"MediaSize", "MimeType", "RelativeFilePath", "DateUpdated", "IsPrecategorized", "Comments",
"Exifs": [{"MD5", "PropertyName", "PropertyValue"}], "MediaFiles": [{"MD5", "FileName",
"FilePath"}]}. The @odata.context is a name, never fetched.

Only confirmed hits leave the tool this way: a pending candidate must not become a record in
another system. Homeward does not classify content: Category is the Project VIC category of a
hash set the file was found in at the scan (IsPrecategorized true), else 0 (uncategorised).
Homeward's own data (person, score, reviewer, decision) goes in "Comments", a free-text field
that VICS consumers show or ignore, as the line "Homeward: " + JSON (see `COMMENT_PREFIX`).
SHA1 is the one the scan recorded (for a case scanned before scans recorded it, see
collect.sha1_again).
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict

from desktop.report.collect import ReportData, ReportHit
from desktop.report.html import calibration_text

log = logging.getLogger(__name__)

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/CUSTOM/$metadata#Cases"
COMMENT_PREFIX = "Homeward: "
UNCATEGORIZED = 0
MIME = {"image": "image", "video": "video"}


def _media(data: ReportData, media_id: int, hits: list[ReportHit]) -> dict:
    first = hits[0]
    category = next((int(key.split(":")[1]) for key in first.known_categories
                     if key.startswith("projectvic:") and key.split(":")[1].isdigit()), None)
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
        "MediaID": media_id, "Category": category if category is not None else UNCATEGORIZED,
        "MD5": first.md5.upper(),
        "SHA1": first.sha1.upper() if first.sha1 else None, "MediaSize": first.size,
        "MimeType": MIME.get(first.kind, first.kind),
        "RelativeFilePath": first.paths[0] if first.paths else None,
        "DateUpdated": data.generated_at, "IsPrecategorized": category is not None,
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
