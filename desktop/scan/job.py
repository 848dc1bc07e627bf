"""The scan job: inventory the source, fingerprint new files, analyse each new content once,
match against the gallery. Resumable at any moment: every result is committed as it arrives,
and a re-run only does what no earlier run committed.

The main process is the only database writer; worker processes return plain dataclasses.
Progress goes to a plain callback (terminal or GUI alike); cancel is a threading.Event.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from desktop.engine.engine import EngineOptions, FaceEngine
from desktop.engine.pack_store import InstalledPack, require_intact
from desktop.errors import Cancelled
from desktop.gallery.gallery import Gallery
from desktop.match.hits import gallery_matrix, match_case
from desktop.people.case_people import cluster_case, pack_params
from desktop.scan.binding import bind_first, check_gallery, check_pack
from desktop.scan.case import Case, CaseError
from desktop.scan.content import (
    ContentOutcome,
    ContentTask,
    Fingerprint,
    analyse_content,
    fingerprint,
)
from desktop.scan.derived import sweep_partial_derived
from desktop.scan.inventory import Entry, walk_source
from desktop.scan.pipeline import BatchedAnalysis, decode_pool
from desktop.scan.workers import default_workers, engine_pool, runs_on_gpu, use_engine
from desktop.storage.database import utc_now
from desktop.storage.record import Seal, sealed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    stage: str  # "listing", "hashing", "analysing", "matching", "people", "done"
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

    def flush(self) -> None:
        """Report the counts now."""
        now = self.last = time.perf_counter()
        rate = self.done / max(now - self.start, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else None
        self.report(Progress(self.stage, self.done, self.total, self.faces, rate, eta))


@dataclass(frozen=True)
class _Runners:
    """How the two parallel stages run: fingerprinting paths, analysing contents."""

    fingerprint: Callable[[Iterable[bytes]], Iterator[Fingerprint]]
    analyse: Callable[[Iterable[ContentTask]], Iterator[ContentOutcome]]


class ScanJob:
    def __init__(self, case: Case, pack: InstalledPack, gallery: Gallery | None, *,
                 options: EngineOptions | None = None, workers: int | None = None,
                 batched: bool | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None,
                 pause: threading.Event | None = None, examiner: str | None = None) -> None:
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
        self.root = os.fsencode(info.source_root)

    def run(self) -> ScanSummary:
        """The whole scan under the case's writer lock: a second writer is refused."""
        with self.case.writing():
            return self._run()

    def _run(self) -> ScanSummary:
        started = time.perf_counter()
        settings = {"workers": self.workers, "fps": self.info.fps,
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
            with self._runners() as runners:
                files = self._inventory(runners)
                self._check_cancel()
                new_contents = self._analyse(runners)
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

    @contextmanager
    def _runners(self) -> Iterator[_Runners]:
        """Engine workers on the CPU (each decodes and infers); with `batched` (a GPU),
        decode workers feeding this process's engine; with one worker, all in this process.
        A pool has about one file per worker out at a time, none handed out while paused.
        First the pack's files are checked against their hashes (a damaged model is named
        before any engine loads it) and what killed writes left in the case is swept."""
        require_intact(self.pack)
        sweep_partial_derived(self.case.folder)

        def held() -> bool:
            return self.pause.is_set() and not self.cancel.is_set()

        stop = self.cancel.is_set
        if self.batched:
            with decode_pool(self.workers) as pool:
                analysis = BatchedAnalysis(FaceEngine(self.pack, self.options), pool,
                                           self.workers, held=held, stop=stop)
                try:
                    yield _Runners(lambda paths: pool.imap(fingerprint, paths, chunksize=4,
                                                           ordered=False, held=held, stop=stop),
                                   analysis.run)
                finally:
                    analysis.close()
            return
        if self.workers == 1:
            use_engine(FaceEngine(self.pack, self.options))
            yield _Runners(lambda paths: map(fingerprint, paths),
                           lambda tasks: map(analyse_content, tasks))
            return
        with engine_pool(self.pack, self.options, self.workers) as pool:
            yield _Runners(lambda paths: pool.imap(fingerprint, paths, ordered=False, held=held,
                                                   stop=stop),
                           lambda tasks: pool.imap(analyse_content, tasks, ordered=False,
                                                   held=held, stop=stop))

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

    # --- stage 1: what is in the source -----------------------------------------------------

    def _inventory(self, runners: _Runners) -> int:
        db = self.case.db
        known = {bytes(r["path_bytes"]): (r["size"], r["mtime"], r["content_id"])
                 for r in db.query("SELECT path_bytes, size, mtime, content_id FROM files")}
        entries = list(walk_source(self.root))
        todo: list[Entry] = []
        with sealed(db, self.examiner, "files listed", {"source": self.info.source_root}) as seal:
            for entry in entries:
                previous = known.get(entry.path_bytes)
                if entry.problem:
                    self._upsert_file(seal, entry, None, entry.status, entry.problem)
                elif previous is None or previous[2] is None or previous[:2] != (entry.size,
                                                                                  entry.mtime):
                    todo.append(entry)
        meter = _Meter("hashing", len(todo), self.report)
        by_path = {e.path_bytes: e for e in todo}
        paths = [os.path.join(self.root, e.path_bytes) for e in todo]
        for result in runners.fingerprint(self._gate(paths, meter)):
            self._check_cancel()
            entry = by_path[os.path.relpath(result.path, self.root)]
            with sealed(db, self.examiner, "file hashed", {"path": entry.rel_path}) as seal:
                self._record_fingerprint(seal, entry, result)
            meter.tick()
        return len(entries)

    def _upsert_file(self, seal: Seal, entry: Entry, content_id: int | None, status: str | None,
                     reason: str | None) -> None:
        file_id = self.case.db.execute(
            "INSERT INTO files (path_bytes, rel_path, size, mtime, ctime, content_id, status, "
            "reason, seen_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (path_bytes) DO UPDATE SET "
            "size = excluded.size, mtime = excluded.mtime, ctime = excluded.ctime, "
            "content_id = excluded.content_id, status = excluded.status, "
            "reason = excluded.reason, seen_at = excluded.seen_at RETURNING id",
            [entry.path_bytes, entry.rel_path, entry.size, entry.mtime, entry.ctime, content_id,
             status, reason, utc_now()]).fetchone()[0]
        seal.wrote("files", [file_id])

    def _record_fingerprint(self, seal: Seal, entry: Entry, result: Fingerprint) -> None:
        if result.error:
            self._upsert_file(seal, entry, None, "unreadable", result.error)
            return
        db = self.case.db
        db.execute("INSERT OR IGNORE INTO contents (sha256, md5, size, kind, format) "
                   "VALUES (?,?,?,?,?)",
                   [result.sha256, result.md5, result.size, result.kind, result.format])
        content = next(db.query("SELECT id, status, reason FROM contents WHERE sha256 = ?",
                                [result.sha256]))
        seal.wrote("contents", [content["id"]])
        self._upsert_file(seal, entry, content["id"], content["status"], content["reason"])

    # --- stage 2: faces of every content not analysed yet -----------------------------------

    def _analyse(self, runners: _Runners) -> int:
        db = self.case.db
        tasks = [ContentTask(r["id"], r["sha256"], os.path.join(self.root, bytes(r["path_bytes"])),
                             r["kind"], self.info.fps, self.info.match_threshold, self.case.folder)
                 for r in db.query(
                     "SELECT c.id, c.sha256, c.kind, (SELECT path_bytes FROM files f WHERE f.content_id = "
                     "c.id ORDER BY f.id LIMIT 1) AS path_bytes FROM contents c "
                     "WHERE c.processed_at IS NULL ORDER BY c.id")]
        meter = _Meter("analysing", len(tasks), self.report)
        for outcome in runners.analyse(self._gate(tasks, meter)):
            self._check_cancel()
            with sealed(db, self.examiner, "content analysed",
                        {"content_id": outcome.content_id}) as seal:
                self._record_outcome(seal, outcome)
            meter.tick(len(outcome.faces))
        return len(tasks)

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
        db.execute(
            "UPDATE contents SET status = ?, reason = ?, width = ?, height = ?, duration_s = ?, "
            "metadata = ?, processed_at = ? WHERE id = ?",
            [outcome.status, outcome.reason, outcome.width, outcome.height, outcome.duration_s,
             json.dumps(outcome.metadata, default=str), utc_now(), outcome.content_id])
        db.execute("UPDATE files SET status = ?, reason = ? WHERE content_id = ?",
                   [outcome.status, outcome.reason, outcome.content_id])
        seal.wrote("tracks", track_ids)
        seal.wrote("faces", face_ids)
        seal.wrote("contents", [outcome.content_id])
        seal.wrote("files", [r["id"] for r in db.query(
            "SELECT id FROM files WHERE content_id = ?", [outcome.content_id])])

