"""Grouping faces into people: average linkage over a faiss neighbour graph.

Why this shape:
- Average linkage (UPGMA on cosine similarity) keeps precision where single linkage and
  DBSCAN chain two people together through one look-alike pair; it merges two groups only
  when their faces are, on average, as close as `link` (measured in bench/clustering.py).
- Two groups can reach an average of `link` only if some pair of their faces does, so the
  merges happen inside the connected components of the graph "cosine >= link" (faiss finds
  each face's neighbours; scipy finds the components). Each component is agglomerated on its
  own, from the sums of its groups' vectors: the mean cosine between two groups is the dot
  product of their sums over the product of their sizes, so no face-by-face matrix is built.
- The agglomeration starts from groups, not faces: examiner must-links, and in `assign_new`
  the clusters already seen. Pairs that may never meet (cannot-link; two existing clusters)
  have similarity -inf, which the average-linkage update carries to every merged group.
  scipy's and scikit-learn's linkage functions can do neither, hence the small loop here.
- Low-quality faces (see params.is_good) take no part in linkage: afterwards each joins the
  cluster of its nearest good face when that face is at least `attach` close, else stays alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from desktop.errors import HomewardError
from desktop.people.params import ClusterParams
from desktop.people.search import neighbours, unit_rows

NEIGHBOURS = 32  # graph degree: more than any one person's faces that a face must reach
LARGEST_COMPONENT = 10_000  # dense unit-by-unit similarity kept below ~400 MB


class ConstraintConflict(HomewardError):
    """Examiner decisions that cannot all hold (a face both with and apart from another)."""


@dataclass(frozen=True)
class Constraints:
    """Examiner decisions as face-id pairs; pairs naming faces not present are ignored."""

    must_link: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    cannot_link: frozenset[tuple[int, int]] = field(default_factory=frozenset)


NO_CONSTRAINTS = Constraints()


def _pairs(pairs: frozenset[tuple[int, int]], index: dict[int, int]) -> np.ndarray:
    """Face-id pairs as row-index pairs (k, 2), dropping pairs with an unknown face."""
    rows = [(index[a], index[b]) for a, b in pairs if a in index and b in index and a != b]
    return np.asarray(rows, np.int64).reshape(-1, 2)


def _components(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _unit_labels(labels: np.ndarray) -> np.ndarray:
    """Dense labels 0..k-1 in order of first appearance (stable across runs)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse]


def _average_linkage(sums: np.ndarray, sizes: np.ndarray, blocked: np.ndarray, link: float) -> np.ndarray:
    """Merge groups while the best mean cosine between two is >= link; a root per group.

    `blocked` (m, m) bool: pairs that must never end in one cluster."""
    m = len(sizes)
    sizes = sizes.astype(np.float64)
    means = (sums / sizes[:, None]).astype(np.float32)
    sim = means @ means.T
    sim[blocked] = -np.inf
    np.fill_diagonal(sim, -np.inf)
    root = np.arange(m)
    arg = sim.argmax(axis=1)
    best = sim[np.arange(m), arg]
    while True:
        i = int(np.argmax(best))
        if not best[i] >= link:
            return root
        j = int(arg[i])
        merged = (sizes[i] * sim[i] + sizes[j] * sim[j]) / (sizes[i] + sizes[j])  # Lance-Williams
        merged[[i, j]] = -np.inf
        sizes[i] += sizes[j]
        sim[i], sim[:, i] = merged, merged
        sim[j], sim[:, j] = -np.inf, -np.inf
        root[root == j] = i
        best[j] = -np.inf
        # Rows whose best partner was i or j may have lost it; any row may now prefer i.
        redo = np.flatnonzero((arg == i) | (arg == j))
        redo = redo[redo != j]
        arg[redo] = sim[redo].argmax(axis=1)
        best[redo] = sim[redo, arg[redo]]
        better = merged > best
        arg[better], best[better] = i, merged[better]


def _pieces(members: np.ndarray, edges: np.ndarray, sims: np.ndarray, link: float) -> list[np.ndarray]:
    """Split a component too large for a dense matrix along its weakest edges (approximate:
    a merge the cut separates is lost). `members` sorted; `edges` (k, 2) unit pairs in it."""
    if len(members) <= LARGEST_COMPONENT:
        return [members]
    strong = sims >= link + 0.02
    edges, sims = edges[strong], sims[strong]
    local = np.searchsorted(members, edges)
    labels = _components(len(members), local[:, 0], local[:, 1])
    by_member = np.argsort(labels, kind="stable")
    by_edge = np.argsort(labels[local[:, 0]], kind="stable")
    cuts = np.arange(labels.max() + 2)
    member_bounds = np.searchsorted(labels[by_member], cuts)
    edge_bounds = np.searchsorted(labels[local[by_edge, 0]], cuts)
    out: list[np.ndarray] = []
    for piece in range(labels.max() + 1):
        inside = members[by_member[member_bounds[piece]:member_bounds[piece + 1]]]
        chosen = by_edge[edge_bounds[piece]:edge_bounds[piece + 1]]
        out += _pieces(inside, edges[chosen], sims[chosen], link + 0.02)
    return out


def _agglomerate(vectors: np.ndarray, good: np.ndarray, fixed: np.ndarray, query: np.ndarray,
                 params: ClusterParams, must: np.ndarray, cannot: np.ndarray) -> np.ndarray:
    """A cluster number per face. `fixed` >= 0 marks faces of existing clusters (kept whole,
    never two joined); `query` marks the faces whose neighbours are searched (the new ones)."""
    n = len(vectors)
    chain = [must]
    for label in np.unique(fixed[fixed >= 0]):
        rows = np.flatnonzero(fixed == label)
        chain.append(np.stack([rows[:-1], rows[1:]], axis=1))
    chained = np.concatenate(chain)
    unit = _components(n, chained[:, 0], chained[:, 1])
    unit_fixed = np.full(unit.max() + 1, -1)
    has_fixed = fixed >= 0
    unit_fixed[unit[has_fixed]] = fixed[has_fixed]
    if np.any(unit_fixed[unit[has_fixed]] != fixed[has_fixed]):
        raise ConstraintConflict("Faces marked as one person belong to clusters kept apart.",
                                 "a must-link joins two existing clusters: merge them first")
    if np.any(unit[cannot[:, 0]] == unit[cannot[:, 1]]):
        raise ConstraintConflict("Faces marked as different people are also marked as one person.",
                                 "a cannot-link pair lies in one group of must-links")
    seeding = np.zeros(len(unit_fixed), bool)
    seeding[unit[good]] = True
    sums = np.zeros((len(unit_fixed), vectors.shape[1]))
    np.add.at(sums, unit[good], vectors[good])
    sizes = np.bincount(unit[good], minlength=len(unit_fixed))

    good_rows = np.flatnonzero(good)
    asking = np.flatnonzero(query)
    cluster = unit.copy()
    if len(good_rows) and len(asking):
        sims, found = neighbours(vectors[good_rows], vectors[asking], NEIGHBOURS + 1)
        ok = found >= 0
        src = np.repeat(asking, sims.shape[1]).reshape(sims.shape)
        dst = np.where(ok, good_rows[np.maximum(found, 0)], 0)
        cluster = _link(unit, unit_fixed, seeding, sums, sizes, cannot, src[ok], dst[ok], sims[ok],
                        params.link)
        _attach(cluster, unit, unit_fixed, seeding, cannot, src[ok], dst[ok], sims[ok], params.attach)
    return cluster


def _link(unit: np.ndarray, unit_fixed: np.ndarray, seeding: np.ndarray, sums: np.ndarray,
          sizes: np.ndarray, cannot: np.ndarray, src: np.ndarray, dst: np.ndarray, sims: np.ndarray,
          link: float) -> np.ndarray:
    """Average linkage of the seeding units, component by component; a root unit per face."""
    keep = seeding[unit[src]] & seeding[unit[dst]] & (sims >= link) & (unit[src] != unit[dst])
    a, b, w = unit[src[keep]], unit[dst[keep]], sims[keep]
    root = np.arange(len(unit_fixed))
    component = _components(len(unit_fixed), a, b)
    sizes_of = np.bincount(component)
    big = np.flatnonzero(sizes_of > 1)
    if len(big):
        order = np.argsort(component, kind="stable")
        starts = np.searchsorted(component[order], big)
        for start, count in zip(starts, sizes_of[big], strict=True):
            members = order[start:start + count]
            inside = np.isin(a, members) if count > LARGEST_COMPONENT else None
            pieces = ([members] if inside is None else
                      _pieces(members, np.stack([a[inside], b[inside]], 1), w[inside], link))
            for piece in pieces:
                if len(piece) > 1:
                    root[piece] = piece[_average_linkage(sums[piece], sizes[piece],
                                                         _blocked(piece, unit_fixed, unit, cannot),
                                                         link)]
    return root[unit]


def _blocked(piece: np.ndarray, unit_fixed: np.ndarray, unit: np.ndarray, cannot: np.ndarray) -> np.ndarray:
    """Unit pairs of a piece that may not merge: two existing clusters, or a cannot-link."""
    fixed = unit_fixed[piece] >= 0
    blocked = np.outer(fixed, fixed)
    if len(cannot):
        pos = {u: k for k, u in enumerate(piece)}
        for x, y in unit[cannot]:
            if x in pos and y in pos:
                blocked[pos[x], pos[y]] = blocked[pos[y], pos[x]] = True
    return blocked


def _attach(cluster: np.ndarray, unit: np.ndarray, unit_fixed: np.ndarray, seeding: np.ndarray,
            cannot: np.ndarray, src: np.ndarray, dst: np.ndarray, sims: np.ndarray,
            attach: float) -> None:
    """Low-quality groups join the cluster of their nearest good face when it is >= attach
    (and no cannot-link forbids it); in place. They never join two clusters together."""
    loose = ~seeding[unit[src]] & (unit_fixed[unit[src]] < 0) & (sims >= attach)
    src, dst, sims = src[loose], dst[loose], sims[loose]
    span = np.int64(len(cluster)) + 1
    keys = unit[src].astype(np.int64) * span + cluster[dst]
    if len(cannot):
        forbidden = np.concatenate([unit[cannot[:, 0]] * span + cluster[cannot[:, 1]],
                                    unit[cannot[:, 1]] * span + cluster[cannot[:, 0]]])
        allowed = ~np.isin(keys, forbidden)
        src, dst, sims = src[allowed], dst[allowed], sims[allowed]
    order = np.lexsort((-sims, unit[src]))  # per unit, the closest good face first
    units, first = np.unique(unit[src[order]], return_index=True)
    target = np.arange(len(unit_fixed))
    target[units] = cluster[dst[order[first]]]
    attached = np.isin(unit, units)
    cluster[attached] = target[unit[attached]]


def _check(face_ids: np.ndarray, vectors: np.ndarray, flags: np.ndarray) -> dict[int, int]:
    if len(face_ids) != len(vectors) or len(flags) != len(vectors):
        raise ValueError(f"{len(face_ids)} ids, {len(vectors)} vectors, {len(flags)} quality flags")
    index = {int(f): k for k, f in enumerate(face_ids)}
    if len(index) != len(face_ids):
        raise ValueError("face ids must be unique")
    return index


def _numbered(cluster: np.ndarray, start: int) -> np.ndarray:
    """Cluster numbers as consecutive labels from `start`, in order of each cluster's first face."""
    return start + _unit_labels(cluster)


def cluster_all(face_ids: np.ndarray, vectors: np.ndarray, good: np.ndarray, params: ClusterParams,
                constraints: Constraints = NO_CONSTRAINTS, *, kept: np.ndarray | None = None) -> np.ndarray:
    """A label (0, 1, ...) per face; faces of one person share a label, a face alone has its own.

    `kept` (a group number per face, -1 for none): groups the examiner has acted on, each
    kept whole and apart from the others; other faces may still join them."""
    vectors = unit_rows(vectors)
    good = np.asarray(good, bool)
    index = _check(face_ids, vectors, good)
    if not len(vectors):
        return np.zeros(0, np.int64)
    fixed = np.full(len(vectors), -1) if kept is None else np.asarray(kept, np.int64)
    if len(fixed) != len(vectors):
        raise ValueError(f"{len(vectors)} faces, {len(fixed)} kept groups")
    cluster = _agglomerate(vectors, good, fixed, np.ones(len(vectors), bool), params,
                           _pairs(constraints.must_link, index), _pairs(constraints.cannot_link, index))
    return _numbered(cluster, 0)


def assign_new(known_ids: np.ndarray, known_vectors: np.ndarray, known_labels: np.ndarray,
               new_ids: np.ndarray, new_vectors: np.ndarray, new_good: np.ndarray,
               params: ClusterParams, constraints: Constraints = NO_CONSTRAINTS, *,
               next_label: int, known_good: np.ndarray | None = None) -> np.ndarray:
    """Labels for new faces only: an existing cluster's label, or fresh ones from next_label.

    Known faces keep their labels: existing clusters are never joined or split, so what the
    examiner has seen does not move. Pass `known_good` (is_good of each known face) to let
    only reliable known faces draw new ones, exactly as cluster_all would."""
    new_vectors = unit_rows(new_vectors).reshape(len(new_ids), -1)
    if not len(new_ids):
        return np.zeros(0, np.int64)
    known_vectors = unit_rows(known_vectors).reshape(len(known_ids), new_vectors.shape[1])
    known_labels = np.asarray(known_labels, np.int64)
    known_good = np.ones(len(known_ids), bool) if known_good is None else np.asarray(known_good, bool)
    ids = np.concatenate([np.asarray(known_ids, np.int64), np.asarray(new_ids, np.int64)])
    good = np.concatenate([known_good, np.asarray(new_good, bool)])
    vectors = np.concatenate([known_vectors, new_vectors])
    if len(known_labels) != len(known_ids):
        raise ValueError(f"{len(known_ids)} known faces, {len(known_labels)} labels")
    index = _check(ids, vectors, good)
    fixed = np.concatenate([known_labels, np.full(len(new_ids), -1)])
    query = np.arange(len(ids)) >= len(known_ids)
    cluster = _agglomerate(vectors, good, fixed, query, params,
                           _pairs(constraints.must_link, index), _pairs(constraints.cannot_link, index))
    label_of = np.full(cluster.max() + 1, -1)
    label_of[cluster[: len(known_ids)]] = known_labels
    new_cluster = cluster[len(known_ids):]
    labels = label_of[new_cluster]
    fresh = labels < 0
    labels[fresh] = _numbered(new_cluster[fresh], next_label) if fresh.any() else labels[fresh]
    return labels
