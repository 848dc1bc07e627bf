"""Engine throughput: Homeward's engine against insightface's naive per-image loop.

Same images, same pack, same machine, one run, side by side:
    .venv/bin/python bench/engine.py [--images 600] [--provider auto|cpu|cuda] [--pack open]
The naive loop is insightface's documented path: read, `SCRFD.detect` at 640x640, then
`ArcFaceONNX.get` per face, one image at a time. Homeward runs its default configuration.
With `--pack open`, the reference is dlib's own loop (HOG detector, 5-point predictor,
`compute_face_descriptor` per face) on the same photos.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def bench_images(count: int) -> list[Path]:
    """A mix like seized media: small LFW crops, large CelebA originals, group photos."""
    data = SHARED / "facedata"
    lfw = sorted((data / "lfw").rglob("*.jpg"))
    others = sorted(p for p in data.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
                    and "lfw" not in p.parts)
    picked = others[: count // 2]
    return picked + lfw[: count - len(picked)]


def shared_pack(name: str):
    from desktop.engine.pack_install import import_pack
    from desktop.engine.pack_store import find_installed

    if name != "shared_s":
        from desktop.engine.pack_store import resolve_pack
        return resolve_pack(name)
    found = find_installed("shared_s")
    if found:
        return found
    with tempfile.TemporaryDirectory() as tmp:
        for file in ("scrfd_500m_kps.onnx", "w600k_mbf_int8.onnx"):
            (Path(tmp) / file).write_bytes((SHARED / "models" / file).read_bytes())
        return import_pack(Path(tmp), pack_id="shared_s")


def run_naive(paths: list[Path], pack, providers: list[str]) -> tuple[float, int]:
    from reference import InsightfaceReference

    reference = InsightfaceReference(pack.path(pack.manifest.detector),
                                     pack.path(pack.manifest.recognizer), providers)
    reference.analyze_path(paths[0])  # warm-up, as for Homeward's workers
    start = time.perf_counter()
    faces = sum(len(reference.analyze_path(p)[1]) for p in paths)
    return time.perf_counter() - start, faces


def run_dlib_loop(paths: list[Path]) -> tuple[float, int]:
    """dlib's own pipeline, the open pack's reference: detect, 5 points, descriptor per face."""
    import cv2
    import dlib

    from desktop.engine.open_pack import PREDICTOR_SOURCE, RESNET_SOURCE, source_models_dir

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(source_models_dir() / PREDICTOR_SOURCE))
    resnet = dlib.face_recognition_model_v1(str(source_models_dir() / RESNET_SOURCE))
    start = time.perf_counter()
    faces = 0
    for path in paths:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        for rect in detector(rgb, 1):
            resnet.compute_face_descriptor(rgb, predictor(rgb, rect))
            faces += 1
    return time.perf_counter() - start, faces


def run_homeward(paths: list[Path], pack, provider: str, workers: int | None) -> tuple[float, int]:
    from desktop.engine.engine import EngineOptions
    from desktop.scan.analyze import analyze_paths

    list(analyze_paths(paths[:4], pack, EngineOptions(provider=provider), workers))  # warm-up
    start = time.perf_counter()
    faces = sum(len(r.faces) for r in analyze_paths(paths, pack, EngineOptions(provider=provider),
                                                    workers))
    return time.perf_counter() - start, faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--pack", default="shared_s")
    parser.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()
    os.environ.setdefault("HOMEWARD_DATA_DIR", tempfile.mkdtemp(prefix="homeward-bench-"))

    from desktop.engine.providers import choose_providers, runtime_report

    providers = choose_providers(args.provider)
    pack = shared_pack(args.pack)
    paths = bench_images(args.images)
    print(f"{len(paths)} images, pack {pack.id}, cores {os.cpu_count()}; "
          f"{runtime_report(args.provider).lines()[-1]}")
    if pack.manifest.build == "open":
        # dlib upsamples every photo; keep to photos it can do in reasonable time.
        paths = [p for p in bench_images(args.images * 3) if p.stat().st_size < 400_000]
        paths = paths[: args.images]
        naive_name, (naive_s, naive_faces) = "dlib compute_face_descriptor", run_dlib_loop(paths)
    else:
        naive_name, (naive_s, naive_faces) = "insightface naive loop", run_naive(paths, pack,
                                                                                   providers)
    ours_s, our_faces = run_homeward(paths, pack, args.provider, args.workers)
    print(f"{len(paths)} images compared")
    print(f"{'path':<30}{'seconds':>9}{'images/s':>10}{'faces':>7}{'faces/s':>9}")
    for name, seconds, faces in ((naive_name, naive_s, naive_faces),
                                 ("homeward engine", ours_s, our_faces)):
        print(f"{name:<30}{seconds:>9.1f}{len(paths) / seconds:>10.1f}{faces:>7}"
              f"{faces / seconds:>9.1f}")
    print(f"speed-up: {naive_s / ours_s:.2f}x images/s")


if __name__ == "__main__":
    main()
