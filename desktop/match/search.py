"""Exact cosine search: every probe against every gallery embedding, top-k per probe.

Embeddings are L2-normalised, so cosine similarity is one matrix product; a million gallery
faces is a (probes x 10^6) product done in chunks, well within a workstation's memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 4096  # probes per product: bounds memory at CHUNK x gallery floats


@dataclass(frozen=True)
class Candidate:
    probe: int  # row of the probe matrix
    gallery: int  # row of the gallery matrix
    score: float  # cosine similarity
    rank: int  # 1 = best candidate for this probe


def top_k(probes: np.ndarray, gallery: np.ndarray, k: int = 5) -> list[Candidate]:
    """The k most similar gallery rows for each probe row, best first."""
    if len(probes) == 0 or len(gallery) == 0:
        return []
    k = min(k, len(gallery))
    found: list[Candidate] = []
    for start in range(0, len(probes), CHUNK):
        scores = probes[start:start + CHUNK] @ gallery.T
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        for row, columns in enumerate(best):
            ordered = columns[np.argsort(-scores[row, columns], kind="stable")]
            found.extend(Candidate(start + row, int(col), float(scores[row, col]), rank + 1)
                         for rank, col in enumerate(ordered))
    return found
