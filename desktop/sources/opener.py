"""The one way Homeward opens evidence: read-only, without touching it, never blocking.

Hashing, sniffing, decoding and exports all read seized files through `open_evidence`, so
every read obeys the same rules: O_NOATIME where the OS allows it (reading must not change the
file's access time, a fact an examiner may rely on), no FIFOs or devices (opening a FIFO
blocks forever, and opening a tape device can move it), and, when the caller knows the size
seen when the file was listed or scanned, a file that has since changed size is refused.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from desktop.errors import HomewardError

EvidencePath = str | bytes | os.PathLike[str] | os.PathLike[bytes]

_FLAGS = (os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
          | getattr(os, "O_NONBLOCK", 0))
_NOATIME = getattr(os, "O_NOATIME", 0)  # Linux only; elsewhere the OS decides


class EvidenceRefused(HomewardError):
    """A path is not evidence Homeward will read: not a regular file, or changed since listed."""


def open_evidence(path: EvidencePath, expected_size: int | None = None) -> BinaryIO:
    """Open a regular file read-only; OSError if the OS refuses, EvidenceRefused if we do.

    The path is checked before the open (a device is never opened at all) and the open file
    after it (fstat), so a path swapped for a FIFO in between cannot slip through; O_NONBLOCK
    makes that open itself return at once. `expected_size`, when given, must equal the open
    file's size.
    """
    name = os.fsdecode(path)
    _refuse_unless_regular(os.stat(path), name)
    try:
        fd = os.open(path, _FLAGS | _NOATIME)
    except PermissionError:
        if not _NOATIME:
            raise
        fd = os.open(path, _FLAGS)  # O_NOATIME needs ownership of the file; read without it
    try:
        found = os.fstat(fd)
        _refuse_unless_regular(found, name)
        if expected_size is not None and found.st_size != expected_size:
            raise EvidenceRefused("the file changed size since it was listed",
                                  f"{name}: {expected_size} bytes then, {found.st_size} now")
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _refuse_unless_regular(found: os.stat_result, name: str) -> None:
    if stat.S_ISDIR(found.st_mode):
        raise EvidenceRefused("a directory, not a regular file", name)
    if not stat.S_ISREG(found.st_mode):
        raise EvidenceRefused("not a regular file", name)
