"""Turning "scan this folder into that case" into a ready ScanJob: the one place that opens
the gallery, picks the pack (a case keeps the pack it was started with), and creates or
reopens the case. The command line and the GUI both start scans through here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from desktop.engine.calibration import calibration_of
from desktop.engine.engine import EngineOptions
from desktop.engine.pack_store import InstalledPack, resolve_pack
from desktop.gallery.gallery import Gallery
from desktop.scan.case import DB_NAME, Case, CaseError, CaseInfo
from desktop.scan.job import Progress, ScanJob
from desktop.scan.sources import add_sources, case_sources
from desktop.sources.base import ARCHIVE_DEPTH
from desktop.sources.detect import detect_kind
from desktop.storage.database import utc_now


@dataclass(frozen=True)
class ScanRequest:
    sources: tuple[Path, ...]  # folders and containers (a new one is added to the case); ()
    # for an existing case: every source it holds
    case_dir: Path
    gallery: Path | None  # None: the case's own gallery, or none (faces and people only)
    examiner: str
    pack: str | None = None  # None: the case's pack, or the default pack for a new case
    fps: float | None = None  # None: the case's, or DEFAULT_FPS for a new case
    threshold: float | None = None  # None: the case's, or the pack's for a new case
    workers: int | None = None
    provider: str = "auto"
    case_number: str | None = None  # None: the case folder's name
    archive_depth: int = ARCHIVE_DEPTH
    analyse_known: bool = False  # True: files known as ignorable are analysed all the same


def case_exists(case_dir: Path) -> bool:
    return (Path(case_dir) / DB_NAME).exists()


DEFAULT_FPS = 2.0


def _refuse_changed_settings(request: ScanRequest, info: CaseInfo) -> None:
    """A setting given for an existing case must be the case's: changing one is its own,
    audited operation (`homeward case set`), never a side effect of resuming a scan."""
    for name, asked, current, how in (
            ("threshold", request.threshold, info.match_threshold, "--threshold"),
            ("frame rate", request.fps, info.fps, "--fps")):
        if asked is not None and abs(asked - current) > 1e-9:
            raise CaseError(f"This case's {name} is {current:g}, not {asked:g}.",
                            f"change it with `homeward case set --case DIR {how} {asked:g}` "
                            "(audited), or leave it out")


def open_case_for(request: ScanRequest, pack: InstalledPack) -> Case:
    """The case of these sources: opened if it exists, else created (a source not yet in
    the case is added by the scan)."""
    for path in request.sources:
        detect_kind(Path(path))  # a clear error before any case is created or changed
    if not case_exists(request.case_dir):
        if not request.sources:
            raise CaseError("Name at least one source for a new case.")
        try:
            return _create(request, pack, Path(request.sources[0]).resolve())
        except CaseError:
            if not case_exists(request.case_dir):
                raise
            # Another process created it a moment ago: open it like any existing case (its
            # writer lock then decides which of the two scans runs).
    case = Case.open(request.case_dir)
    try:
        _refuse_changed_settings(request, case.info)
    except BaseException:
        case.close()
        raise
    return case


def _create(request: ScanRequest, pack: InstalledPack, source: Path) -> Case:
    calibration = calibration_of(pack) if request.threshold is None else None
    threshold = pack.manifest.match_threshold if request.threshold is None else request.threshold
    gallery_id = None  # without a gallery: bound to the first one it is scanned with
    if request.gallery is not None:
        gallery = Gallery.open(request.gallery)
        try:
            gallery_id = gallery.identity  # the case is bound to this gallery file from the start
        finally:
            gallery.close()
    case = Case.create(request.case_dir, CaseInfo(
        case_number=request.case_number or Path(request.case_dir).resolve().name,
        examiner=request.examiner, source_root=str(source),
        gallery="" if request.gallery is None else str(Path(request.gallery).resolve()),
        pack_id=pack.id,
        model_hashes=pack.manifest.model_hashes, match_threshold=threshold,
        fps=DEFAULT_FPS if request.fps is None else request.fps, created_at=utc_now(),
        gallery_id=gallery_id,
        # Which calibration the threshold came from, quoted by reports (None: not calibrated,
        # or the examiner chose the threshold).
        calibration=None if calibration is None else {**asdict(calibration),
                                                      "id": calibration.id,
                                                      "describe": calibration.describe()}))
    try:
        with case.writing():  # every source named, recorded from the start
            add_sources(case.db, [Path(p) for p in request.sources], request.examiner,
                        case.work_folder)
    except BaseException:
        case.close()
        raise
    return case


def _planned(request: ScanRequest) -> tuple[str | None, Path | None]:
    """The pack and gallery a scan will use: those asked for, else an existing case's."""
    pack_id, gallery_path = request.pack, request.gallery
    if case_exists(request.case_dir):
        existing = Case.open(request.case_dir)
        try:
            pack_id = pack_id or existing.info.pack_id
            if gallery_path is None and existing.info.gallery:
                gallery_path = Path(existing.info.gallery)
        finally:
            existing.close()
    return pack_id, gallery_path


def planned_pack(request: ScanRequest) -> InstalledPack:
    return resolve_pack(_planned(request)[0])


def planned_sources(request: ScanRequest) -> tuple[str, ...]:
    """Every source the scan will read: those named, and those an existing case holds."""
    paths = {str(Path(path).resolve()) for path in request.sources}
    if case_exists(request.case_dir):
        existing = Case.open(request.case_dir)
        try:
            paths.update(source.path for source in case_sources(existing.db))
        finally:
            existing.close()
    return tuple(sorted(paths))


def prepare_scan(request: ScanRequest, *, on_progress: Callable[[Progress], None] | None = None,
                 cancel: threading.Event | None = None,
                 pause: threading.Event | None = None) -> ScanJob:
    """A ScanJob ready to run; the caller owns `job.case` and `job.gallery` (close them).
    Without a gallery, an existing case is scanned with its own (if it has one)."""
    pack_id, gallery_path = _planned(request)
    gallery = None if gallery_path is None else Gallery.open(gallery_path)
    try:
        pack = resolve_pack(pack_id)
        case = open_case_for(request, pack)
    except BaseException:
        if gallery is not None:
            gallery.close()
        raise
    try:
        return ScanJob(case, pack, gallery, options=EngineOptions(provider=request.provider),
                       workers=request.workers, on_progress=on_progress, cancel=cancel,
                       pause=pause, examiner=request.examiner,
                       sources=[Path(p) for p in request.sources] or None,
                       archive_depth=request.archive_depth,
                       analyse_known=request.analyse_known)
    except BaseException:
        case.close()
        if gallery is not None:
            gallery.close()
        raise
