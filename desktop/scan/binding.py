"""A case is bound to one gallery: the id stored in the gallery file, not its path.

Hits name persons by their id in that gallery, and the review page and reports show that
gallery's reference photos beside each probe; a scan against another gallery would mix two
id spaces. So another gallery is refused, unless the examiner explicitly re-binds the case,
which is audited and re-matches every face. Changing the threshold re-matches too; a new
frame rate applies to files not analysed yet. Each is a sealed change of the case settings.
"""

from __future__ import annotations

from pathlib import Path

from desktop.engine.pack_store import InstalledPack
from desktop.gallery.gallery import Gallery
from desktop.match.hits import gallery_matrix, match_case
from desktop.scan.case import Case, CaseError
from desktop.storage.record import sealed


def check_gallery(case: Case, gallery: Gallery) -> None:
    """Refuse a gallery that is not the one this case is bound to."""
    info = case.info
    if info.gallery_id is None:  # scanned without a gallery so far, or made before binding:
        if info.gallery and Path(info.gallery).resolve() != Path(gallery.path).resolve():
            raise CaseError(
                f"This case was matched against the gallery {info.gallery}, not {gallery.path}.",
                "use that gallery, or re-bind the case: homeward case rebind --case DIR --gallery G")
        return
    if info.gallery_id != gallery.identity:
        raise CaseError(
            f"This case is bound to another gallery ({info.gallery}, id {info.gallery_id}); "
            f"{gallery.path} is gallery {gallery.identity}.",
            "use the case's gallery, or re-bind the case to this one (audited; every face is "
            "matched again): homeward case rebind --case DIR --gallery G")


def bind_first(case: Case, gallery: Gallery, actor: str) -> None:
    """A case scanned without a gallery so far takes the first one it is scanned with; a
    case made before binding, the identity of the gallery at its recorded path."""
    if case.info.gallery_id is not None:
        return
    check_gallery(case, gallery)
    path = str(Path(gallery.path).resolve())
    with sealed(case.db, actor, "gallery bound", {"gallery_id": gallery.identity,
                                                  "gallery": path}) as seal:
        for key, value in (("gallery_id", gallery.identity), ("gallery", path)):
            case.db.execute("INSERT INTO case_info (key, value) VALUES (?, json_quote(?)) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])
        seal.wrote("case_info", ["gallery_id", "gallery"])
        ids = [r["id"] for r in case.db.query("SELECT id FROM hits WHERE gallery_id IS NULL")]
        case.db.execute("UPDATE hits SET gallery_id = ? WHERE gallery_id IS NULL", [gallery.identity])
        seal.wrote("hits", ids)


def rematch(case: Case, gallery: Gallery, pack: InstalledPack, actor: str, why: str) -> int:
    """Match every face of the case again (a scan with no files to read); new hits only."""
    info = case.info
    matrix = gallery_matrix(gallery, pack.id, pack.manifest.model_hashes["recognizer"])
    scan_id = case.start_scan({"rematch": why, "gallery": str(Path(gallery.path).resolve()),
                               "gallery_id": gallery.identity,
                               "gallery_fingerprint": gallery.fingerprint(pack.id)}, actor)
    status, added = "failed", 0
    try:
        added = match_case(case.db, matrix, pack_id=pack.id, threshold=info.match_threshold,
                           scan_id=scan_id, actor=actor)
        status = "finished"
    finally:
        case.finish_scan(scan_id, status, actor, {"new_hits": added})
    return added


def check_pack(case: Case, pack: InstalledPack) -> None:
    """A case keeps the pack (and model files) it was started with: embeddings of different
    models are never compared."""
    info = case.info
    if info.pack_id != pack.id or info.model_hashes != pack.manifest.model_hashes:
        raise CaseError(f"This case was scanned with pack '{info.pack_id}'; "
                        f"it cannot be continued with '{pack.id}'.")


def rebind(case: Case, gallery: Gallery, pack: InstalledPack, actor: str) -> int:
    """Bind the case to another gallery and match every face against it. Hits of the former
    gallery stay in the record with their decisions, but leave the queue and the reports."""
    check_pack(case, pack)
    with case.writing():
        before = case.info
        case.update_info({"gallery": str(Path(gallery.path).resolve()),
                          "gallery_id": gallery.identity}, actor, "gallery re-bound",
                         {"from_gallery": before.gallery, "from_gallery_id": before.gallery_id})
        return rematch(case, gallery, pack, actor, "gallery re-bound")


def change_threshold(case: Case, gallery: Gallery, pack: InstalledPack, threshold: float,
                     actor: str) -> int:
    """A new match threshold; faces are matched again. Hits below it leave the queue (they
    and their decisions stay in the record); new ones above it arrive pending."""
    if not 0.0 < threshold < 1.0:
        raise CaseError(f"A match threshold is a cosine between 0 and 1, not {threshold}.")
    check_pack(case, pack)
    check_gallery(case, gallery)
    with case.writing():
        case.update_info({"match_threshold": threshold}, actor, "threshold changed",
                         {"from": case.info.match_threshold})
        return rematch(case, gallery, pack, actor, "threshold changed")


def change_fps(case: Case, fps: float, actor: str) -> None:
    """A new video frame rate, for videos not analysed yet (analysed ones keep theirs)."""
    if not 0.0 < fps <= 60.0:
        raise CaseError(f"The frame rate must be between 0 and 60 frames per second, not {fps}.")
    with case.writing():
        case.update_info({"fps": fps}, actor, "frame rate changed", {"from": case.info.fps})
