"""Expanding the user's files and folders into a sorted list of files to look at."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def iter_files(paths: Iterable[Path], errors: list[tuple[Path, str]] | None = None) -> Iterator[Path]:
    """Every regular file under the given paths, depth-first in sorted order.

    Symbolic links to folders are not followed (no loops, no escaping the source); folders that
    cannot be read are reported into `errors` and skipped, never fatal.
    """
    for path in paths:
        if path.is_file():
            yield path
            continue
        if not path.is_dir():
            _report(errors, path, "no such file or folder")
            continue

        def on_error(exc: OSError, top: Path = path) -> None:
            _report(errors, Path(exc.filename or top), exc.strerror or str(exc))

        for root, dirs, files in os.walk(path, onerror=on_error, followlinks=False):
            dirs.sort()
            for name in sorted(files):
                candidate = Path(root) / name
                if candidate.is_file():
                    yield candidate


def _report(errors: list[tuple[Path, str]] | None, path: Path, reason: str) -> None:
    log.warning("skipped %s: %s", path, reason)
    if errors is not None:
        errors.append((path, reason))
