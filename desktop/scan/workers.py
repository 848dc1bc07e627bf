"""Worker processes that each own a face engine, for CPU-parallel analysis.

Sessions do not pickle, so a worker rebuilds its engine from an `EngineSpec` once, at start;
the same pool shape serves `homeward embed` and the scan. Each worker's sessions use one
thread: measured here, two one-thread sessions do twice the work of one two-thread session
for these small models.

`WorkerPool` hands out at most a small window of work beyond what came back (so a pause
holds within one file per worker), and never restarts dying workers for ever: a worker that
cannot load its engine ends the run with the reason; work lost with a killed worker is tried
again on fresh workers a bounded number of times, then the run ends with a clear error.
Workers ignore Ctrl-C (the command that started them stops them: no traceback per worker)
and log to the same file as that command.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from desktop.engine.engine import EngineOptions, FaceEngine
from desktop.engine.pack_store import InstalledPack
from desktop.engine.providers import CUDA, choose_providers
from desktop.errors import EngineError, HomewardError
from desktop.logfile import LogSetup

log = logging.getLogger(__name__)

WINDOW_SPARE = 1  # chunks handed out beyond one per worker: the next file is ready at once
MAX_ATTEMPTS = 3  # times one piece of work may be lost with its worker before the run ends
POLL_S = 0.1


class WorkerPoolError(HomewardError):
    """Worker processes kept stopping unexpectedly (killed, out of memory, crashed)."""


class EngineNotLoaded(Exception):
    """Raised in a worker whose engine failed to load; pickles back as one message."""


@dataclass(frozen=True)
class EngineSpec:
    """What a worker process needs to rebuild an engine."""

    pack: InstalledPack
    options: EngineOptions


_engine: FaceEngine | None = None
_load_failure: str | None = None


def _init(spec: EngineSpec) -> None:
    """Keep a load failure to report with the first work: an initializer that raises makes
    the pool useless without saying why."""
    global _engine, _load_failure
    try:
        _engine = FaceEngine(spec.pack, spec.options)
    except Exception as exc:
        _load_failure = f"{type(exc).__name__}: {exc}"


def _start_worker(logging_setup: LogSetup | None, initializer: Callable[..., None] | None,
                  initargs: tuple) -> None:
    """Every worker's first step: Ctrl-C reaches the whole process group, and only the
    parent acts on it (it cancels the work and stops the workers); spawned workers inherit no
    logging, so they take the parent's (its log file and stderr level)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if logging_setup is not None:
        logging_setup.apply()
    if initializer is not None:
        initializer(*initargs)


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


def _apply(fn: Callable[[Any], Any], chunk: Sequence[Any]) -> list[Any]:
    """In a worker: `fn` over one chunk of work."""
    if _load_failure is not None:
        raise EngineNotLoaded(_load_failure)
    return [fn(item) for item in chunk]


def never() -> bool:
    """The default `held` and `stop`: nothing holds the work back."""
    return False


def _name(item: object) -> str:
    path = getattr(item, "path", item)
    return os.fsdecode(path) if isinstance(path, (bytes, str, os.PathLike)) else repr(path)


@dataclass
class _Work:
    chunk: list[Any]
    attempts: int = 1


class WorkerPool:
    """Spawned worker processes fed through a bounded window of chunks."""

    def __init__(self, workers: int, initializer: Callable[..., None] | None = None,
                 initargs: tuple = ()) -> None:
        self.workers = workers
        self.window = workers + WINDOW_SPARE
        self._initializer, self._initargs = initializer, initargs
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, multiprocessing.get_context("spawn"),
                                   _start_worker,
                                   (LogSetup.current(), self._initializer, self._initargs))

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop at once: work still queued or running is dropped, not awaited (a cancelled or
        failed run must not wait for a long video to finish)."""
        # The executor has no public way to stop running work before Python 3.14.
        processes = list((getattr(self._executor, "_processes", None) or {}).values())
        self._executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join()

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any], *, chunksize: int = 1,
             ordered: bool = True, window: int | None = None, held: Callable[[], bool] = never,
             stop: Callable[[], bool] = never) -> Iterator[Any]:
        """`fn` of each item, run in the workers. No more than `window` chunks (default: one
        per worker and WINDOW_SPARE) are out at once; while `held()` is true none is handed
        out, while the ones out still come back; once `stop()` is true the rest is dropped.
        `ordered=False` yields results as they come."""
        window = window or self.window
        source = iter(items)
        pending: dict[Future, _Work] = {}
        exhausted = False
        while not stop():
            while not exhausted and len(pending) < window and not held():
                chunk = list(islice(source, chunksize))
                if not chunk:
                    exhausted = True
                    break
                pending = self._submit(fn, _Work(chunk), pending)
            if not pending:
                if exhausted:
                    return
                time.sleep(POLL_S)  # held, nothing out
                continue
            watched = list(pending) if not ordered else [next(iter(pending))]
            done, _ = wait(watched, timeout=POLL_S, return_when=FIRST_COMPLETED)
            if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                pending = self._restart(fn, pending)
                continue
            for future in (f for f in list(pending) if f in done):
                pending.pop(future)
                yield from self._results(future)

    def _submit(self, fn: Callable[[Any], Any], work: _Work,
                pending: dict[Future, _Work]) -> dict[Future, _Work]:
        try:
            future = self._executor.submit(_apply, fn, work.chunk)
        except BrokenProcessPool:  # broke before its futures said so
            pending = self._restart(fn, pending)
            future = self._executor.submit(_apply, fn, work.chunk)
        return {**pending, future: work}

    def _restart(self, fn: Callable[[Any], Any],
                 pending: dict[Future, _Work]) -> dict[Future, _Work]:
        """Fresh workers; the work lost with the old ones is handed out again, each piece at
        most MAX_ATTEMPTS times in all."""
        lost = list(pending.values())
        worst = max((work.attempts for work in lost), default=0)
        if worst >= MAX_ATTEMPTS:
            names = ", ".join(_name(item) for work in lost for item in work.chunk)
            raise WorkerPoolError(
                "Worker processes stopped unexpectedly again and again; the run was stopped.",
                f"lost {worst} times with its worker: {names}; a worker may have been killed "
                "(out of memory?) or crashed on one of these files")
        log.warning("a worker process stopped unexpectedly; retrying %d pieces of work on "
                    "fresh workers", len(lost))
        self.close()
        self._executor = self._start()
        return {self._executor.submit(_apply, fn, work.chunk): _Work(work.chunk, work.attempts + 1)
                for work in lost}

    def _results(self, future: Future) -> list[Any]:
        error = future.exception()
        if isinstance(error, EngineNotLoaded):
            raise EngineError("The face engine could not be loaded in a worker process.",
                              str(error))
        return future.result()


def engine_pool(pack: InstalledPack, options: EngineOptions, workers: int) -> WorkerPool:
    """`workers` spawned processes, each with a one-thread engine."""
    spec = EngineSpec(pack, replace(options, threads=1))
    return WorkerPool(workers, _init, (spec,))
