"""Exact person ranking against a large gallery (the scan's matching step).

    .venv/bin/python bench/match.py [--gallery 1000000] [--probes 2000] [--dim 512]
Random unit vectors stand in for embeddings: the cost of exact search depends on the sizes,
not on the values. Compared, in the same run, with a plain per-probe loop over the gallery.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=int, default=1_000_000)
    parser.add_argument("--probes", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--photos-per-person", type=int, default=4)
    args = parser.parse_args()
    from desktop.match.persons import rank_persons

    rng = np.random.default_rng(0)
    gallery = unit(rng.standard_normal((args.gallery, args.dim), dtype=np.float32))
    person_ids = np.arange(args.gallery) // args.photos_per_person
    probes = unit(rng.standard_normal((args.probes, args.dim), dtype=np.float32))
    start = time.perf_counter()
    ranked = rank_persons(probes, gallery, person_ids, top_k=5)
    chunked = time.perf_counter() - start
    sample = min(20, args.probes)
    start = time.perf_counter()
    for probe in probes[:sample]:  # the naive way: one probe against the whole gallery
        scores = gallery @ probe
        best = {}
        for person, score in zip(person_ids.tolist(), scores.tolist(), strict=True):
            best[person] = max(best.get(person, -2.0), score)
    naive_per_probe = (time.perf_counter() - start) / sample
    print(f"gallery {args.gallery} faces of {len(np.unique(person_ids))} persons, "
          f"{args.probes} probes, {args.dim}-D")
    print(f"rank_persons: {chunked:.2f} s = {args.probes / chunked:.0f} probes/s "
          f"({len(ranked)} candidates)")
    print(f"naive per-probe loop: {naive_per_probe:.3f} s/probe = {1 / naive_per_probe:.1f} probes/s"
          f" (on {sample} probes); speed-up {naive_per_probe * args.probes / chunked:.0f}x")


if __name__ == "__main__":
    main()
