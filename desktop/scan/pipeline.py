"""The scan's analysis on a GPU: images decoded in worker processes, faces found and
embedded in batches by the one process that owns the ONNX sessions (and the GPU memory).

Decoding a phone photo costs far more CPU than a GPU needs to detect and embed its faces, so
one process doing both leaves the GPU idle most of the time. Here `workers` processes decode
ahead (at most `window` images in flight, so memory stays bounded), the engine takes groups
of images (its recognizer batches the faces of the whole group), and threads write crops and
thumbnails. Videos stay in this process: their frames are decoded as they are sampled and
already reach the engine in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from desktop.engine.engine import FaceEngine
from desktop.scan.content import (
    ContentOutcome,
    ContentTask,
    DecodedContent,
    analyse_content,
    decode_image,
    image_outcome,
)
from desktop.scan.workers import WorkerPool, never, use_engine

IMAGES_PER_BATCH = 16


def decode_pool(workers: int) -> WorkerPool:
    """Processes that decode (and hash) without an engine: no GPU memory, no sessions."""
    return WorkerPool(workers)


def prepare(task: ContentTask) -> DecodedContent | ContentOutcome | ContentTask:
    """In a decode worker: an image decoded, or its failure; other kinds go back as they are."""
    return decode_image(task) if task.kind == "image" else task


class BatchedAnalysis:
    """`held` (a pause): no new image goes to the decoders, and the images already decoded
    are analysed without waiting for a full batch. `stop` (a cancel): work out is dropped."""

    def __init__(self, engine: FaceEngine, pool: WorkerPool, workers: int,
                 batch: int = IMAGES_PER_BATCH, held: Callable[[], bool] = never,
                 stop: Callable[[], bool] = never) -> None:
        self.engine, self.pool, self.batch = engine, pool, batch
        self.held, self.stop = held, stop
        self.window = batch + 2 * workers  # decoded images held at most, waiting or in work
        self.writers = ThreadPoolExecutor(max(1, workers), thread_name_prefix="derived")
        use_engine(engine)  # videos are analysed here with this engine

    def close(self) -> None:
        self.writers.shutdown(wait=True)

    def run(self, tasks: Iterable[ContentTask]) -> Iterator[ContentOutcome]:
        """One outcome per task; images come out in groups, so not strictly in task order."""
        ready: list[DecodedContent] = []
        for item in self.pool.imap(prepare, tasks, ordered=False, window=self.window,
                                   held=self.held, stop=self.stop):
            yield from self._take(item, ready)
        yield from self._infer(ready)

    def _take(self, item: DecodedContent | ContentOutcome | ContentTask,
              ready: list[DecodedContent]) -> Iterator[ContentOutcome]:
        if isinstance(item, DecodedContent):
            ready.append(item)
            if len(ready) >= self.batch or self.held():
                yield from self._infer(ready)
        else:
            yield finish_undecoded(item)

    def _infer(self, ready: list[DecodedContent]) -> Iterator[ContentOutcome]:
        if not ready:
            return
        group = list(ready)
        ready.clear()
        yield from infer_group(self.engine, group, self.writers.map)


def finish_undecoded(item: ContentOutcome | ContentTask) -> ContentOutcome:
    """What came back from a decode worker without an image: its failure as it is, or a
    video (analysed here, frames batched as they are sampled)."""
    return item if isinstance(item, ContentOutcome) else analyse_content(item)


def infer_group(engine: FaceEngine, group: list[DecodedContent],
                mapper: Callable = map) -> Iterable[ContentOutcome]:
    """Faces of a group of decoded images in one engine call (the recognizer batches all their
    faces), then each image's outcome (crops written or carried) through `mapper`."""
    try:
        faces = engine.analyze([decoded.image.bgr for decoded in group])
    except Exception:  # one image the engine cannot take must not fail its whole group
        return [analyse_content(decoded.task) for decoded in group]
    return mapper(image_outcome, group, faces)
