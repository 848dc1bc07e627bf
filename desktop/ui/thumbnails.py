"""Thumbnails loaded off the GUI thread, on demand, with a bounded cache.

A list of 100,000 faces asks only for the rows on screen; each image file is read and scaled
on a thread pool (QImage is safe off the GUI thread, QPixmap is not), and the view is told
when it arrives. Unreadable files get no thumbnail, never an error dialog per row.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextlib import suppress
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QImageReader, QPixmap

from desktop.scan.derived import crop_path


def read_scaled(path: Path, size: QSize) -> QImage:
    """The image scaled to fit `size`, decoded at reduced size where the format allows."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    original = reader.size()
    if original.isValid():
        reader.setScaledSize(original.scaled(size, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull() or (image.width() <= size.width() and image.height() <= size.height()):
        return image
    return image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation)


class _Load(QRunnable):
    def __init__(self, loader: ThumbnailLoader, path: Path) -> None:
        super().__init__()
        self.loader, self.path = loader, path

    def run(self) -> None:
        image = read_scaled(self.path, self.loader.size)
        with suppress(RuntimeError):  # the loader was deleted (its window closed): nobody waits
            self.loader.loaded.emit(str(self.path), image)


class ThumbnailLoader(QObject):
    """`pixmap(path)` returns the cached thumbnail or None and starts loading it; `ready`
    names the path once it can be asked again."""

    loaded = Signal(str, QImage)  # from pool threads; queued to this object
    ready = Signal(str)

    def __init__(self, side: int = 96, capacity: int = 2000,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size, self.capacity = QSize(side, side), capacity
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._pending: set[str] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self.loaded.connect(self._store)

    def pixmap(self, path: Path | str | None) -> QPixmap | None:
        if not path:
            return None
        key = str(path)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key not in self._pending:
            self._pending.add(key)
            self._pool.start(_Load(self, Path(key)))
        return None

    def wait_idle(self, timeout_ms: int = 10_000) -> bool:
        return self._pool.waitForDone(timeout_ms)

    @Slot(str, QImage)
    def _store(self, key: str, image: QImage) -> None:
        self._pending.discard(key)
        self._cache[key] = QPixmap.fromImage(image) if not image.isNull() else QPixmap()
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        self.ready.emit(key)


class CropRequests:
    """A model's share of a ThumbnailLoader: the face crops its rows asked for, and which
    rows (by any key the model likes: a row, a hit id) to repaint when each one arrives."""

    def __init__(self, thumbnails: ThumbnailLoader | None,
                 repaint: Callable[[Hashable], None]) -> None:
        self.thumbnails, self._repaint = thumbnails, repaint
        self._waiting: dict[str, set[Hashable]] = {}  # crop path -> keys that asked for it
        if thumbnails is not None:
            thumbnails.ready.connect(self._ready)

    def clear(self) -> None:
        self._waiting.clear()

    def pixmap(self, folder: Path | None, crop: str | None, key: Hashable) -> QPixmap | None:
        """The crop's thumbnail, or None while it loads (then `key` is repainted)."""
        if self.thumbnails is None or folder is None:
            return None
        path = crop_path(folder, crop)
        if path is None:
            return None
        pixmap = self.thumbnails.pixmap(path)
        if pixmap is None:
            self._waiting.setdefault(str(path), set()).add(key)
        return pixmap

    def _ready(self, path: str) -> None:
        for key in self._waiting.pop(path, ()):
            self._repaint(key)
