"""Search by face, and the neighbour search the clustering is built on (faiss, inner product).

Embeddings are unit vectors, so inner product is cosine. A query scans every face (no
face is skipped, as an approximate index would) and the scores it returns are exact: an
examiner's "every face of this person" needs both. Clustering asks every
face for its neighbours at once; above EXACT_LIMIT faces that is 10^11+ products, so it
uses an inverted-file index (IVF), which looks only at the cells nearest each query.
"""

from __future__ import annotations

import math

import faiss
import numpy as np

EXACT_LIMIT = 50_000  # faces up to which the clustering's neighbour graph is exact
FIRST_K = 256  # candidates a search by face asks for first
PROBES = 16  # IVF cells visited per query (of ~sqrt(n)): same-person faces share cells


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float32, C-contiguous, each row of length 1 (faiss's requirements; cosine = dot)."""
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError(f"expected a (faces, dim) array, got shape {rows.shape}")
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


def neighbours(base: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each query's k most similar base rows: (cosines, row indices), -1 where fewer exist."""
    base, queries = unit_rows(base), unit_rows(queries)
    n, dim = base.shape
    k = max(1, min(k, n))
    if n <= EXACT_LIMIT:
        index = faiss.IndexFlatIP(dim)
    else:
        cells = int(math.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(n, size=min(n, 64 * cells), replace=False)
        index.train(base[np.sort(sample)])
        index.nprobe = PROBES
    index.add(base)
    return index.search(queries, k)


class FaceIndex:
    """Every face of a case (or of many), searchable by a face's embedding.

    A single query over 10^6 float32 faces reads 2 GB and is bound by memory speed (100+ ms
    measured on two busy cores), so the scan runs over 8-bit copies (a quarter of the bytes,
    a cosine error below 0.012) with a margin, and the candidates are re-scored exactly."""

    MARGIN = 0.03

    def __init__(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        dim = unit_rows(vectors).shape[1]
        self._index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit_uniform,
                                                 faiss.METRIC_INNER_PRODUCT)
        self._index.train(np.stack([-np.ones(dim), np.ones(dim)]).astype(np.float32))  # range [-1, 1]
        self._ids = np.zeros(0, np.int64)
        self._vectors = np.zeros((0, dim), np.float32)
        self.add(ids, vectors)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, np.int64)
        rows = unit_rows(vectors)
        if len(ids) != len(rows):
            raise ValueError(f"{len(ids)} ids for {len(rows)} vectors")
        self._index.add(rows)
        self._ids = np.concatenate([self._ids, ids])
        self._vectors = np.concatenate([self._vectors, rows])

    def search(self, query: np.ndarray, threshold: float,
               limit: int | None = None) -> list[tuple[int, float]]:
        """(face id, cosine) of every face at or above threshold, best first."""
        if not len(self):
            return []
        query = unit_rows(np.reshape(query, (1, -1)))
        # k-nearest search on the 8-bit copies (faiss's range search there is not vectorised):
        # widen k until the last candidate falls below the threshold less the margin.
        k = FIRST_K
        while True:
            approx, found = self._index.search(query, min(k, len(self)))
            if k >= len(self) or approx[0, -1] < threshold - self.MARGIN:
                break
            k *= 4
        rows = found[0][(found[0] >= 0) & (approx[0] >= threshold - self.MARGIN)]
        scores = self._vectors[rows] @ query[0]
        rows, scores = rows[scores >= np.float32(threshold)], scores[scores >= np.float32(threshold)]
        order = np.lexsort((self._ids[rows], -scores))[:limit]
        return [(int(self._ids[rows[i]]), float(scores[i])) for i in order]
