"""Scan throughput: `homeward scan` against a naive single-process loop, same files, same pack.

    .venv/bin/python bench/scan.py [--files 5000] [--pack shared_s] [--workers N] [--batched]
                                   [--hashset 1000000] [--ray local|HOST:PORT] [--no-baselines]
The seized folder is generated from ../shared/facedata photos; each copy gets a unique
trailer after its JPEG end marker, so every file is distinct (no deduplication advantage)
yet decodes to the same pixels. The naive loop reads, decodes, detects, embeds and compares
one image at a time, first as insightface documents it (the baseline), then on Homeward's
own engine (to isolate what parallel workers add); the scan also hashes (SHA-256 + MD5) and
records every file in case.db. `--hashset N` scans once more with a known-file hash set of N
random SHA-256 values imported (every file is looked up; none is found): the cost of the
lookups, side by side with the plain scan. `--ray ADDRESS` scans once more through a Ray
cluster (`local`: a private instance on this machine), after the same check of the nodes the
CLI makes; its overhead per file is the difference from the local scan (joining the cluster
is timed apart).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def generate(root: Path, count: int) -> list[Path]:
    photos = sorted(p for p in (SHARED / "facedata").rglob("*.jpg"))
    written = []
    for n in range(count):
        source = photos[n % len(photos)]
        target = root / f"dir{n // 500:03d}" / f"IMG_{n:06d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes() + f"homeward-bench-{n}".encode())
        written.append(target)
    return written


def naive_insightface(paths: list[Path], pack, gallery_vectors: np.ndarray,
                      person_ids: np.ndarray) -> float:
    """The straightforward loop: cv2.imread, insightface's SCRFD.detect + ArcFaceONNX.get."""
    from reference import InsightfaceReference

    from desktop.match.persons import rank_persons

    reference = InsightfaceReference(pack.path(pack.manifest.detector),
                                     pack.path(pack.manifest.recognizer))
    start = time.perf_counter()
    for path in paths:
        _, faces = reference.analyze_path(path)
        if faces:
            rank_persons(np.stack([f.embedding for f in faces]), gallery_vectors, person_ids)
    return time.perf_counter() - start


def naive_homeward(paths: list[Path], pack, gallery_vectors: np.ndarray,
                   person_ids: np.ndarray) -> float:
    """The same loop on Homeward's own engine, one process: isolates the scan's parallelism."""
    from desktop.engine.engine import EngineOptions, FaceEngine
    from desktop.errors import HomewardError
    from desktop.match.persons import rank_persons
    from desktop.media.decode import load_image

    engine = FaceEngine(pack, EngineOptions())
    start = time.perf_counter()
    for path in paths:
        try:
            faces = engine.analyze([load_image(path).bgr])[0]
        except HomewardError:  # as the scan: skip what cannot be read
            continue
        if faces:
            rank_persons(np.stack([f.embedding for f in faces]), gallery_vectors, person_ids)
    return time.perf_counter() - start


def import_hashes(path: Path, count: int) -> None:
    from desktop.hashsets.importers import import_file

    rng = np.random.default_rng(0)
    with open(path, "w") as out:
        for start in range(0, count, 100_000):
            block = rng.integers(0, 256, (min(100_000, count - start), 32), np.uint8)
            out.write("".join(row.tobytes().hex() + "\n" for row in block))
    import_file(path, kind="list", name="bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--pack", default="shared_s")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--batched", action="store_true",
                        help="also time the GPU's pipeline (decode workers feeding one engine "
                             "in batches) on whatever provider is in use")
    parser.add_argument("--hashset", type=int, help="also scan with a hash set of this many hashes")
    parser.add_argument("--ray", metavar="ADDRESS", help="also scan through this Ray cluster")
    parser.add_argument("--no-baselines", action="store_true", help="skip the naive loops")
    args = parser.parse_args()
    os.environ.setdefault("HOMEWARD_DATA_DIR", tempfile.mkdtemp(prefix="homeward-bench-"))

    from engine import shared_pack

    from desktop.engine.engine import EngineOptions
    from desktop.engine.providers import runtime_report
    from desktop.gallery.fields import PersonFields
    from desktop.gallery.gallery import Gallery
    from desktop.gallery.imports import PackInfo, import_rows
    from desktop.gallery.sources import ImportRow
    from desktop.scan.analyze import analyze_paths
    from desktop.scan.case import Case, CaseInfo
    from desktop.scan.job import ScanJob

    pack = shared_pack(args.pack)
    with tempfile.TemporaryDirectory(prefix="homeward-scan-bench-") as tmp:
        work = Path(tmp)
        paths = generate(work / "source", args.files)
        gallery = Gallery.create(work / "gallery.db")
        people = sorted((SHARED / "facedata" / "face_recognition").iterdir())
        rows = [ImportRow(p.name, PersonFields(name=p.name), sorted(p.glob("*.jpg"))[0])
                for p in people if p.name != "_multi" and list(p.glob("*.jpg"))]
        import_rows(gallery, rows, lambda ps: analyze_paths(ps, pack, EngineOptions()),
                    PackInfo(pack.id, pack.manifest.model_hashes), "bench")
        person_ids, _, vectors = gallery.embeddings(pack.id)
        print(f"{len(paths)} files, gallery {len(set(person_ids))} persons, pack {pack.id}, "
              f"cores {os.cpu_count()}; {runtime_report().lines()[-1]}")
        baselines = [] if args.no_baselines else [
            ("naive loop, homeward engine", naive_homeward(paths, pack, vectors, person_ids))]
        if pack.manifest.detector.family == "scrfd" and not args.no_baselines:
            baselines.insert(0, ("naive loop, insightface", naive_insightface(
                paths, pack, vectors, person_ids)))
        scans = []
        for name, batched in (("homeward scan (+hashing, case.db)", None),
                              ("scan, batched pipeline", True),
                              (f"scan with a {args.hashset or 0}-hash set", None)):
            if (batched and not args.batched) or ("hash set" in name and not args.hashset):
                continue
            if "hash set" in name:
                started = time.perf_counter()
                import_hashes(work / "hashes.txt", args.hashset)
                print(f"hash set of {args.hashset} imported in {time.perf_counter() - started:.1f} s")
            case = Case.create(work / f"case-{len(scans)}", CaseInfo(
                "bench", "bench", str(work / "source"), str(work / "gallery.db"), pack.id,
                pack.manifest.model_hashes, pack.manifest.match_threshold, 2.0, ""))
            start = time.perf_counter()
            stages = StageClock()
            summary = ScanJob(case, pack, gallery, workers=args.workers, batched=batched,
                              on_progress=stages).run()
            scans.append((name, time.perf_counter() - start, summary, stages))
        if args.ray:
            scans.append(ray_scan(args.ray, work, pack, len(scans)))
    scan_s = scans[0][1]
    print(f"{'path (one process unless said)':<36}{'seconds':>9}{'files/s':>9}{'scan is':>9}")
    for name, seconds in baselines:
        print(f"{name:<36}{seconds:>9.1f}{len(paths) / seconds:>9.1f}{seconds / scan_s:>8.2f}x")
    for name, seconds, summary, stages in scans:
        print(f"{name:<36}{seconds:>9.1f}{len(paths) / seconds:>9.1f}")
        print(f"  found {summary.faces} faces, {summary.new_hits} hits; {stages}")
        if "Ray" in name:
            print(f"  overhead per file against the local scan: "
                  f"{(seconds - scan_s) / len(paths) * 1000:+.1f} ms")


def ray_scan(address: str, work: Path, pack, number: int) -> tuple:
    """The same scan through a Ray cluster, as `homeward scan --ray` runs it."""
    from desktop.cluster.analysis import plan_cluster
    from desktop.cluster.runtime import connected
    from desktop.scan.start import ScanRequest, prepare_scan

    request = ScanRequest((work / "source",), work / f"case-{number}", work / "gallery.db",
                          "bench", pack=pack.id)
    started = time.perf_counter()
    with connected(address) as ray:
        plan = plan_cluster(ray, address, request)
        stages = StageClock()
        job = prepare_scan(request, on_progress=stages)
        plan.apply(job)
        print(f"joined the Ray cluster {address} and checked {len(plan.nodes)} node(s) "
              f"({sum(n.cpus for n in plan.nodes):g} CPUs, {sum(n.gpus for n in plan.nodes):g} "
              f"GPUs) in {time.perf_counter() - started:.1f} s")
        start = time.perf_counter()
        summary = job.run()
        seconds = time.perf_counter() - start
        job.case.close()
        job.gallery.close()
    return (f"scan on Ray ({address})", seconds, summary, stages)


class StageClock:
    """Seconds spent in each stage of a scan, from its progress reports."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    def __call__(self, progress) -> None:
        self.started.setdefault(progress.stage, time.perf_counter())

    def __str__(self) -> str:
        names = list(self.started)
        return ", ".join(f"{name} {self.started[following] - self.started[name]:.1f} s"
                         for name, following in pairwise(names))


if __name__ == "__main__":
    main()
