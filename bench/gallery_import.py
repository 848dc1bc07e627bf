"""Gallery import speed: photos/s of a folder-per-person import of LFW identities.

    .venv/bin/python bench/gallery_import.py [--identities 300] [--pack shared_s|open]
Prints the engine's share (analysis) and the database's share (hashing, copying, writing)
separately, so a slow import can be traced to the right room.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=300)
    parser.add_argument("--pack", default="shared_s")
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()
    os.environ.setdefault("HOMEWARD_DATA_DIR", tempfile.mkdtemp(prefix="homeward-bench-"))

    from engine import shared_pack

    from desktop.engine.engine import EngineOptions
    from desktop.gallery.gallery import Gallery
    from desktop.gallery.imports import PackInfo, import_rows
    from desktop.gallery.sources import rows_from_folder
    from desktop.scan.analyze import analyze_paths

    pack = shared_pack(args.pack)
    identities = sorted(p for p in (SHARED / "facedata" / "lfw").iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "people"
        for identity in identities[: args.identities]:
            (root / identity.name).mkdir(parents=True)
            for photo in identity.iterdir():
                (root / identity.name / photo.name).symlink_to(photo)
        gallery = Gallery.create(Path(tmp) / "gallery.db")
        rows, problems = rows_from_folder(root)
        engine_seconds = [0.0]

        def analyze(paths):
            start = time.perf_counter()
            results = list(analyze_paths(paths, pack, EngineOptions(), args.workers))
            engine_seconds[0] = time.perf_counter() - start
            return results

        start = time.perf_counter()
        report = import_rows(gallery, rows, analyze, PackInfo(pack.id, pack.manifest.model_hashes),
                             "bench", problems)
        total = time.perf_counter() - start
    photos = len(rows)
    print(f"pack {pack.id}: {args.identities} identities, {photos} photos, "
          f"{report.photos_added} stored, {len(report.problems)} need a choice of face")
    print(f"total {total:.1f} s = {photos / total:.1f} photos/s "
          f"(engine {engine_seconds[0]:.1f} s, hashing+copy+database "
          f"{total - engine_seconds[0]:.1f} s)")


if __name__ == "__main__":
    main()
