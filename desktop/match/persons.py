"""Ranking gallery persons for each probe face: best score over each person's photos.

Exact search: one matrix product per chunk of probes, sized so a chunk's score matrix stays
under a memory budget even against a gallery of 10^6 faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCORE_BUDGET_BYTES = 256 << 20


@dataclass(frozen=True)
class PersonScore:
    probe: int
    person_id: int
    score: float
    rank: int


def rank_persons(probes: np.ndarray, gallery: np.ndarray, person_ids: np.ndarray,
                 top_k: int = 5) -> list[PersonScore]:
    """For each probe row, the top_k persons by their best-matching gallery photo."""
    if len(probes) == 0 or len(gallery) == 0:
        return []
    order = np.argsort(person_ids, kind="stable")
    gallery, person_ids = gallery[order], person_ids[order]
    people, starts = np.unique(person_ids, return_index=True)
    k = min(top_k, len(people))
    chunk = max(1, SCORE_BUDGET_BYTES // (4 * len(gallery)))
    found: list[PersonScore] = []
    for start in range(0, len(probes), chunk):
        scores = probes[start:start + chunk] @ gallery.T
        best = np.maximum.reduceat(scores, starts, axis=1)  # (chunk, persons)
        top = np.argpartition(-best, k - 1, axis=1)[:, :k]
        for row, columns in enumerate(top):
            ordered = columns[np.argsort(-best[row, columns], kind="stable")]
            found.extend(PersonScore(start + row, int(people[c]), float(best[row, c]), r + 1)
                         for r, c in enumerate(ordered))
    return found
