"""The scan job: inventory the source, fingerprint new files, analyse each new content once,
match against the gallery. Resumable at any moment: every result is committed as it arrives,
and a re-run only does what no earlier run committed.

The main process is the only database writer; worker processes return plain dataclasses.
Progress goes to a plain callback (terminal or GUI alike); cancel is a threading.Event.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from desktop.engine.engine import EngineOptions
from desktop.engine.pack_store import InstalledPack
from desktop.errors import Cancelled
from desktop.gallery.gallery import Gallery
from desktop.hashsets.store import HashSetStore, verdict
from desktop.match.hits import gallery_matrix, match_case
from desktop.people.case_people import cluster_case, pack_params
from desktop.scan.analyze import Analyser, Analysis, AnalysisService
from desktop.scan.binding import bind_first, check_gallery, check_pack
from desktop.scan.case import Case, CaseError
from desktop.scan.content import (
    ContentOutcome,
    ContentTask,
    FileRef,
    Fingerprint,
)
from desktop.scan.derived import sweep_partial_derived, write_carried
from desktop.scan.sources import (
    CaseSource,
    add_sources,
    case_sources,
    file_locator,
    hash_container,
    record_listing,
)
from desktop.scan.workers import default_workers, runs_on_gpu
from desktop.sources.base import (
    ARCHIVE_DEPTH,
    E01,
    FOLDER,
    EvidenceSource,
    SourceEntry,
    SourceSpec,
    encode_locator,
)
from desktop.sources.detect import entry_name, open_source
from desktop.sources.nested import NestedSource
from desktop.storage.database import utc_now
from desktop.storage.record import Seal, sealed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    stage: str  # "container" and "verifying" (an E01: done, total in MiB), "listing" (no
    # total), "hashing",
    # "analysing", "matching", "people", "done"
    done: int
    total: int
    faces: int
    rate: float  # items per second in this stage
    eta_s: float | None


@dataclass(frozen=True)
class ScanSummary:
    scan_id: int
    files: int
    new_contents: int
    faces: int
    new_hits: int
    status_counts: dict[str, int]
    seconds: float


class _Meter:
    """A stage's progress, ticked as each result is committed. Reports at most every 0.25 s,
    except while paused: then every commit is reported, so the counts shown are what the
    case holds."""

    def __init__(self, stage: str, total: int, report: Callable[[Progress], None]) -> None:
        self.stage, self.total, self.report = stage, total, report
        self.start = time.perf_counter()
        self.done = self.faces = 0
        self.last = 0.0
        self.pause: threading.Event | None = None  # the scan's, given by ScanJob._gate

    def tick(self, faces: int = 0, force: bool = False) -> None:
        self.done += 1
        self.faces += faces
        paused = self.pause is not None and self.pause.is_set()
        if force or paused or time.perf_counter() - self.last > 0.25 or self.done == self.total:
            self.flush()

    def at_bytes(self, done: int, total: int) -> None:
        """A stage counted in bytes read (a container hashed or verified), shown in MiB."""
        self.total = max(1, total >> 20)
        self.done = (done >> 20) - 1
        self.tick()

    def flush(self) -> None:
        """Report the counts now."""
        now = self.last = time.perf_counter()
        rate = self.done / max(now - self.start, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else None
        self.report(Progress(self.stage, self.done, self.total, self.faces, rate, eta))


class ScanJob:
    def __init__(self, case: Case, pack: InstalledPack, gallery: Gallery | None, *,
                 options: EngineOptions | None = None, workers: int | None = None,
                 batched: bool | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None,
                 pause: threading.Event | None = None, examiner: str | None = None,
                 sources: list[Path] | None = None, archive_depth: int = ARCHIVE_DEPTH,
                 analyse_known: bool = False) -> None:
        self.case, self.pack, self.gallery = case, pack, gallery
        self.options = options or EngineOptions()
        self.workers = workers or default_workers()
        # Decode workers feeding batched inference: what a GPU needs. None: exactly on a GPU;
        # tests and bench/scan.py force it to check and measure the pipeline on a CPU.
        self.batched = runs_on_gpu(self.options) if batched is None else batched
        self.report = on_progress or (lambda _p: None)
        self.cancel = cancel or threading.Event()
        self.pause = pause or threading.Event()  # set: no new work is handed to workers
        check_pack(case, pack)
        info = case.info
        if gallery is not None:
            check_gallery(case, gallery)
        elif info.gallery_id is not None:
            raise CaseError(f"This case is matched against the gallery {info.gallery}; scan it "
                            "with that gallery.")
        self.info = info
        self.examiner = examiner or info.examiner
        self.source_paths = sources  # None: every source the case holds
        self.archive_depth = archive_depth
        self.analyse_known = analyse_known  # False: known-ignorable files skip face analysis
        self.known: HashSetStore | None = None
        self.sources: list[CaseSource] = []
        # Who does the analysis: this machine's pools, or a lab cluster (desktop.cluster sets
        # both, and what the scan record says of it); this process stays the only writer.
        self.service: AnalysisService = lambda held, stop: Analysis(
            self.pack, self.options, self.workers, self.batched, held, stop)
        self.analysed_on: dict = {"machine": "this workstation", "workers": self.workers}

    def run(self) -> ScanSummary:
        """The whole scan under the case's writer lock: a second writer is refused."""
        with self.case.writing(), HashSetStore.open() as self.known:
            return self._run()

    def _run(self) -> ScanSummary:
        started = time.perf_counter()
        db = self.case.db
        paths = self.source_paths
        if paths is None and not case_sources(db):  # a new case: its first source
            paths = [Path(self.info.source_root)]
        self.sources = (case_sources(db) if paths is None else
                        add_sources(db, paths, self.examiner, self.case.work_folder))
        settings = {"workers": self.workers, "analysis": self.analysed_on, "fps": self.info.fps,
                    "sources": [s.label for s in self.sources],
                    "provider": self.options.provider, "gallery": None}
        matrix = None
        if self.gallery is not None:
            matrix = gallery_matrix(self.gallery, self.pack.id, self.pack.manifest.model_hashes[
                "recognizer"])  # fail before any work if the gallery cannot be used
            bind_first(self.case, self.gallery, self.examiner)
            # Which gallery, in which state, the hits of this scan were matched against.
            settings.update({"gallery": str(Path(self.gallery.path).resolve()),
                             "gallery_id": self.gallery.identity,
                             "gallery_fingerprint": self.gallery.fingerprint(self.pack.id),
                             "gallery_persons": len(set(matrix.person_ids)),
                             "gallery_embeddings": len(matrix.person_ids)})
        scan_id = self.case.start_scan(settings, self.examiner)
        status, files, new_contents, new_hits = "cancelled", 0, 0, 0
        try:
            sweep_partial_derived(self.case.folder)  # what killed writes left in the case
            with self.service(self._held, self.cancel.is_set) as analysis:
                files = self._inventory(analysis)
                self._check_cancel()
                new_contents = self._analyse(analysis)
                self._check_cancel()
            if matrix is not None and len(matrix.person_ids):  # none: faces only, no hits
                self.report(Progress("matching", 0, 1, 0, 0.0, None))
                new_hits = match_case(self.case.db, matrix, pack_id=self.pack.id,
                                      threshold=self.info.match_threshold, scan_id=scan_id,
                                      actor=self.examiner)
            self.report(Progress("people", 0, 1, 0, 0.0, None))
            cluster_case(self.case.db, pack_params(self.pack), self.examiner)
            status = "finished"
        except Cancelled:
            raise
        except Exception:
            status = "failed"
            raise
        finally:
            self.case.finish_scan(scan_id, status, self.examiner, {
                "files": files, "contents_analysed": new_contents, "new_hits": new_hits})
        counts = {r["status"] or "pending": r["n"] for r in self.case.db.query(
            "SELECT status, COUNT(*) AS n FROM files GROUP BY status")}
        faces = next(self.case.db.query("SELECT COUNT(*) AS n FROM faces"))["n"]
        self.report(Progress("done", 1, 1, faces, 0.0, 0.0))
        return ScanSummary(scan_id, files, new_contents, faces, new_hits, counts,
                           time.perf_counter() - started)

    def _held(self) -> bool:
        return self.pause.is_set() and not self.cancel.is_set()

    def _gate(self, items: list, meter: _Meter) -> Iterator:
        """Hand items out one by one, holding back while paused (work in flight finishes);
        paused, the meter reports every commit, and once as the hold begins."""
        meter.pause = self.pause
        for item in items:
            if self.pause.is_set() and not self.cancel.is_set():
                meter.flush()
            while self.pause.is_set() and not self.cancel.is_set():
                time.sleep(0.1)
            if self.cancel.is_set():
                return
            yield item

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("Scan cancelled; run it again to continue where it stopped.")

    # --- stage 1: what is in the sources ----------------------------------------------------

    def _inventory(self, analysis: Analyser) -> int:
        db = self.case.db
        known = {(r["source_id"], bytes(r["path_bytes"])): (r["size"], r["mtime"], r["content_id"])
                 for r in db.query("SELECT source_id, path_bytes, size, mtime, content_id FROM files")}
        listed, todo = 0, []
        for number, source in enumerate(self.sources):
            self.sources[number] = source = self._hash_container(source)
            entries, source = self._list(source)
            self.sources[number] = source
            listed += len(entries)
            with sealed(db, self.examiner, "files listed", {"source": source.label}) as seal:
                for entry in entries:
                    key = (source.source_id, entry.path_bytes)
                    previous = known.get(key)
                    if entry.problem:
                        self._upsert_file(seal, source, entry, None, entry.status, entry.problem)
                    elif previous is None or previous[2] is None or previous[:2] != (entry.size,
                                                                                      entry.mtime):
                        todo.append((FileRef(source.spec, entry.locator, entry.size, key,
                                             entry_name(source.spec, entry.path_bytes)),
                                     source, entry))
        meter = _Meter("hashing", len(todo), self.report)
        by_key = {ref.key: (source, entry) for ref, source, entry in todo}
        for result in analysis.fingerprint(self._gate([ref for ref, _, _ in todo], meter)):
            self._check_cancel()
            source, entry = by_key[result.key]
            with sealed(db, self.examiner, "file hashed",
                        {"source": source.label, "path": entry.rel_path}) as seal:
                self._record_fingerprint(seal, source, entry, result)
            meter.tick()
        return listed

    def _hash_container(self, source: CaseSource) -> CaseSource:
        """The container's own hashes, once (a stage of its own, counted in MiB: an image may
        be large)."""
        meter = _Meter("container", 1, self.report)
        return hash_container(self.case.db, source, self.examiner, meter.at_bytes,
                              self.cancel.is_set)

    def _list(self, source: CaseSource) -> tuple[list[SourceEntry], CaseSource]:
        """Every entry of a source (archives inside containers opened, to archive_depth); an
        E01's media data checked against its stored hashes, once."""
        self.report(Progress("listing", 0, 0, 0, 0.0, None))
        lister = reader = open_source(source.spec)
        if source.kind != FOLDER and self.archive_depth > 0:
            lister = NestedSource(reader, self.archive_depth)
        with lister:
            entries = list(lister.entries())
            if source.kind == E01 and not source.details.get("verification"):
                self._verify(reader)
            spec, facts = lister.spec, lister.facts()
        return entries, record_listing(self.case.db, source, spec, facts, self.examiner)

    def _verify(self, image: EvidenceSource) -> None:
        meter = _Meter("verifying", 1, self.report)
        image.verify(meter.at_bytes, self.cancel)  # type: ignore[attr-defined]

    def _upsert_file(self, seal: Seal, source: CaseSource, entry: SourceEntry,
                     content_id: int | None, status: str | None, reason: str | None) -> None:
        file_id = self.case.db.execute(
            "INSERT INTO files (source_id, path_bytes, rel_path, size, mtime, ctime, atime, crtime, "
            "deleted, locator, content_id, status, reason, seen_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (source_id, path_bytes) DO UPDATE SET "
            "size = excluded.size, mtime = excluded.mtime, ctime = excluded.ctime, "
            "atime = excluded.atime, crtime = excluded.crtime, deleted = excluded.deleted, "
            "locator = excluded.locator, content_id = excluded.content_id, "
            "status = excluded.status, reason = excluded.reason, seen_at = excluded.seen_at "
            "RETURNING id",
            [source.source_id, entry.path_bytes, entry.rel_path, entry.size, entry.mtime,
             entry.ctime, entry.atime, entry.crtime, int(entry.deleted),
             encode_locator(entry.locator) if entry.locator else None, content_id, status, reason,
             utc_now()]).fetchone()[0]
        seal.wrote("files", [file_id])

    def _record_fingerprint(self, seal: Seal, source: CaseSource, entry: SourceEntry,
                            result: Fingerprint) -> None:
        if result.error:
            self._upsert_file(seal, source, entry, None, "unreadable", result.error)
            return
        db = self.case.db
        db.execute("INSERT OR IGNORE INTO contents (sha256, md5, sha1, size, kind, format) "
                   "VALUES (?,?,?,?,?,?)",
                   [result.sha256, result.md5, result.sha1, result.size, result.kind, result.format])
        content = next(db.query("SELECT id, status, reason, processed_at FROM contents "
                                "WHERE sha256 = ?", [result.sha256]))
        seal.wrote("contents", [content["id"]])
        status, reason = self._known_file(seal, content, result)
        self._upsert_file(seal, source, entry, content["id"], status, reason)

    def _known_file(self, seal: Seal, content: dict, result: Fingerprint) -> tuple[str | None,
                                                                                   str | None]:
        """The content's matches in the hash sets, recorded; a known-ignorable content not
        analysed yet is marked `known` and skips face analysis (unless analyse_known)."""
        assert self.known is not None
        matches = self.known.lookup(result.md5, result.sha1, result.sha256)
        if not matches:
            return content["status"], content["reason"]
        db = self.case.db
        for match in matches:
            row = db.execute(
                "INSERT OR IGNORE INTO known_files (content_id, set_name, set_version, category, "
                "label, algorithms, ignorable, priority) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                [content["id"], match.set_name, match.set_version, match.category, match.label,
                 ",".join(match.algorithms), int(match.ignorable), int(match.priority)]).fetchone()
            if row is not None:
                seal.wrote("known_files", [row[0]])
        if (not verdict(matches).ignorable or self.analyse_known
                or content["processed_at"] is not None):
            return content["status"], content["reason"]
        reason = "known file, not analysed: " + "; ".join(
            f"{m.set_name} v{m.set_version}: {m.label}" for m in matches)
        db.execute("UPDATE contents SET status = 'known', reason = ?, processed_at = ? "
                   "WHERE id = ?", [reason, utc_now(), content["id"]])
        return "known", reason

    # --- stage 2: faces of every content not analysed yet -----------------------------------

    def _analyse(self, analysis: Analyser) -> int:
        db = self.case.db
        specs = {s.source_id: s.spec for s in case_sources(db)}
        tasks = [ContentTask(r["id"], r["sha256"], self._file_ref(specs, r), r["kind"],
                             self.info.fps, self.info.match_threshold, self.case.folder)
                 for r in db.query(
                     "SELECT c.id, c.sha256, c.kind, f.source_id, f.path_bytes, f.size, f.locator "
                     "FROM contents c JOIN files f ON f.id = (SELECT id FROM files WHERE "
                     "content_id = c.id ORDER BY id LIMIT 1) "
                     "WHERE c.processed_at IS NULL ORDER BY c.id")]
        meter = _Meter("analysing", len(tasks), self.report)
        for outcome in analysis.analyse(self._gate(tasks, meter)):
            self._check_cancel()
            write_carried(self.case.folder, outcome.derived)  # before the rows that name them
            with sealed(db, self.examiner, "content analysed",
                        {"content_id": outcome.content_id}) as seal:
                self._record_outcome(seal, outcome)
            meter.tick(len(outcome.faces))
        return len(tasks)

    @staticmethod
    def _file_ref(specs: dict[int, SourceSpec], row: dict) -> FileRef:
        path = bytes(row["path_bytes"])
        spec = specs[row["source_id"]]
        return FileRef(spec, file_locator(row), row["size"], (row["source_id"], path),
                       entry_name(spec, path))

    def _record_outcome(self, seal: Seal, outcome: ContentOutcome) -> None:
        db = self.case.db
        if next(db.query("SELECT processed_at FROM contents WHERE id = ?",
                         [outcome.content_id]))["processed_at"] is not None:
            return  # already recorded (only a second writer that bypassed the lock gets here)
        track_ids = []
        for track in outcome.tracks:
            cursor = db.execute(
                "INSERT INTO tracks (content_id, first_s, last_s, faces, embedding) "
                "VALUES (?,?,?,?,?)", [outcome.content_id, track.first_s, track.last_s,
                                       track.faces, track.embedding.astype("float32").tobytes()])
            track_ids.append(int(cursor.lastrowid))
        face_ids = []
        for found in outcome.faces:
            face = found.face.to_dict()
            cursor = db.execute(
                "INSERT INTO faces (content_id, frame_index, timestamp_s, track_id, box, "
                "landmarks, det_score, quality, embedding, crop, thumbnail) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [outcome.content_id, found.frame_index, found.timestamp_s,
                 None if found.track is None else track_ids[found.track],
                 json.dumps(face["box"]), json.dumps(face["landmarks"]), face["det_score"],
                 json.dumps(face["quality"]),
                 found.face.embedding.astype("float32").tobytes(), found.crop, found.thumbnail])
            face_ids.append(int(cursor.lastrowid))
        for track_id, track in zip(track_ids, outcome.tracks, strict=True):
            db.execute("UPDATE tracks SET best_face_id = ? WHERE id = ?",
                       [face_ids[track.best_face], track_id])
        pdq = outcome.pdq
        db.execute(
            "UPDATE contents SET status = ?, reason = ?, width = ?, height = ?, duration_s = ?, "
            "metadata = ?, pdq = ?, pdq_quality = ?, processed_at = ? WHERE id = ?",
            [outcome.status, outcome.reason, outcome.width, outcome.height, outcome.duration_s,
             json.dumps(outcome.metadata, default=str), None if pdq is None else pdq.hex,
             None if pdq is None else pdq.quality, utc_now(), outcome.content_id])
        db.execute("UPDATE files SET status = ?, reason = ? WHERE content_id = ?",
                   [outcome.status, outcome.reason, outcome.content_id])
        seal.wrote("tracks", track_ids)
        seal.wrote("faces", face_ids)
        seal.wrote("contents", [outcome.content_id])
        seal.wrote("files", [r["id"] for r in db.query(
            "SELECT id FROM files WHERE content_id = ?", [outcome.content_id])])

