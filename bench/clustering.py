"""People of a case: Homeward's clustering and search by face against scikit-learn baselines.

    .venv/bin/python bench/clustering.py [--pack shared_s|open] [--split odd|even|all]
    .venv/bin/python bench/clustering.py --scale 100000      # synthetic: time + peak memory
    .venv/bin/python bench/clustering.py --search            # real search + 10^6 query latency
Real faces from ../shared/facedata, embedded once by Homeward's engine and cached in the temp
folder (keyed by the pack's model hashes and the file list). Every face of every photo is
clustered (background faces too, as in a seized phone); scoring counts only faces whose
identity is known: the face nearest the centre of an LFW crop, the largest face of a CelebA
photo not marked MULTI-FACE. The set: LFW people with >= 4 photos, the 1,340 LFW people with
one photo (strangers who must stay alone), CelebA's 15 identities. Parameters were tuned on
the identities of even index (`--split even`); the figures to quote are `--split odd`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FACEDATA = SHARED / "facedata"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from engine import shared_pack  # noqa: E402  (bench/engine.py, beside this file)


@dataclass(frozen=True)
class Photo:
    path: str  # relative to facedata/
    identity: str
    source: str
    multi: bool


@dataclass(frozen=True)
class RealFaces:
    """Every face found in the photos; `identity` is '' where the face's person is unknown."""

    vectors: np.ndarray  # (N, D) float32, unit rows
    good: np.ndarray  # (N,) bool: see desktop.people.params.is_good
    identity: np.ndarray  # (N,) str
    photo: np.ndarray  # (N,) int: index into the photo list
    photos: list[Photo]


def labelled_photos() -> list[Photo]:
    """LFW people with >= 4 photos or exactly 1, CelebA's identities: in manifest order."""
    with open(FACEDATA / "manifest.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    lfw_counts: dict[str, int] = {}
    for row in rows:
        if row["source"] == "lfw":
            lfw_counts[row["identity"]] = lfw_counts.get(row["identity"], 0) + 1
    return [Photo(r["path"], r["identity"], r["source"], "MULTI-FACE" in r["notes"]) for r in rows
            if r["source"] == "celeba"
            or (r["source"] == "lfw" and (lfw_counts[r["identity"]] == 1 or lfw_counts[r["identity"]] >= 4))]


def known_face(photo: Photo, width: int, height: int, boxes: np.ndarray) -> int | None:
    """Which face of the photo is the labelled person, or None where it is ambiguous."""
    if len(boxes) == 0 or photo.multi:
        return None
    if photo.source == "lfw":
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        return int(np.argmin(np.hypot(centres[:, 0] - width / 2, centres[:, 1] - height / 2)))
    return int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))


def embed_photos(pack, photos: list[Photo], workers: int | None = None,
                 cached: bool = True) -> RealFaces:
    """Run Homeward's engine over the photos once; the benchmark caches the result in the
    temp folder (tests pass cached=False: a stale cache would hide an engine change)."""
    from desktop.engine.engine import EngineOptions
    from desktop.people.params import is_good
    from desktop.scan.analyze import analyze_paths

    key = hashlib.sha256(repr((sorted(pack.manifest.model_hashes.items()),
                               [p.path for p in photos])).encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"homeward-people-{pack.id}-{key}.npz"
    if cached and cache.exists():
        data = np.load(cache)
        return RealFaces(data["vectors"], data["good"], data["identity"], data["photo"], photos)
    vectors, good, identity, photo_of = [], [], [], []
    start = time.perf_counter()
    results = analyze_paths([FACEDATA / p.path for p in photos], pack, EngineOptions(), workers)
    for index, (photo, result) in enumerate(zip(photos, results, strict=True)):
        boxes = np.array([f.detection.box for f in result.faces], np.float32).reshape(-1, 4)
        known = known_face(photo, result.width, result.height, boxes)
        for n, face in enumerate(result.faces):
            vectors.append(face.embedding)
            good.append(is_good(face.quality.to_dict()))
            identity.append(photo.identity if n == known else "")
            photo_of.append(index)
    print(f"embedded {len(photos)} photos, {len(vectors)} faces in "
          f"{time.perf_counter() - start:.0f} s (cached in {cache})", flush=True)
    faces = RealFaces(np.asarray(vectors, np.float32), np.asarray(good, bool),
                      np.asarray(identity, str), np.asarray(photo_of, np.int64), photos)
    if cached:
        np.savez(cache, vectors=faces.vectors, good=faces.good, identity=faces.identity,
                 photo=faces.photo)
    return faces


# --- scoring ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Score:
    precision: float  # pairwise: of the same-cluster pairs of known faces, those of one person
    recall: float  # pairwise: of the same-person pairs, those in one cluster
    bcubed_f1: float
    clusters: int  # over all faces, unknown ones too


def score(labels: np.ndarray, identity: np.ndarray) -> Score:
    known = identity != ""
    lab, ident = labels[known], identity[known]
    _, pair = np.unique(np.stack([lab.astype(str), ident]), axis=1, return_inverse=True)
    pair_n, lab_n, id_n = (np.bincount(np.unique(x, return_inverse=True)[1]) for x in (pair, lab, ident))
    def pairs(c: np.ndarray) -> float:
        return float((c * (c - 1) / 2).sum())

    together = pairs(pair_n)
    per_face_pair = pair_n[np.unique(pair, return_inverse=True)[1]]
    per_face_lab = lab_n[np.unique(lab, return_inverse=True)[1]]
    per_face_id = id_n[np.unique(ident, return_inverse=True)[1]]
    b_p, b_r = (per_face_pair / per_face_lab).mean(), (per_face_pair / per_face_id).mean()
    return Score(together / max(pairs(lab_n), 1), together / max(pairs(id_n), 1),
                 2 * b_p * b_r / (b_p + b_r), len(np.unique(labels)))


def partition_disagreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of faces to relabel to turn partition a into b: 1 - best one-to-one cluster
    matching overlap / faces (the classification distance between partitions)."""
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix

    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    overlap = coo_matrix((np.ones(len(a)), (ia, ib))).tocsr()
    # Only overlapping clusters can match; each connected block is solved on its own.
    rows, cols = overlap.nonzero()
    from scipy.sparse.csgraph import connected_components
    n_a = overlap.shape[0]
    graph = coo_matrix((np.ones(len(rows)), (rows, cols + n_a)), shape=(n_a + overlap.shape[1],) * 2)
    block = connected_components(graph, directed=False)[1]
    matched = 0.0
    for piece in np.unique(block[rows]):
        r = np.unique(rows[block[rows] == piece])
        c = np.unique(cols[block[cols + n_a] == piece])
        dense = overlap[r][:, c].toarray()
        if dense.size == 1:
            matched += dense[0, 0]
            continue
        x, y = linear_sum_assignment(-dense)
        matched += dense[x, y].sum()
    return 1.0 - matched / len(a)


# --- the methods ----------------------------------------------------------------------------------

def homeward(faces: RealFaces, params) -> np.ndarray:
    from desktop.people.cluster import cluster_all

    return cluster_all(np.arange(len(faces.vectors)), faces.vectors, faces.good, params)


def singletons_for_noise(labels: np.ndarray) -> np.ndarray:
    """scikit-learn's noise (-1) as clusters of one: every face is somebody."""
    labels = labels.copy()
    noise = labels < 0
    labels[noise] = labels.max() + 1 + np.arange(noise.sum())
    return labels


def baselines() -> dict[str, object]:
    from sklearn.cluster import DBSCAN, HDBSCAN, AgglomerativeClustering

    return {
        "DBSCAN (Immich: cos 0.5, 3)": lambda f: singletons_for_noise(
            DBSCAN(eps=0.5, min_samples=3, metric="cosine").fit_predict(f.vectors)),
        "HDBSCAN(min_cluster_size=3)": lambda f: singletons_for_noise(
            HDBSCAN(min_cluster_size=3).fit_predict(f.vectors)),
        "average linkage, dist 0.65": lambda f: AgglomerativeClustering(
            n_clusters=None, distance_threshold=0.65, metric="cosine", linkage="average"
        ).fit_predict(f.vectors),
    }


def split(faces: RealFaces, part: str) -> RealFaces:
    """Known faces of the identities of even or odd index (sorted names); unknown faces kept."""
    if part == "all":
        return faces
    names = sorted(set(faces.identity) - {""})
    parity = {name: n % 2 for n, name in enumerate(names)}
    want = 0 if part == "even" else 1
    keep = np.array([i == "" or parity[i] == want for i in faces.identity])
    return RealFaces(faces.vectors[keep], faces.good[keep], faces.identity[keep], faces.photo[keep],
                     faces.photos)


def run_quality(faces: RealFaces, params) -> None:
    known = faces.identity != ""
    people = len(set(faces.identity[known]))
    print(f"{len(faces.vectors)} faces ({known.sum()} of known identity, {people} people, "
          f"{(~faces.good).sum()} low-quality); params {params}")
    print(f"{'method':<30}{'precision':>10}{'recall':>8}{'BCubed F1':>10}{'clusters':>9}{'seconds':>9}")
    methods = {"homeward": lambda f: homeward(f, params), **baselines()}
    for name, method in methods.items():
        start = time.perf_counter()
        labels = method(faces)
        seconds = time.perf_counter() - start
        s = score(labels, faces.identity)
        print(f"{name:<30}{s.precision:>10.4f}{s.recall:>8.4f}{s.bcubed_f1:>10.4f}{s.clusters:>9}"
              f"{seconds:>9.2f}")


def run_incremental(faces: RealFaces, params, seed: int = 0) -> None:
    """Two devices: a random half of the photos, then the rest through assign_new."""
    from desktop.people.cluster import assign_new, cluster_all

    ids = np.arange(len(faces.vectors))
    photo_first = np.random.default_rng(seed).random(faces.photo.max() + 1) < 0.5
    first = photo_first[faces.photo]
    batch = cluster_all(ids, faces.vectors, faces.good, params)
    known = cluster_all(ids[first], faces.vectors[first], faces.good[first], params)
    start = time.perf_counter()
    new = assign_new(ids[first], faces.vectors[first], known, ids[~first], faces.vectors[~first],
                     faces.good[~first], params, next_label=int(known.max()) + 1,
                     known_good=faces.good[first])
    seconds = time.perf_counter() - start
    incremental = np.empty(len(ids), np.int64)
    incremental[first], incremental[~first] = known, new
    from sklearn.metrics import adjusted_rand_score

    s = score(incremental, faces.identity)
    print(f"incremental (2 devices, {first.sum()} + {(~first).sum()} faces, assign_new {seconds:.2f} s): "
          f"faces to relabel vs batch {partition_disagreement(batch, incremental):.2%}, "
          f"adjusted Rand {adjusted_rand_score(batch, incremental):.4f}; "
          f"precision {s.precision:.4f} recall {s.recall:.4f} BCubed F1 {s.bcubed_f1:.4f}")


def run_search(faces: RealFaces, threshold: float) -> None:
    """Hold out each person's first photo; search it against every face of the other photos."""
    from desktop.people.search import FaceIndex

    known = np.flatnonzero(faces.identity != "")
    found_right = wanted = found_known = 0
    recalls, precisions = [], []
    for person in sorted(set(faces.identity[known])):
        mine = known[faces.identity[known] == person]
        if len(mine) < 2:
            continue
        probe = mine[0]
        rest = faces.photo != faces.photo[probe]
        index = FaceIndex(np.flatnonzero(rest), faces.vectors[rest])
        hits = np.array([i for i, _ in index.search(faces.vectors[probe], threshold)], np.int64)
        hit_ids = faces.identity[hits] if len(hits) else np.array([], str)
        right, labelled = int((hit_ids == person).sum()), int((hit_ids != "").sum())
        found_right, wanted, found_known = found_right + right, wanted + len(mine) - 1, found_known + labelled
        recalls.append(right / (len(mine) - 1))
        precisions.append(right / labelled if labelled else 1.0)
    print(f"search at {threshold:.2f}: {len(recalls)} probes; recall {found_right / wanted:.4f} "
          f"(mean per probe {np.mean(recalls):.4f}), precision {found_right / max(found_known, 1):.4f} "
          f"(mean per probe {np.mean(precisions):.4f}); probes finding >= 95% of their person: "
          f"{np.mean(np.array(recalls) >= 0.95):.2%}")


def synthetic(count: int, dim: int = 512, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors shaped like the shared pack's on real faces: identity sizes with a Zipf
    tail (most identities one face), same-person cosines ~0.58 +- 0.12, strangers' cosines
    spread like real faces' (+-0.07, from a shared 32-D component of every identity centre)."""
    rng = np.random.default_rng(seed)
    sizes = np.minimum(rng.zipf(2.0, count), 200)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), count) + 1]
    identity = np.repeat(np.arange(len(sizes)), sizes)[:count]
    basis = np.linalg.qr(rng.standard_normal((dim, 32)))[0].astype(np.float32)
    centres = np.empty((len(sizes), dim), np.float32)
    for start in range(0, len(sizes), 100_000):
        n = min(100_000, len(sizes) - start)
        low = rng.standard_normal((n, 32)).astype(np.float32) @ basis.T
        full = rng.standard_normal((n, dim)).astype(np.float32)
        low /= np.linalg.norm(low, axis=1, keepdims=True)
        full /= np.linalg.norm(full, axis=1, keepdims=True)
        centres[start:start + n] = np.sqrt(0.6) * low + np.sqrt(0.4) * full
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = np.empty((count, dim), np.float32)
    for start in range(0, count, 100_000):
        part = identity[start:start + 100_000]
        rho = np.clip(rng.normal(0.76, 0.08, len(part)), 0.3, 0.98).astype(np.float32)[:, None]
        noise = rng.standard_normal((len(part), dim)).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        vectors[start:start + len(part)] = np.sqrt(rho) * centres[part] + np.sqrt(1 - rho) * noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, identity


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_scale(count: int, params) -> None:
    from desktop.people.cluster import cluster_all

    vectors, identity = synthetic(count)
    print(f"synthetic: {count} faces, {len(np.unique(identity))} identities "
          f"({(np.bincount(identity) == 1).sum()} of one face); peak memory so far "
          f"{peak_memory_mb():.0f} MB", flush=True)
    start = time.perf_counter()
    labels = cluster_all(np.arange(count), vectors, np.ones(count, bool), params)
    seconds = time.perf_counter() - start
    s = score(labels, identity.astype(str))
    print(f"cluster_all: {seconds:.1f} s, peak memory {peak_memory_mb():.0f} MB; precision "
          f"{s.precision:.4f} recall {s.recall:.4f} BCubed F1 {s.bcubed_f1:.4f}, {s.clusters} clusters")


def run_latency(count: int = 1_000_000, queries: int = 20) -> None:
    from desktop.people.search import FaceIndex

    vectors, _ = synthetic(count)
    start = time.perf_counter()
    index = FaceIndex(np.arange(count), vectors)
    built = time.perf_counter() - start
    times = []
    for q in range(queries):
        start = time.perf_counter()
        index.search(vectors[q * 997], 0.4)
        times.append(time.perf_counter() - start)
    print(f"search over {count} synthetic {vectors.shape[1]}-D faces: index built in {built:.1f} s; "
          f"one query median {np.median(times) * 1000:.1f} ms, slowest {max(times) * 1000:.1f} ms "
          f"({queries} queries); peak memory {peak_memory_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", default="shared_s")
    parser.add_argument("--split", choices=["odd", "even", "all"], default="odd",
                        help="identities scored: tuned on even, reported on odd")
    parser.add_argument("--scale", type=int, help="cluster this many synthetic faces instead")
    parser.add_argument("--search", action="store_true", help="search by face figures instead")
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()
    os.environ.setdefault("HOMEWARD_DATA_DIR", tempfile.mkdtemp(prefix="homeward-bench-"))
    from desktop.people.params import params_for

    if args.scale:
        run_scale(args.scale, params_for("shared_s", "arcface"))
        return
    pack = shared_pack(args.pack)
    params = params_for(pack.id, pack.manifest.recognizer.family)
    faces = split(embed_photos(pack, labelled_photos(), args.workers), args.split)
    print(f"pack {pack.id}, split {args.split}, cores {os.cpu_count()}")
    if args.search:
        run_search(faces, params.search)
        run_latency()
        return
    run_quality(faces, params)
    run_incremental(faces, params)


if __name__ == "__main__":
    main()
