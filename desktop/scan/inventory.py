"""The files among and under given paths, for `homeward embed` and the demo: listed as a
scan lists a folder source (desktop.sources.folder), problems reported, never fatal."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from desktop.sources.folder import walk_folder

log = logging.getLogger(__name__)


def iter_files(paths: Iterable[Path],
               errors: list[tuple[Path, str]] | None = None) -> Iterator[Path]:
    """The regular files among and under `paths`; what a scan would record as a problem goes
    into `errors`."""
    for path in map(Path, paths):
        if path.is_file():
            yield path
        elif not path.is_dir():
            _skip(errors, path, "no such file or folder")
        else:
            for entry in walk_folder(path):
                found = path / os.fsdecode(entry.path_bytes)
                if entry.problem:
                    _skip(errors, found, entry.problem)
                else:
                    yield found


def _skip(errors: list[tuple[Path, str]] | None, path: Path, reason: str) -> None:
    log.warning("skipped %s: %s", path, reason)
    if errors is not None:
        errors.append((path, reason))
