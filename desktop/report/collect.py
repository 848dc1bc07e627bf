"""What every report states, gathered once from a case: the formats only lay it out.

A report is refused when the audit trail does not verify: a document that quotes the head
hash of a broken chain would vouch for records that may have been altered.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop.errors import HomewardError
from desktop.gallery.fields import PersonFields
from desktop.hashing import CHUNK
from desktop.people.case_people import list_clusters
from desktop.people.lab_index import CaseEntry, Link, registered_index_of, registered_links
from desktop.people.link_review import PENDING
from desktop.report.evidence import FileRecord, exif_leads, file_records
from desktop.report.references import Probe, Reference, gallery_side
from desktop.review.queue import review_items
from desktop.scan.case import Case, CaseInfo
from desktop.scan.derived import crop_path, thumbnail_path
from desktop.scan.sources import CaseSource, case_sources, file_stream
from desktop.storage.database import utc_now
from desktop.storage.record import verify_case

log = logging.getLogger(__name__)


class ReportError(HomewardError):
    """A report cannot be made (broken audit trail, unwritable destination)."""


@dataclass(frozen=True)
class ReportHit:
    hit_id: int
    status: str  # pending, confirm, unsure, reject
    person_id: int
    person_name: str
    score: float
    rank: int
    threshold: float
    pack_id: str
    model_hashes: dict[str, str]
    flags: list[str]
    known: list[str]  # "set vN: category" of each known-file hash set the content is in
    known_categories: list[str]  # their category keys ("projectvic:1", "nsrl"...)
    paths: list[str]  # inside their sources, as displayed
    locations: list[str]  # "source label : path inside"
    file_ids: list[int]  # the case's files with this content, to read one again
    sha256: str
    sha1: str | None  # recorded by scans since schema 4
    md5: str
    size: int
    kind: str
    date_taken: str | None
    exif: list[tuple[str, str]]  # (label, value) of the EXIF leads the scan recorded
    files: list[FileRecord]  # every copy, with its file system times
    frame: int | None
    timestamp: float | None
    box: list[float]
    image_size: tuple[int, int] | None  # (width, height) of the picture the box is in
    reviewer: str | None
    decided_at: str | None
    note: str | None
    crop: Path | None
    thumbnail: Path | None
    reference: Reference  # the gallery photo the face was matched against, or why not shown
    person: PersonFields | None  # the missing person's case data now in the gallery, if any


@dataclass(frozen=True)
class NamedPerson:
    """A cluster of unknown faces the examiner named: an investigative lead, never an
    identification."""

    cluster_id: int
    name: str
    faces: int
    paths: list[str]  # distinct files, as displayed
    crop: Path | None  # the first face's crop


@dataclass(frozen=True)
class CrossCaseLeads:
    """What the lab index says this case shares with other registered cases, read when the
    report is made (the index lives outside the case record)."""

    index: str | None  # None: the case is not registered in a lab index
    links: list[Link]  # pending, confirmed and unsure: leads, best first
    rejected: int = 0  # links a reviewer rejected: counted, not shown
    note: str = ""  # why no links could be read, when so

    def counts(self) -> dict[str, int]:
        return {"confirmed": sum(k.status == "confirm" for k in self.links),
                "unsure": sum(k.status == "unsure" for k in self.links),
                "pending": sum(k.status == PENDING for k in self.links),
                "rejected": self.rejected}


@dataclass(frozen=True)
class CaseTotals:
    """What the scans went through, for the summary page."""

    files: int
    contents: int  # distinct contents (identical files are analysed once)
    analysed: int  # contents the face engine read (status ok or no_face)
    faces: int


@dataclass(frozen=True)
class ReportData:
    info: CaseInfo
    case_folder: Path
    examiner: str  # who produced this report (may differ from the case's examiner)
    audit_head: str
    audit_rows: int
    generated_at: str
    sources: list[CaseSource]
    totals: CaseTotals
    people_note: str  # why the gallery's case data are not shown, when so
    confirmed: list[ReportHit]
    unsure: list[ReportHit]
    pending: list[ReportHit]
    rejected: list[ReportHit]
    named_people: list[NamedPerson]
    cross_case: CrossCaseLeads

    @property
    def all_hits(self) -> list[ReportHit]:
        return [*self.confirmed, *self.unsure, *self.pending, *self.rejected]

    def counts(self) -> dict[str, int]:
        return {"confirmed": len(self.confirmed), "unsure": len(self.unsure),
                "pending": len(self.pending), "rejected": len(self.rejected)}


def sha1_again(case: Case, file_ids: list[int], sha256: str) -> str | None:
    """SHA-1 of a content a scan before schema 4 did not record it for (VICS lists SHA-1):
    read from its source again, only if it still has the SHA-256 recorded at scan time."""
    if not file_ids:
        return None
    hashers = {"sha1": hashlib.sha1(), "sha256": hashlib.sha256()}
    try:
        with file_stream(case.db, file_ids[0]) as handle:
            while chunk := handle.read(CHUNK):
                for hasher in hashers.values():
                    hasher.update(chunk)
    except (OSError, HomewardError) as exc:
        log.warning("no SHA1 for content %s: %s", sha256, exc)
        return None
    if hashers["sha256"].hexdigest() != sha256:
        log.warning("no SHA1 for content %s: the file changed since the scan", sha256)
        return None
    return hashers["sha1"].hexdigest()


def collect(case: Case, examiner: str | None = None) -> ReportData:
    """Everything a report needs; raises ReportError if the audit trail is not intact."""
    chain = verify_case(case.db)
    if not chain.ok:
        raise ReportError("The case's record (its audit trail and the tables it seals) does not "
                          "verify; no report was made.",
                          "; ".join(chain.problems[:5]) + " (run `homeward audit verify`)")
    info = case.info
    contents = {r["sha256"]: r for r in case.db.query(
        "SELECT id, sha256, sha1, size, metadata FROM contents")}
    file_ids: dict[int, list[int]] = {}
    for row in case.db.query("SELECT content_id, id FROM files "
                             "WHERE content_id IS NOT NULL ORDER BY id"):
        file_ids.setdefault(row["content_id"], []).append(row["id"])
    groups: dict[str, list[ReportHit]] = {"confirm": [], "unsure": [], "pending": [], "reject": []}
    items = review_items(case.db)
    side = gallery_side(info, case.folder, _probes(case, items))
    copies = file_records(case.db)
    for item in items:
        content = contents[item["sha256"]]
        metadata = json.loads(content["metadata"] or "{}")
        hit = ReportHit(
            hit_id=item["hit_id"], status=item["status"], person_id=item["person_id"],
            person_name=item["person_name"], score=item["score"], rank=item["rank"],
            threshold=item["threshold"], pack_id=item["pack_id"],
            model_hashes=dict(info.model_hashes) if item["pack_id"] == info.pack_id else {},
            flags=list(item["flags"]), known=list(item["known"]),
            known_categories=list(item["known_categories"]), paths=list(item["paths"]),
            locations=list(item["locations"]), file_ids=file_ids.get(content["id"], []),
            sha256=item["sha256"], md5=item["md5"],
            sha1=content["sha1"] or (sha1_again(case, file_ids.get(content["id"], []),
                                                item["sha256"]) if item["status"] == "confirm"
                                     else None),
            size=content["size"], kind=item["kind"], date_taken=metadata.get("date_taken"),
            exif=exif_leads(metadata) if item["kind"] == "image" else [],
            files=copies.get(content["id"], []),
            frame=item["frame"], timestamp=item["timestamp"], box=list(item["box"]),
            image_size=(item["image_width"], item["image_height"])
            if item["image_width"] and item["image_height"] else None,
            reviewer=item["reviewer"], decided_at=item["decided_at"], note=item["note"],
            crop=crop_path(case.folder, item["crop"]),
            thumbnail=thumbnail_path(case.folder, item["thumbnail"]),
            reference=side.references[item["hit_id"]], person=side.people.get(item["person_id"]))
        groups[hit.status].append(hit)
    return ReportData(info=info, case_folder=case.folder, examiner=examiner or info.examiner,
                      audit_head=chain.head, audit_rows=chain.rows, generated_at=utc_now(),
                      sources=case_sources(case.db), totals=_totals(case),
                      people_note=side.note, confirmed=groups["confirm"], unsure=groups["unsure"],
                      pending=groups["pending"], rejected=groups["reject"],
                      named_people=_named_people(case), cross_case=_cross_case(case))


def _probes(case: Case, items: list[dict]) -> list[Probe]:
    """Each hit's face embedding, or its video track's template (what the scan matched)."""
    vectors = {r["id"]: np.frombuffer(r["vector"], dtype=np.float32) for r in case.db.query(
        "SELECT h.id, COALESCE(t.embedding, f.embedding) AS vector FROM hits h "
        "JOIN faces f ON f.id = h.face_id LEFT JOIN tracks t ON t.id = h.track_id")}
    return [Probe(i["hit_id"], i["person_id"], i["pack_id"], vectors[i["hit_id"]]) for i in items]


def _totals(case: Case) -> CaseTotals:
    def count(sql: str) -> int:
        return next(iter(case.db.query(sql)))["n"]

    return CaseTotals(count("SELECT COUNT(*) AS n FROM files"),
                      count("SELECT COUNT(*) AS n FROM contents"),
                      count("SELECT COUNT(*) AS n FROM contents WHERE status IN ('ok', 'no_face')"),
                      count("SELECT COUNT(*) AS n FROM faces"))


def _cross_case(case: Case) -> CrossCaseLeads:
    info = case.info
    entry = CaseEntry(info.case_id, info.case_number, str(case.folder.resolve()), info.pack_id,
                      info.model_hashes)
    try:
        found = registered_links(case.db, entry)
    except HomewardError as exc:
        path = registered_index_of(case.db)
        return CrossCaseLeads(str(path), [], note=f"the lab index could not be read: {exc}")
    if found is None:
        return CrossCaseLeads(None, [])
    return CrossCaseLeads(str(found.index), [k for k in found.links if k.status != "reject"],
                          sum(k.status == "reject" for k in found.links))


def _named_people(case: Case) -> list[NamedPerson]:
    crops = {r["id"]: r["crop"] for r in case.db.query("SELECT id, crop FROM faces")}
    named = []
    for cluster in list_clusters(case.db):
        if cluster.name and not cluster.irrelevant and cluster.cluster_id is not None:
            paths = sorted({f.path for f in cluster.faces if f.path})
            named.append(NamedPerson(cluster.cluster_id, cluster.name, len(cluster.faces), paths,
                                     crop_path(case.folder, crops[cluster.faces[0].face_id])))
    return named
