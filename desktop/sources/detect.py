"""Which kind of source a path is, by its content, and the one way to open a source or an
entry of one, in any process.

Suspects and tools name containers freely (an E01 renamed `.bin`, a UFDR shipped as `.zip`),
so the kind comes from the bytes: a folder, a zip (a UFDR when it carries `report.xml`), a
tar (plain or compressed), an E01, or a raw disk image (a partition table or a file system
The Sleuth Kit reads).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO

from desktop.sources.base import (
    E01,
    FOLDER,
    RAW,
    TAR,
    UFDR,
    ZIP,
    EvidenceSource,
    SourceError,
    SourceSpec,
)
from desktop.sources.opener import EvidenceRefused, open_evidence

HEAD_BYTES = 64 * 1024  # enough for every signature below (HFS+ at 1 KiB, ext at 1080 B)

_EWF = (b"EVF\x09\x0d\x0a\xff\x00", b"EVF2\x0d\x0a\x81\x00")


def is_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar"


def compression_of(head: bytes) -> str | None:
    """"gzip", "bzip2" or "xz" when `head` starts a compressed stream."""
    for magic, name in ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz")):
        if head.startswith(magic):
            return name
    return None


def _decompressed_head(stream: BinaryIO, compression: str) -> bytes:
    opener = {"gzip": lambda s: gzip.GzipFile(fileobj=s), "bzip2": bz2.BZ2File,
              "xz": lzma.LZMAFile}[compression]
    stream.seek(0)
    try:
        with opener(stream) as inner:
            return inner.read(512)
    except (OSError, EOFError, lzma.LZMAError, ValueError):
        return b""


def archive_kind(stream: BinaryIO) -> str | None:
    """ZIP, UFDR or TAR for an archive Homeward opens (also inside other sources), else None.
    Reads a seekable stream from its start; leaves its position undefined."""
    stream.seek(0)
    head = stream.read(HEAD_BYTES)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            with zipfile.ZipFile(stream) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return ZIP  # listed (and its damage reported) by the zip reader
        return UFDR if "report.xml" in names else ZIP
    if is_tar(head):
        return TAR
    compression = compression_of(head)
    if compression and is_tar(_decompressed_head(stream, compression)):
        return TAR
    return None


def disk_kind(head: bytes) -> str | None:
    """E01 or RAW when `head` (HEAD_BYTES of a file) starts an evidence image."""
    if head.startswith(_EWF):
        return E01
    signatures = (
        head[512:520] == b"EFI PART",  # GPT
        head[1080:1082] == b"\x53\xef",  # ext2/3/4 superblock magic
        head[3:11] in (b"NTFS    ", b"EXFAT   "),
        head[1024:1026] in (b"H+", b"HX"),  # HFS+, HFSX
        head[510:512] == b"\x55\xaa",  # MBR or a FAT boot sector
        head[32769:32774] == b"CD001",  # ISO 9660
    )
    return RAW if any(signatures) else None


def detect_kind(path: Path) -> str:
    """The kind of source at `path`; SourceError when Homeward cannot read it as evidence."""
    if path.is_dir():
        return FOLDER
    try:
        with open_evidence(path) as stream:
            head = stream.read(HEAD_BYTES)
            kind = disk_kind(head) if head.startswith(_EWF) else archive_kind(stream)
            kind = kind or disk_kind(head)
    except EvidenceRefused as exc:
        raise SourceError(f"{path} is not a folder or a file Homeward can read.", exc.detail) from exc
    except FileNotFoundError as exc:
        raise SourceError(f"{path} does not exist.") from exc
    except OSError as exc:
        raise SourceError(f"{path} cannot be read.", exc.strerror or str(exc)) from exc
    if kind is None:
        raise SourceError(
            f"{path} is not a source Homeward can read.",
            "a folder, a zip, a tar (.tar, .tar.gz, .tar.bz2, .tar.xz), a UFDR phone "
            "extraction, an E01 (first segment) or a raw disk image (.dd, .raw, .img) is "
            "recognised by its content; this file is none of them")
    return kind


def spec_for(path: Path, scratch: Path | None = None) -> SourceSpec:
    """The spec of the source at `path`. `scratch`: a folder where a source may keep what it
    must decompress to be read in any order (a .tar.gz), e.g. the case's work folder."""
    path = Path(path).resolve()
    options = (("scratch", str(scratch)),) if scratch is not None else ()
    return SourceSpec(detect_kind(path), str(path), None, options)


def open_source(spec: SourceSpec) -> EvidenceSource:
    """The one way to open a source of any kind (a new object: the caller closes it)."""
    if spec.kind == FOLDER:
        from desktop.sources.folder import FolderSource

        return FolderSource(spec)
    if spec.kind in (ZIP, TAR, UFDR):
        from desktop.sources.archives import open_archive

        return open_archive(spec)
    if spec.kind in (RAW, E01):
        from desktop.sources.disk import open_disk_image

        return open_disk_image(spec)
    raise SourceError(f"unknown kind of source {spec.kind!r}")


_KEPT = 8  # sources kept open per process: the scan's few, and an archive or two inside them
_open: OrderedDict[SourceSpec, EvidenceSource] = OrderedDict()
_lock = threading.RLock()  # re-entered when a source opens the source its container lies in


def opened(spec: SourceSpec) -> EvidenceSource:
    """This process's open source for `spec` (opened once, kept for the next entries)."""
    with _lock:
        source = _open.pop(spec, None)
        if source is None:
            source = open_source(spec)
            while len(_open) >= _KEPT:
                _open.popitem(last=False)[1].close()
        _open[spec] = source
        return source


NESTED = "nested"


def open_entry(spec: SourceSpec, locator: tuple) -> BinaryIO:
    """A read-only stream of one entry, in any process (workers open sources from specs).
    An entry of an archive inside the source has the locator ("nested", archive spec,
    locator in the archive) (desktop.sources.nested): it is read from that archive."""
    while len(locator) == 3 and locator[0] == NESTED and isinstance(locator[1], SourceSpec):
        spec, locator = locator[1], locator[2]
    return opened(spec).open(locator)


def close_all() -> None:
    """Close what this process keeps open (end of a scan; tests)."""
    with _lock:
        while _open:
            _open.popitem()[1].close()


def entry_name(spec: SourceSpec, path_bytes: bytes) -> str:
    """A readable location for logs: the container's file name and the path inside."""
    inside = path_bytes.decode("utf-8", errors="backslashreplace")
    return inside if spec.kind == FOLDER else f"{os.path.basename(spec.path)}: {inside}"
