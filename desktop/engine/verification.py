"""Face-verification accuracy on a labelled pairs list (LFW's pairs.txt format).

Lets a lab check a pack, and choose its threshold, on data it trusts: each fold's threshold
is chosen on the other folds only, as the LFW protocol requires.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop.engine.types import Face, ImageResult
from desktop.errors import HomewardError

MISSING_SCORE = -2.0  # below any cosine similarity


@dataclass(frozen=True)
class Pair:
    fold: int
    a: str  # path relative to the images root
    b: str
    same: bool


def _image(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


def parse_pairs(text: str) -> list[Pair]:
    """Parse LFW pairs.txt: a header 'folds<TAB>n', then n same and n different per fold."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    try:
        folds, per_fold = int(lines[0][0]), int(lines[0][1])
    except (IndexError, ValueError) as exc:
        raise HomewardError("pairs file has no 'folds n' header line") from exc
    pairs: list[Pair] = []
    body = lines[1:]
    if len(body) != folds * 2 * per_fold:
        raise HomewardError(f"pairs file should list {folds * 2 * per_fold} pairs, "
                            f"it lists {len(body)}")
    for index, fields in enumerate(body):
        fold = index // (2 * per_fold)
        if len(fields) == 3:
            pairs.append(Pair(fold, _image(fields[0], fields[1]), _image(fields[0], fields[2]), True))
        elif len(fields) == 4:
            pairs.append(Pair(fold, _image(fields[0], fields[1]), _image(fields[2], fields[3]), False))
        else:
            raise HomewardError(f"pairs file line {index + 2} is not a pair: {' '.join(fields)}")
    return pairs


def primary_face(faces: list[Face], width: int, height: int) -> Face | None:
    """The face a labelled photo is about: large and central (insightface's own rule)."""
    if not faces:
        return None

    def weight(face: Face) -> float:
        x1, y1, x2, y2 = (float(v) for v in face.detection.box)
        offset = ((x1 + x2) / 2 - width / 2) ** 2 + ((y1 + y2) / 2 - height / 2) ** 2
        return (x2 - x1) * (y2 - y1) - 2.0 * offset

    return max(faces, key=weight)


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The similarity threshold with the highest accuracy on these pairs."""
    candidates = np.unique(np.concatenate([scores, [-1.0, 1.0]]))
    mids = (candidates[:-1] + candidates[1:]) / 2
    accuracy = [np.mean((scores >= t) == same) for t in mids]
    return float(mids[int(np.argmax(accuracy))])


@dataclass(frozen=True)
class VerificationResult:
    accuracy: float  # mean over folds
    fold_accuracies: list[float]
    fold_thresholds: list[float]
    global_threshold: float  # best on all pairs, for a manifest's default
    pairs: int
    missing_faces: int


def kfold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray,
                   missing: int = 0) -> VerificationResult:
    """Each fold scored at the threshold chosen on the other folds. A pair with a missing
    face has MISSING_SCORE, so it always counts as "different"."""
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        threshold = best_threshold(scores[train], same[train])
        thresholds.append(threshold)
        accuracies.append(float(np.mean((scores[test] >= threshold) == same[test])))
    return VerificationResult(float(np.mean(accuracies)), accuracies, thresholds,
                              best_threshold(scores, same), len(scores), missing)


def pair_images(pairs: list[Pair], root: Path) -> list[Path]:
    """Every image the pairs use, once, in a stable order."""
    return [root / name for name in sorted({p.a for p in pairs} | {p.b for p in pairs})]


def score_pairs(pairs: list[Pair], embeddings: dict[str, np.ndarray | None]) -> np.ndarray:
    """Cosine similarity per pair; below any cosine where either image had no face."""
    scores = []
    for pair in pairs:
        a, b = embeddings.get(pair.a), embeddings.get(pair.b)
        scores.append(MISSING_SCORE if a is None or b is None else float(np.dot(a, b)))
    return np.asarray(scores, dtype=np.float64)


def evaluate_results(pairs: list[Pair], results: Iterable[ImageResult],
                     root: Path) -> VerificationResult:
    """Verification accuracy from the engine's results on the pairs' images."""
    embeddings: dict[str, np.ndarray | None] = {}
    for result in results:
        face = primary_face(result.faces, result.width, result.height)
        key = Path(result.path).relative_to(root).as_posix()
        embeddings[key] = None if face is None else face.embedding
    scores = score_pairs(pairs, embeddings)
    return kfold_accuracy(scores, np.array([p.same for p in pairs]),
                          np.array([p.fold for p in pairs]),
                          missing=sum(v is None for v in embeddings.values()))


def scored(scores: np.ndarray) -> np.ndarray:
    """Pairs whose photos both had a face: a failure to find a face is neither a false match
    nor a false non-match, so calibration leaves those pairs out of both rates."""
    return scores > MISSING_SCORE


def threshold_for_fmr(impostor_scores: np.ndarray, target_fmr: float) -> float:
    """A threshold at which at most floor(target_fmr x n) of these n impostor pairs match
    (score >= threshold): midway between the highest impostor score that must be rejected
    and the lowest one allowed to match."""
    if not 0.0 < target_fmr < 1.0:
        raise HomewardError(f"a false-match rate must be between 0 and 1, not {target_fmr}")
    ordered = np.sort(np.asarray(impostor_scores, dtype=np.float64))[::-1]
    allowed = int(np.floor(target_fmr * len(ordered) + 1e-9))
    if allowed < 1:
        raise HomewardError(
            f"{len(ordered)} impostor pairs cannot resolve a false-match rate of {target_fmr:g}",
            f"at least {int(np.ceil(1 / target_fmr))} are needed; use more labelled photos "
            "or state a higher rate")
    rejected, accepted = float(ordered[allowed]), float(ordered[allowed - 1])
    return (rejected + accepted) / 2 if accepted > rejected else float(np.nextafter(rejected, 2.0))


def error_rates(scores: np.ndarray, same: np.ndarray, threshold: float) -> tuple[float, float]:
    """(false-match rate, false-non-match rate) at a threshold, over the scored pairs."""
    keep = scored(scores)
    impostors, genuine = scores[keep & ~same], scores[keep & same]
    fmr = float(np.mean(impostors >= threshold)) if len(impostors) else 0.0
    fnmr = float(np.mean(genuine < threshold)) if len(genuine) else 0.0
    return fmr, fnmr


def kfold_fmr(scores: np.ndarray, same: np.ndarray, folds: np.ndarray,
              target_fmr: float) -> tuple[float, list[float]]:
    """The false-match rate of each fold at the threshold chosen for target_fmr on the other
    folds: pooled over all held-out impostor pairs, and per fold."""
    keep = scored(scores)
    false_matches, impostors, per_fold = 0, 0, []
    for fold in np.unique(folds):
        train, test = keep & (folds != fold) & ~same, keep & (folds == fold) & ~same
        threshold = threshold_for_fmr(scores[train], target_fmr)
        hits = int(np.sum(scores[test] >= threshold))
        false_matches, impostors = false_matches + hits, impostors + int(np.sum(test))
        per_fold.append(hits / max(1, int(np.sum(test))))
    return false_matches / max(1, impostors), per_fold
