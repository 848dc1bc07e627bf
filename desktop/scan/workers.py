"""Worker processes that each own a face engine, for CPU-parallel analysis.

Sessions do not pickle, so a worker rebuilds its engine from an `EngineSpec` once, at start;
the same pool shape serves `homeward embed` and the scan. Each worker's sessions use one
thread: measured here, two one-thread sessions do twice the work of one two-thread session
for these small models.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass, replace
from multiprocessing.pool import Pool

from desktop.engine.engine import EngineOptions, FaceEngine
from desktop.engine.pack_store import InstalledPack
from desktop.engine.providers import CUDA, choose_providers


@dataclass(frozen=True)
class EngineSpec:
    """What a worker process needs to rebuild an engine."""

    pack: InstalledPack
    options: EngineOptions


_engine: FaceEngine | None = None


def _init(spec: EngineSpec) -> None:
    global _engine
    _engine = FaceEngine(spec.pack, spec.options)


def worker_engine() -> FaceEngine:
    assert _engine is not None, "not inside an engine worker (or use_engine was not called)"
    return _engine


def use_engine(engine: FaceEngine) -> None:
    """Run worker functions in this process with an engine already built (GPU, one worker)."""
    global _engine
    _engine = engine


def default_workers() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def runs_on_gpu(options: EngineOptions) -> bool:
    return choose_providers(options.provider)[0] == CUDA


def engine_pool(pack: InstalledPack, options: EngineOptions, workers: int) -> Pool:
    """`workers` spawned processes, each with a one-thread engine."""
    spec = EngineSpec(pack, replace(options, threads=1))
    return multiprocessing.get_context("spawn").Pool(workers, initializer=_init, initargs=(spec,))
