"""The one analysis path: files of any source read, decoded, their faces found and embedded.

Every consumer goes through `Analysis`: a scan, `homeward embed`, gallery imports, `models
evaluate` and `calibrate`, a search photo, the demo. How the work runs is decided here once:
on the CPU, engine workers each decode and infer (one process per core); on a GPU (or when
`batched` is asked for, to measure it), decode workers feed this process's engine in batches
of images; with one worker, all of it in this process. `held` holds new work back (a pause),
`stop` drops what is queued (a cancel).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

from desktop.engine.engine import EngineOptions, FaceEngine
from desktop.engine.pack_store import InstalledPack, require_intact, resolve_pack
from desktop.engine.types import Face, ImageResult
from desktop.gallery.imports import Analyze, PackInfo
from desktop.scan.content import (
    ContentOutcome,
    ContentTask,
    FileRef,
    Fingerprint,
    analyse_content,
    fingerprint,
)
from desktop.scan.pipeline import BatchedAnalysis, decode_pool
from desktop.scan.workers import default_workers, engine_pool, never, runs_on_gpu, use_engine
from desktop.sources.base import FOLDER, SourceSpec


class Analyser(AbstractContextManager):
    """What a scan needs of an analysis service, here or on a lab cluster."""

    def fingerprint(self, refs: Iterable[FileRef]) -> Iterator[Fingerprint]:
        raise NotImplementedError

    def analyse(self, tasks: Iterable[ContentTask]) -> Iterator[ContentOutcome]:
        raise NotImplementedError


# Starts a service given the scan's pause (`held`) and cancel (`stop`) tests.
AnalysisService = Callable[[Callable[[], bool], Callable[[], bool]], Analyser]


class Analysis(Analyser):
    """A context manager: the pools start on entry (the pack's files checked against their
    hashes first, so a damaged model is named before any engine loads it) and stop on exit."""

    def __init__(self, pack: InstalledPack, options: EngineOptions | None = None,
                 workers: int | None = None, batched: bool | None = None,
                 held: Callable[[], bool] = never, stop: Callable[[], bool] = never) -> None:
        self.pack, self.options = pack, options or EngineOptions()
        self.workers = workers or default_workers()
        self.batched = runs_on_gpu(self.options) if batched is None else batched
        self.held, self.stop = held, stop
        self._stack = ExitStack()

    def __enter__(self) -> Analysis:
        require_intact(self.pack)
        held, stop = self.held, self.stop
        if self.batched:
            pool = self._stack.enter_context(decode_pool(self.workers))
            batches = BatchedAnalysis(FaceEngine(self.pack, self.options), pool, self.workers,
                                      held=held, stop=stop)
            self._stack.callback(batches.close)
            self._fingerprint = lambda refs: pool.imap(fingerprint, refs, chunksize=4,
                                                       ordered=False, held=held, stop=stop)
            self._analyse = batches.run
        elif self.workers == 1:
            use_engine(FaceEngine(self.pack, self.options))
            self._fingerprint = lambda refs: map(fingerprint, refs)
            self._analyse = lambda tasks: map(analyse_content, tasks)
        else:
            pool = self._stack.enter_context(engine_pool(self.pack, self.options, self.workers))
            self._fingerprint = lambda refs: pool.imap(fingerprint, refs, ordered=False,
                                                       held=held, stop=stop)
            self._analyse = lambda tasks: pool.imap(analyse_content, tasks, ordered=False,
                                                    held=held, stop=stop)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stack.close()

    def fingerprint(self, refs: Iterable[FileRef]) -> Iterator[Fingerprint]:
        """Hashes and type of each file, in the order they finish."""
        return self._fingerprint(refs)

    def analyse(self, tasks: Iterable[ContentTask]) -> Iterator[ContentOutcome]:
        """Faces of each content, in the order they finish."""
        return self._analyse(tasks)


def file_ref(path: Path) -> FileRef:
    """A plain file outside any case (a gallery photo, a search photo), as a source entry.
    A path that is gone or not a file still gets one: reading it reports why."""
    path = Path(path).absolute()
    name = os.fsencode(path.name)
    size = path.stat().st_size if path.is_file() else None
    return FileRef(SourceSpec(FOLDER, str(path.parent)), (name, size), size, (0, name), str(path))


def analyze_paths(paths: Iterable[Path], pack: InstalledPack, options: EngineOptions,
                  workers: int | None = None) -> Iterator[ImageResult]:
    """Image files through the scan's own analysis, as ImageResults in input order (nothing
    is written: no case). Unreadable files become results with an error."""
    listed = list(map(Path, paths))
    tasks = (ContentTask(n, "", file_ref(path), "image", 0.0, 0.0, None)
             for n, path in enumerate(listed))
    waiting: dict[int, ContentOutcome] = {}
    following = 0
    with Analysis(pack, options, workers) as analysis:
        for outcome in analysis.analyse(tasks):
            waiting[outcome.content_id] = outcome
            while following in waiting:
                yield _image_result(listed[following], waiting.pop(following))
                following += 1


def _image_result(path: Path, outcome: ContentOutcome) -> ImageResult:
    faces: list[Face] = [found.face for found in outcome.faces]
    if outcome.status in ("ok", "no_face"):
        return ImageResult(str(path), outcome.width or 0, outcome.height or 0, faces)
    return ImageResult(str(path), error=outcome.reason or outcome.status,
                       error_detail=str(path))


def pack_analyzer(pack_id: str | None, provider: str = "auto",
                  workers: int | None = None) -> tuple[PackInfo, Analyze]:
    """The pack a gallery change is embedded with, and the function that embeds photos."""
    pack = resolve_pack(pack_id)
    require_intact(pack)  # a damaged model file must not embed reference photos unseen
    options = EngineOptions(provider=provider)
    return (PackInfo(pack.id, pack.manifest.model_hashes),
            lambda paths: analyze_paths(paths, pack, options, workers))
