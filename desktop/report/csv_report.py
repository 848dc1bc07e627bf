"""The hits as a spreadsheet: one row per hit, every status, UTF-8 with a BOM for Excel.

The status column holds the review queue's words: confirm, unsure, pending (never reviewed:
not an identification), reject.

Cells holding text from people or seized media that starts like a formula (= + - @) get a
leading apostrophe, so opening the file in a spreadsheet never executes it.
"""

from __future__ import annotations

import csv
import io
import json

from desktop.report.collect import ReportData

COLUMNS = ["hit_id", "status", "person_name", "person_id", "score", "rank", "threshold",
           "pack_id", "model_hashes", "paths", "sha256", "md5", "size", "kind", "date_taken",
           "frame", "timestamp_s", "box", "flags", "reviewer", "decided_at", "note", "crop",
           "thumbnail", "audit_head"]  # the sealed record's head: check with audit verify


def _safe(text: str | None) -> str:
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(data: ReportData) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for h in data.all_hits:
        writer.writerow([
            h.hit_id, h.status, _safe(h.person_name), h.person_id, f"{h.score:.6f}",
            h.rank, f"{h.threshold:.6f}", _safe(h.pack_id),
            json.dumps(h.model_hashes, sort_keys=True), _safe(" | ".join(h.paths)), h.sha256,
            h.md5, h.size, h.kind, h.date_taken or "", "" if h.frame is None else h.frame,
            "" if h.timestamp is None else f"{h.timestamp:.3f}",
            " ".join(f"{v:.1f}" for v in h.box), _safe(", ".join(h.flags)), _safe(h.reviewer),
            h.decided_at or "", _safe(h.note), h.crop or "", h.thumbnail or "", data.audit_head])
    return out.getvalue().encode("utf-8-sig")
