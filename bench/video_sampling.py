"""Is grab()-then-retrieve() sampling faster than read() of every frame? Times both on the
shared videos (median of interleaved runs, wall and process CPU), plus sampling with cut
detection on, which has to convert every frame.

    python bench/video_sampling.py [runs]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from desktop.media.video import sample_frames  # noqa: E402

VIDEOS = REPO.parent / "shared" / "facedata" / "videos"
NAMES = ("WDA_BobMenendez_000.mp4", "short_hamilton_clip.mp4", "facenet_pytorch_video.mp4")


def read_every_frame(path: Path) -> int:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    return count


def main(runs: int) -> None:
    variants: dict[str, Callable[[Path], int]] = {
        "read() every frame": read_every_frame,
        "sample 2 fps, cuts off": lambda p: sum(1 for _ in sample_frames(p, scene_threshold=None)),
        "sample 2 fps + cuts": lambda p: sum(1 for _ in sample_frames(p)),
    }
    for name in NAMES:
        path = VIDEOS / name
        wall: dict[str, list[float]] = {k: [] for k in variants}
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        frames: dict[str, int] = {}
        for _ in range(runs):
            for label, run in variants.items():
                w, c = time.perf_counter(), time.process_time()
                frames[label] = run(path)
                wall[label].append(time.perf_counter() - w)
                cpu[label].append(time.process_time() - c)
        print(name)
        for label in variants:
            w, c = statistics.median(wall[label]) * 1e3, statistics.median(cpu[label]) * 1e3
            print(f"  {label:24s} {frames[label]:4d} frames  wall {w:7.1f} ms  cpu {c:7.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 9)
