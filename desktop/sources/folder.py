"""A folder as an evidence source: the file system's own entries, read in place.

Paths are kept as bytes (non-UTF-8 names survive) relative to the folder. Symbolic links are
recorded, never followed (no loops, no leaving the source); entries that cannot be read are
recorded with the reason; nothing here stops a scan.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from desktop.sources.base import FOLDER, EvidenceSource, SourceEntry, SourceFacts, SourceSpec
from desktop.sources.opener import open_evidence


class FolderSource(EvidenceSource):
    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.root = os.fsencode(spec.path)

    def entries(self) -> Iterator[SourceEntry]:
        return walk_folder(self.root)

    def open(self, locator: tuple) -> BinaryIO:
        path_bytes, size = locator
        return open_evidence(os.path.join(self.root, path_bytes), size)

    def facts(self) -> SourceFacts:
        return SourceFacts(FOLDER, "folder")


def walk_folder(root: str | bytes | os.PathLike) -> Iterator[SourceEntry]:
    """Depth-first, sorted by name, so two scans of one folder list it the same way."""
    base = os.fsencode(root)
    pending = [b""]
    while pending:
        rel = pending.pop()
        folder = os.path.join(base, rel) if rel else base
        try:
            with os.scandir(folder) as scan:
                children = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            yield SourceEntry(rel or b".", problem=f"folder cannot be read: {exc.strerror or exc}",
                              status="unreadable")
            continue
        subfolders = []
        for child in children:
            child_rel = os.path.join(rel, child.name) if rel else child.name
            try:
                info = child.stat(follow_symlinks=False)
            except OSError as exc:
                yield SourceEntry(child_rel, problem=f"cannot be read: {exc.strerror or exc}",
                                  status="unreadable")
                continue
            if stat.S_ISLNK(info.st_mode):
                yield SourceEntry(child_rel, problem="symbolic link, not followed",
                                  status="unsupported")
            elif stat.S_ISDIR(info.st_mode):
                subfolders.append(child_rel)
            elif stat.S_ISREG(info.st_mode):
                yield SourceEntry(child_rel, info.st_size, info.st_mtime, info.st_ctime,
                                  info.st_atime, _birth(info), locator=(child_rel, info.st_size))
            else:
                yield SourceEntry(child_rel, problem="not a regular file (device, pipe or socket)",
                                  status="unsupported")
        pending.extend(reversed(subfolders))


def _birth(info: os.stat_result) -> float | None:
    return getattr(info, "st_birthtime", None)
