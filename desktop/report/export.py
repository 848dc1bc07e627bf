"""Writing a report file and recording it in the audit trail.

The file is written beside its destination and renamed into place, so a failed export never
leaves half a report under the name; the audit row (format, path, SHA-256 of the file, counts)
is appended only once the file is complete, so the trail names exactly what was handed out.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop.fileio import write_atomically
from desktop.report.collect import ReportData, ReportError, collect
from desktop.scan.case import Case
from desktop.storage.heads import record_head
from desktop.storage.record import sealed

log = logging.getLogger(__name__)

FORMATS = ("html", "pdf", "csv", "json")


@dataclass(frozen=True)
class Exported:
    path: Path
    sha256: str
    counts: dict[str, int]


def _renderer(form: str) -> Callable[[ReportData], bytes]:
    if form == "html":
        from desktop.report.html import render_html
        return lambda data: render_html(data).encode("utf-8")
    if form == "pdf":
        from desktop.report.pdf import render_pdf
        return render_pdf
    if form == "csv":
        from desktop.report.csv_report import render_csv
        return render_csv
    if form == "json":
        from desktop.report.vics import render_vics
        return render_vics
    raise ReportError(f"Unknown report format {form!r}; choose one of {', '.join(FORMATS)}.")


def export_report(case: Case, form: str, out: Path, examiner: str | None = None) -> Exported:
    """Write the report and audit it; nothing is written if the audit trail is broken."""
    out = Path(out).absolute()
    if not out.parent.is_dir():
        raise ReportError(f"The folder {out.parent} does not exist; no report was written.",
                          "create it first or choose another --out")
    if out.is_dir():
        raise ReportError(f"{out} is a folder; --out needs a file name.")
    render = _renderer(form)
    with case.writing():  # what the report quotes cannot change until it is recorded
        return _export(case, render, form, out, examiner)


def _export(case: Case, render: Callable[[ReportData], bytes], form: str, out: Path,
            examiner: str | None) -> Exported:
    data = collect(case, examiner)
    payload = render(data)
    write_atomically(out, payload)
    digest = hashlib.sha256(payload).hexdigest()
    counts = data.counts()
    with sealed(case.db, data.examiner, "export", {"format": form, "out": str(out),
                                                   "sha256": digest, "hits": counts,
                                                   "quoted_head": data.audit_head}):
        pass
    # Outside the case: a later truncation or rewrite of its chain loses this head.
    record_head(data.info.case_id, data.audit_rows, data.audit_head,
                f"{form} report {out} sha256 {digest}")
    log.info("wrote %s report %s (sha256 %s)", form, out, digest)
    return Exported(out, digest, counts)
