"""Threshold calibration for court: the match threshold of a pack chosen for a stated
false-match rate on labelled photos the lab trusts, and recorded so cases and reports can
say which calibration they used.

Labelled photos are either LFW-style pairs (a pairs.txt, images beside it) or a folder per
person (every pair of photos compared: same folder genuine, different folders impostor).
Each photo is embedded once; pairs are scored and the threshold chosen by the verification
code `homeward models evaluate` uses. A calibration is stored in the user data folder keyed
by pack id and model hashes, and in the pack's installed manifest where that may be written
(see pack_store.record_calibration); from then on it is the pack's default threshold.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from desktop.engine.manifest import Calibration, load_manifest
from desktop.engine.pack_store import MANIFEST_NAME, InstalledPack, stored_calibration
from desktop.engine.types import ImageResult
from desktop.engine.verification import (
    MISSING_SCORE,
    Pair,
    error_rates,
    kfold_fmr,
    pair_images,
    parse_pairs,
    primary_face,
    score_pairs,
    scored,
    threshold_for_fmr,
)
from desktop.errors import HomewardError
from desktop.hashing import sha256_file

__all__ = ["Calibration", "LabelledPhotos", "calibrate", "calibration_of", "embeddings_of",
           "folder_photos", "pairs_photos", "photo_paths"]

DEFAULT_FMR = 0.001
IMPOSTOR_TAIL = 5000  # impostor scores kept: every one of an LFW pairs file's 3,000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
Embeddings = dict[str, np.ndarray | None]  # image (relative path) -> primary face's embedding


class CalibrationError(HomewardError):
    """The labelled photos cannot calibrate a threshold (missing, unlabelled, too few)."""


@dataclass(frozen=True)
class LabelledPhotos:
    """A labelled data set: its photos (paths relative to root) and how they pair up."""

    root: Path
    name: str  # what the calibration record says was used
    images: tuple[str, ...]
    pairs: tuple[Pair, ...] = ()  # a pairs file's pairs, with its folds
    labels: tuple[str, ...] = ()  # a folder per person: each image's person

    def check_files(self) -> None:
        missing = [name for name in self.images if not (self.root / name).is_file()]
        if missing:
            raise CalibrationError(f"{len(missing)} labelled photos are missing under {self.root}",
                                   ", ".join(missing[:5]))

    def sha256(self) -> str:
        """Over every photo's SHA-256 and the labels or pairs: names exactly this data set."""
        digest = hashlib.sha256(("pairs\n" if self.pairs else "people\n").encode("utf-8"))
        for index, name in enumerate(self.images):
            label = self.labels[index] if self.labels else ""
            line = f"{sha256_file(self.root / name)}\t{name}\t{label}\n"
            digest.update(line.encode("utf-8"))
        for pair in self.pairs:
            digest.update(f"{pair.fold}\t{pair.a}\t{pair.b}\t{int(pair.same)}\n".encode())
        return digest.hexdigest()


def pairs_photos(pairs_file: Path, images: Path | None = None) -> LabelledPhotos:
    """LFW-format pairs (see verification.parse_pairs); images beside the file by default."""
    try:
        pairs = parse_pairs(Path(pairs_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"Cannot read {pairs_file}", str(exc)) from exc
    root = Path(images) if images else Path(pairs_file).parent
    names = tuple(path.relative_to(root).as_posix() for path in pair_images(pairs, root))
    folds = len({p.fold for p in pairs})
    found = LabelledPhotos(root, f"pairs file {Path(pairs_file).name} ({len(pairs)} pairs, "
                           f"{folds} folds)", names, pairs=tuple(pairs))
    found.check_files()
    return found


def folder_photos(folder: Path) -> LabelledPhotos:
    """A folder per person, photos inside; every pair of photos is compared."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CalibrationError(f"{folder} is not a folder.")
    images = sorted(path.relative_to(folder).as_posix() for person in folder.iterdir()
                    if person.is_dir() for path in person.iterdir()
                    if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
    labels = tuple(name.split("/")[0] for name in images)
    if len(set(labels)) < 2:
        raise CalibrationError(f"{folder} needs a folder per person, two persons at least.")
    return LabelledPhotos(folder, f"folder {folder.name} ({len(images)} photos of "
                          f"{len(set(labels))} persons)", tuple(images), labels=labels)


def photo_paths(photos: LabelledPhotos) -> list[Path]:
    """Every photo once: what the engine is run on (by the caller, e.g. scan.analyze_paths)."""
    return [photos.root / name for name in photos.images]


def embeddings_of(photos: LabelledPhotos, results: Iterable[ImageResult]) -> Embeddings:
    """Each photo's primary face's embedding (large and central), None without a face."""
    embeddings: Embeddings = {}
    for result in results:
        face = primary_face(result.faces, result.width, result.height)
        key = Path(result.path).relative_to(photos.root).as_posix()
        embeddings[key] = None if face is None else face.embedding
    return embeddings


def pair_scores(photos: LabelledPhotos,
                embeddings: Embeddings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, same person, fold) per pair; a folder data set is one fold."""
    if photos.pairs:
        pairs = list(photos.pairs)
        return (score_pairs(pairs, embeddings), np.array([p.same for p in pairs]),
                np.array([p.fold for p in pairs]))
    index = list(itertools.combinations(range(len(photos.images)), 2))
    vectors = [embeddings.get(name) for name in photos.images]
    scores = np.array([MISSING_SCORE if vectors[i] is None or vectors[j] is None
                       else float(np.dot(vectors[i], vectors[j])) for i, j in index])
    same = np.array([photos.labels[i] == photos.labels[j] for i, j in index], dtype=bool)
    return scores, same, np.zeros(len(index), dtype=int)


def calibrate(pack: InstalledPack, photos: LabelledPhotos, embeddings: Embeddings,
              target_fmr: float = DEFAULT_FMR) -> Calibration:
    """The threshold for target_fmr on every pair, its measured rates, and (with folds) the
    false-match rate on each fold at the threshold chosen on the others."""
    scores, same, folds = pair_scores(photos, embeddings)
    keep = scored(scores)
    genuine, impostors = int(np.sum(keep & same)), int(np.sum(keep & ~same))
    if genuine == 0:
        raise CalibrationError("The labelled photos give no genuine pair with two faces.")
    threshold = threshold_for_fmr(scores[keep & ~same], target_fmr)
    fmr, fnmr = error_rates(scores, same, threshold)
    heldout = kfold_fmr(scores, same, folds, target_fmr)[0] if len(np.unique(folds)) > 1 else None
    return Calibration(
        pack_id=pack.id, model_hashes=dict(pack.manifest.model_hashes), threshold=threshold,
        target_fmr=target_fmr, measured_fmr=fmr, measured_fnmr=fnmr, genuine_pairs=genuine,
        impostor_pairs=impostors, unscored_pairs=int(np.sum(~keep)), heldout_fmr=heldout,
        dataset=photos.name, dataset_sha256=photos.sha256(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        impostor_tail=tuple(round(float(score), 6) for score in
                            np.sort(scores[keep & ~same])[::-1][:IMPOSTOR_TAIL]))


def calibration_of(pack: InstalledPack) -> Calibration | None:
    """The calibration a case made with this pack now would use, read afresh from disk
    (None: the pack's threshold is its manifest's uncalibrated default)."""
    manifest_path = pack.root / MANIFEST_NAME
    manifest = load_manifest(manifest_path) if manifest_path.is_file() else pack.manifest
    if manifest.model_hashes != pack.manifest.model_hashes:
        return None  # the pack on disk is no longer the one in hand
    return stored_calibration(manifest)
