"""What every kind of evidence source looks like to the scan: a list of entries, and a
read-only stream per entry, re-openable in any process.

A folder, a zip, a tar, a phone extraction, a raw disk image and an E01 all answer the same
two questions: what is in you (`entries`), and give me the bytes of this one (`open`). The
scan never knows which kind it reads. Worker processes (and, later, other machines) open the
same source again from its `SourceSpec`, which pickles; an entry is found again from its
`locator`, a tuple of plain values that only the source that listed it interprets.
"""

from __future__ import annotations

import base64
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from desktop.errors import HomewardError

# Kinds of source, recognised by content (desktop.sources.detect), never by extension.
FOLDER, ZIP, TAR, UFDR, RAW, E01 = "folder", "zip", "tar", "ufdr", "raw", "e01"
ARCHIVE_DEPTH = 3  # archives inside containers opened this deep (an archive in an archive...)


class SourceError(HomewardError):
    """A source (folder, archive, image) that cannot be opened or listed at all."""


@dataclass(frozen=True)
class SourceEntry:
    """One file inside a source, with what the source says about it.

    `problem` (and the `status` it gives) is set when the entry will not be read: a symbolic
    link, an encrypted archive member, a name that would escape the source, an entry over the
    size limits... The scan records it and goes on; nothing here stops a scan.
    """

    path_bytes: bytes  # inside the source, '/'-separated, relative (no leading '/')
    size: int | None = None
    mtime: float | None = None  # seconds since the epoch, UTC
    ctime: float | None = None  # metadata change (or creation, where that is all there is)
    atime: float | None = None
    crtime: float | None = None  # creation (birth) time, where the file system keeps one
    deleted: bool = False  # unallocated in its file system, content still recoverable
    locator: tuple = ()  # how the source that listed it finds it again; plain values only
    problem: str | None = None
    status: str | None = None  # "unreadable", "unsupported", "refused"... with a problem

    @property
    def rel_path(self) -> str:
        """For display and reports: undecodable bytes shown as \\xNN escapes."""
        return self.path_bytes.decode("utf-8", errors="backslashreplace")


@dataclass(frozen=True)
class SourceSpec:
    """What any process needs to open a source again. Pickles; equal specs, same source.

    `path` is the folder or the container's file (an E01's first segment). `within` names the
    source and entry this one was found in (an archive inside a disk image), or is None.
    `options` holds what the source decided while listing and needs again to read (a
    decompressed copy of a .tar.gz, say), as sorted (name, value) pairs."""

    kind: str
    path: str
    within: tuple[SourceSpec, tuple] | None = None
    options: tuple[tuple[str, object], ...] = ()

    def option(self, name: str, default: object = None) -> object:
        return dict(self.options).get(name, default)


@dataclass(frozen=True)
class SourceFacts:
    """What a scan records about the container itself (shown in `case show` and reports).

    `details` holds kind-specific facts as plain JSON values: an E01's acquisition metadata,
    stored hashes and whether the media data matches them; a UFDR's device and extraction;
    the partitions of a disk image."""

    kind: str
    format: str  # "E01", "raw (GPT)", "zip", "tar.gz", "UFDR", "folder"...
    details: dict = field(default_factory=dict)


class EvidenceSource(ABC):
    """An opened source. Never writes to the evidence; `close` releases what it holds."""

    spec: SourceSpec

    @abstractmethod
    def entries(self) -> Iterator[SourceEntry]:
        """Every file once, in an order that is the same on every run."""

    @abstractmethod
    def open(self, locator: tuple) -> BinaryIO:
        """A read-only, seekable stream of the entry's content (SourceError or OSError)."""

    def facts(self) -> SourceFacts:
        """What to record about the source; complete once `entries` has been read through."""
        return SourceFacts(self.spec.kind, self.spec.kind)

    def close(self) -> None:  # noqa: B027  (most sources hold nothing to release)
        """Release open files and handles."""

    def __enter__(self) -> EvidenceSource:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def encode_locator(value: object) -> str:
    """A locator (or spec) as JSON text for the case record: tuples, bytes and specs tagged,
    so that reading it back runs no code (a case file may be hostile; pickle would run it)."""
    return json.dumps(_tagged(value), separators=(",", ":"))


def decode_locator(text: str) -> object:
    return _untagged(json.loads(text))


def _tagged(value: object) -> object:
    if isinstance(value, SourceSpec):
        return {"spec": [value.kind, value.path, _tagged(value.within), _tagged(value.options)]}
    if isinstance(value, tuple):
        return [_tagged(item) for item in value]
    if isinstance(value, bytes):
        return {"b": base64.b64encode(value).decode("ascii")}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a locator holds plain values only, not {type(value).__name__}")


def _untagged(value: object) -> object:
    if isinstance(value, list):
        return tuple(_untagged(item) for item in value)
    if isinstance(value, dict):
        if set(value) == {"b"}:
            return base64.b64decode(value["b"])
        if set(value) == {"spec"}:
            kind, path, within, options = value["spec"]
            return SourceSpec(kind, path, _untagged(within), _untagged(options))
        raise ValueError(f"not a locator: {value!r}")
    return value
