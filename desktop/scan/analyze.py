"""Running the face engine over many image files: parallel on CPU, batched on GPU.

On the CPU, worker processes (see workers.py) take whole images: decode, detect, align,
embed. On a GPU, one process owns the sessions and batches faces of many images, while
threads decode the next images.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path

from desktop.engine.engine import EngineOptions, FaceEngine
from desktop.engine.pack_store import InstalledPack, require_intact, resolve_pack
from desktop.engine.types import ImageResult
from desktop.errors import HomewardError
from desktop.gallery.imports import Analyze, PackInfo
from desktop.media.decode import DecodedImage, load_image
from desktop.scan.workers import default_workers, engine_pool, runs_on_gpu, worker_engine

log = logging.getLogger(__name__)

GPU_IMAGES_PER_BATCH = 16


def _decode(path: Path) -> DecodedImage | ImageResult:
    try:
        return load_image(path)
    except HomewardError as exc:
        return ImageResult(path=str(path), error=exc.message, error_detail=exc.detail)
    except Exception as exc:
        log.exception("unexpected failure decoding %s", path)
        return ImageResult(path=str(path), error="could not be decoded", error_detail=repr(exc))


def _result(path: Path, image: DecodedImage, faces) -> ImageResult:
    return ImageResult(path=str(path), width=image.width, height=image.height, faces=faces)


def _analyze_decoded(engine: FaceEngine, path: Path, image: DecodedImage) -> ImageResult:
    try:
        return _result(path, image, engine.analyze([image.bgr])[0])
    except Exception as exc:
        log.exception("face engine failed on %s", path)
        return ImageResult(path=str(path), width=image.width, height=image.height,
                           error="face analysis failed", error_detail=repr(exc))


def _analyze_one(path: Path) -> ImageResult:
    decoded = _decode(path)
    if isinstance(decoded, ImageResult):
        return decoded
    return _analyze_decoded(worker_engine(), path, decoded)


def analyze_paths(paths: Iterable[Path], pack: InstalledPack, options: EngineOptions,
                  workers: int | None = None) -> Iterator[ImageResult]:
    """ImageResults in input order; unreadable files become results with an error."""
    workers = workers or default_workers()
    if workers == 1 or runs_on_gpu(options):
        yield from _analyze_in_process(paths, FaceEngine(pack, options), workers)
        return
    with engine_pool(pack, options, workers) as pool:
        yield from pool.imap(_analyze_one, paths, chunksize=2)


def _analyze_in_process(paths: Iterable[Path], engine: FaceEngine,
                        decode_threads: int) -> Iterator[ImageResult]:
    """One engine; images decoded ahead by threads and analysed in groups of images."""
    path_iter = iter(paths)
    with ThreadPoolExecutor(max(1, decode_threads)) as pool:
        while chunk := list(islice(path_iter, GPU_IMAGES_PER_BATCH)):
            decoded = list(pool.map(_decode, chunk))
            good = [(p, d) for p, d in zip(chunk, decoded, strict=True)
                    if not isinstance(d, ImageResult)]
            try:
                faces = engine.analyze([d.bgr for _, d in good])
                analysed = {p: _result(p, d, f) for (p, d), f in zip(good, faces, strict=True)}
            except Exception:
                log.exception("face engine failed on a group; analysing one by one")
                analysed = {p: _analyze_decoded(engine, p, d) for p, d in good}
            for path, item in zip(chunk, decoded, strict=True):
                yield item if isinstance(item, ImageResult) else analysed[path]


def pack_analyzer(pack_id: str | None, provider: str = "auto",
                  workers: int | None = None) -> tuple[PackInfo, Analyze]:
    """The pack a gallery change is embedded with, and the function that embeds photos."""
    pack = resolve_pack(pack_id)
    require_intact(pack)  # a damaged model file must not embed reference photos unseen
    options = EngineOptions(provider=provider)
    return (PackInfo(pack.id, pack.manifest.model_hashes),
            lambda paths: analyze_paths(paths, pack, options, workers))
