"""Listing a seized source: every entry, with what the file system says about it.

Paths are kept as bytes (non-UTF-8 names survive) relative to the source root. Symbolic
links are recorded, never followed (no loops, no leaving the source); entries that cannot be
read are recorded with the reason; nothing here stops a scan.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    path_bytes: bytes  # relative to the source root
    size: int | None = None
    mtime: float | None = None
    ctime: float | None = None
    problem: str | None = None  # why it will not be analysed, when known already
    status: str | None = None  # the status that problem gives

    @property
    def rel_path(self) -> str:
        """For display and reports: undecodable bytes shown as \\xNN escapes."""
        return self.path_bytes.decode("utf-8", errors="backslashreplace")


def walk_source(root: Path | bytes) -> Iterator[Entry]:
    """Depth-first, sorted by name, so two scans of one source list it the same way."""
    base = os.fsencode(root)
    pending = [b""]
    while pending:
        rel = pending.pop()
        folder = os.path.join(base, rel) if rel else base
        try:
            with os.scandir(folder) as scan:
                children = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            yield Entry(rel or b".", problem=f"folder cannot be read: {exc.strerror or exc}",
                        status="unreadable")
            continue
        subfolders = []
        for child in children:
            child_rel = os.path.join(rel, child.name) if rel else child.name
            try:
                info = child.stat(follow_symlinks=False)
            except OSError as exc:
                yield Entry(child_rel, problem=f"cannot be read: {exc.strerror or exc}",
                            status="unreadable")
                continue
            if stat.S_ISLNK(info.st_mode):
                yield Entry(child_rel, problem="symbolic link, not followed", status="unsupported")
            elif stat.S_ISDIR(info.st_mode):
                subfolders.append(child_rel)
            elif stat.S_ISREG(info.st_mode):
                yield Entry(child_rel, info.st_size, info.st_mtime, info.st_ctime)
            else:
                yield Entry(child_rel, problem="not a regular file (device, pipe or socket)",
                            status="unsupported")
        pending.extend(reversed(subfolders))


def iter_files(paths: Iterable[Path],
               errors: list[tuple[Path, str]] | None = None) -> Iterator[Path]:
    """The regular files among and under `paths` (for `homeward embed` and the demo), listed
    as a scan lists a source; what a scan would record as a problem goes into `errors`."""
    for path in map(Path, paths):
        if path.is_file():
            yield path
        elif not path.is_dir():
            _skip(errors, path, "no such file or folder")
        else:
            for entry in walk_source(path):
                found = path / os.fsdecode(entry.path_bytes)
                if entry.problem:
                    _skip(errors, found, entry.problem)
                else:
                    yield found


def _skip(errors: list[tuple[Path, str]] | None, path: Path, reason: str) -> None:
    log.warning("skipped %s: %s", path, reason)
    if errors is not None:
        errors.append((path, reason))
