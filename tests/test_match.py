"""Person ranking against a gallery: best photo per person, exact, memory-bounded."""

from __future__ import annotations

import numpy as np

from desktop.match import persons as persons_module
from desktop.match.persons import rank_persons


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_rank_uses_each_persons_best_photo_and_matches_brute_force(monkeypatch):
    rng = np.random.default_rng(7)
    gallery = unit(rng.normal(size=(300, 64)))
    person_ids = rng.integers(1, 40, size=300)
    probes = unit(gallery[:25] + 0.05 * rng.normal(size=(25, 64)))
    monkeypatch.setattr(persons_module, "SCORE_BUDGET_BYTES", 4 * 300 * 7)  # 7 probes a chunk
    ranked = rank_persons(probes, gallery, person_ids, top_k=3)
    assert len(ranked) == 25 * 3
    for probe in range(25):
        scores = probes[probe] @ gallery.T
        best = {p: scores[person_ids == p].max() for p in np.unique(person_ids)}
        expected = sorted(best.items(), key=lambda kv: -kv[1])[:3]
        got = [(r.person_id, r.score) for r in ranked if r.probe == probe]
        assert [p for p, _ in got] == [p for p, _ in expected]
        assert np.allclose([s for _, s in got], [s for _, s in expected], atol=1e-6)
        assert got[0][0] == person_ids[probe]  # each probe's own person ranks first


def test_empty_inputs_give_no_candidates():
    assert rank_persons(np.zeros((0, 8), np.float32), np.ones((3, 8), np.float32),
                        np.array([1, 2, 3])) == []
    assert rank_persons(np.ones((2, 8), np.float32), np.zeros((0, 8), np.float32),
                        np.zeros(0, np.int64)) == []
