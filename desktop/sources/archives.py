"""Zip, tar (plain or gzip/bzip2/xz) and Cellebrite UFDR containers as evidence sources.

Every archive is read in place through `open_evidence` (or, for an archive found inside
another source, through that source's stream), never extracted. Members that would be unsafe
or impossible to read are listed with the reason and never opened: names that would leave
the archive ("zip slip"), encrypted members, links and devices, and archive bombs (a member
declaring more than `ArchiveLimits.max_member_bytes`, or inflating more than `max_ratio`
times its compressed size). Readers of a member never get more than its declared size.

Duplicate member names are kept: the second "a/b.jpg" is listed as "a/b (2).jpg" (the
suffix goes before the extension so the type stays visible), the third "a/b (3).jpg", and so
on; the listing order, hence the suffix, is the archive's own order.

A compressed tar is decompressed once, while it is listed, into a spool file in the scratch
folder (`spec.option("scratch")`), and members are then read from the spool. Random access
into a gzip, bzip2 or xz stream costs a decompression from its start (O(n) per entry, O(n²)
per archive), and listing must pass through the whole stream anyway. The spool's name derives
from the container's identity, so a worker process opening the same spec finds it; after the
listing, `spec` names it in its options ("spool"). Refused members are not written to the
spool (it stays sparse there), and decompression stops when the archive inflates past
`max_ratio` times its size (at least `max_member_bytes`).
"""

from __future__ import annotations

import bz2
import contextlib
import dataclasses
import gzip
import hashlib
import io
import lzma
import os
import re
import shutil
import struct
import tarfile
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO
from xml.parsers import expat

from desktop.sources.base import (
    TAR,
    UFDR,
    ZIP,
    EvidenceSource,
    SourceEntry,
    SourceError,
    SourceFacts,
    SourceSpec,
)
from desktop.sources.detect import compression_of
from desktop.sources.opener import EvidenceRefused, open_evidence

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
CHUNK = 1 * MiB
NOT_LISTED = b"(not listed)"  # the name of the note that stands for the unlisted rest


@dataclass(frozen=True)
class ArchiveLimits:
    """What an archive may declare before its members are refused as a bomb."""

    max_member_bytes: int = 4 * GiB
    max_ratio: float = 200.0  # uncompressed / compressed, for members over `ratio_floor`
    ratio_floor: int = 1 * MiB
    max_entries: int = 1_000_000


LIMITS = ArchiveLimits()


class DamagedMember(OSError):
    """An archive member whose data cannot be read as declared (raised while reading: every
    reader of evidence streams handles OSError as an unreadable file)."""


def open_archive(spec: SourceSpec, limits: ArchiveLimits = LIMITS) -> EvidenceSource:
    """The source for a ZIP, TAR or UFDR spec (SourceError when it cannot be opened)."""
    kind = {ZIP: ZipSource, TAR: TarSource, UFDR: UfdrSource}.get(spec.kind)
    if kind is None:
        raise SourceError(f"{spec.kind!r} is not an archive kind")
    return kind(spec, limits)


# --- shared reading ------------------------------------------------------------------------

class _Shared:
    """One stream read by many threads: each read is a positioned read (pread on a file this
    source opened itself, else seek+read under a lock), so no reader moves another's place."""

    def __init__(self, stream: BinaryIO | None, fd: int | None, size: int | None = None,
                 owner: EvidenceSource | None = None) -> None:
        self._stream = stream
        self._fd = fd
        self._owner = owner  # the source `stream` is an entry of, closed with it
        self._lock = threading.Lock()
        self.size = stream.seek(0, io.SEEK_END) if size is None else size

    def pread(self, offset: int, n: int) -> bytes:
        if self._fd is not None:
            return os.pread(self._fd, n, offset)
        with self._lock:
            self._stream.seek(offset)
            return self._stream.read(n)

    def current_size(self) -> int:
        """The size now (a spool another process is still writing grows)."""
        return os.fstat(self._fd).st_size if self._fd is not None else self.size

    def view(self, start: int = 0, size: int | None = None) -> BinaryIO:
        size = self.size - start if size is None else size
        return io.BufferedReader(_Region(self, start, size), 256 * KiB)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        if self._owner is not None:
            self._owner.close()


class _Region(io.RawIOBase):
    """`size` bytes at `start` of a shared stream, seekable, with its own position."""

    def __init__(self, shared: _Shared, start: int, size: int) -> None:
        self._shared, self._start, self._size, self._pos = shared, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        data = self._shared.pread(self._start + self._pos, n)
        if not data:
            raise DamagedMember("the archive ends before this entry's data does")
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)


class _Inflated(io.RawIOBase):
    """A compressed zip member: errors become DamagedMember, and it never yields more than
    its declared size (zipfile stops there and checks the CRC: a member that inflates past
    its declared size fails instead of filling memory)."""

    slow_seek = True  # seeking back re-inflates from the start: copy before random access

    def __init__(self, member: zipfile.ZipExtFile, size: int) -> None:
        self._member, self._size = member, size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._member.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._guard(lambda: self._member.seek(offset, whence))

    def readinto(self, buffer) -> int:
        start = self._member.tell()
        data = self._guard(lambda: self._member.read(len(buffer)))
        if not data and start < self._size:
            raise DamagedMember(f"the member ends after {start} of its {self._size} bytes")
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._member.close()
        super().close()

    @staticmethod
    def _guard(read):
        try:
            return read()
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, ValueError) as exc:
            raise DamagedMember(f"damaged archive member: {exc}") from exc


def _open_container(spec: SourceSpec) -> _Shared:
    """The container's bytes: the evidence file itself, or an entry of the source it lies in.

    That source is opened for this archive alone (not through detect's per-process cache):
    the archive reads its container for as long as it is open, so the source under it must
    not be closed by the cache's eviction, and opening it here while `opened` holds the
    cache's lock for this archive would deadlock. An entry that is costly to seek in (a
    compressed member) is copied to an unnamed scratch file, since archive readers seek all
    over their container; its source is then closed at once."""
    from desktop.sources.detect import open_source

    parent = None
    try:
        if spec.within is None:
            stream = open_evidence(spec.path)
            return _Shared(stream, stream.fileno())
        parent = open_source(spec.within[0])
        stream = parent.open(spec.within[1])
    except EvidenceRefused as exc:
        raise SourceError(f"{spec.path} cannot be read as evidence.", exc.detail) from exc
    except (OSError, SourceError) as exc:
        if parent is not None:
            parent.close()
        if isinstance(exc, SourceError):
            raise
        raise SourceError(f"{spec.path} cannot be read.", exc.strerror or str(exc)) from exc
    if not getattr(getattr(stream, "raw", stream), "slow_seek", False):
        return _Shared(stream, None, owner=parent)
    copy = tempfile.TemporaryFile(dir=_scratch(spec))  # noqa: SIM115  (the source keeps it)
    try:
        with stream:
            shutil.copyfileobj(stream, copy, CHUNK)
        copy.flush()
    except OSError as exc:
        copy.close()
        raise SourceError(f"an archive inside {spec.path} cannot be read.", str(exc)) from exc
    finally:
        parent.close()
    return _Shared(copy, copy.fileno())


def _scratch(spec: SourceSpec) -> str:
    folder = str(spec.option("scratch") or tempfile.gettempdir())
    os.makedirs(folder, exist_ok=True)
    return folder


# --- names ---------------------------------------------------------------------------------

_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_name(name: str) -> str | None:
    """Why a member name would leave the archive if it were extracted, or None."""
    if name.startswith(("/", "\\")):
        return "an absolute path"
    if _DRIVE.match(name):
        return "a drive letter"
    if ".." in name.replace("\\", "/").split("/"):
        return "a '..' component"
    return None


def _refused_name(name: str) -> SourceEntry:
    why = unsafe_name(name)
    return SourceEntry(name.lstrip("/\\").encode("utf-8", "surrogateescape"),
                       problem=f"name would leave the archive ({why}); not read",
                       status="refused")


def _unique(seen: set[bytes], path: bytes) -> bytes:
    """`path`, or "name (2).ext", "name (3).ext"... when the archive already listed it."""
    if path not in seen:
        seen.add(path)
        return path
    folder, _, name = path.rpartition(b"/")
    stem, dot, ext = name.rpartition(b".")
    if not stem:  # no extension (or a dot file)
        stem, dot, ext = name, b"", b""
    number = 2
    while True:
        candidate = b"%s (%d)%s%s" % (stem, number, dot, ext)
        candidate = folder + b"/" + candidate if folder else candidate
        if candidate not in seen:
            seen.add(candidate)
            return candidate
        number += 1


def _rest_not_listed(count: int) -> SourceEntry:
    return SourceEntry(NOT_LISTED, problem=f"the archive holds more than {count:,} entries; "
                       "the rest was not listed (an archive bomb?)", status="refused")


def _ratio_problem(limits: ArchiveLimits) -> str:
    return (f"inflates more than {limits.max_ratio:g} times its compressed size "
            "(an archive bomb?); not read")


def _size_problem(size: int, limits: ArchiveLimits) -> str:
    return (f"declares {size:,} bytes, over the {limits.max_member_bytes:,}-byte limit "
            "(an archive bomb?); not read")


# --- zip -----------------------------------------------------------------------------------

_READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


class ZipSource(EvidenceSource):
    """A zip archive. Locator: (index in the central directory, member name, declared size)."""

    format = "zip"

    def __init__(self, spec: SourceSpec, limits: ArchiveLimits = LIMITS) -> None:
        self.spec = spec
        self.limits = limits
        self._container = _open_container(spec)
        try:
            self._zip = zipfile.ZipFile(self._container.view())
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            self._container.close()
            raise SourceError(f"{spec.path} is not a zip archive Homeward can read.", str(exc)) from exc
        self._members = self._zip.infolist()

    def entries(self) -> Iterator[SourceEntry]:
        seen: set[bytes] = set()
        count = 0
        for index, info in enumerate(self._members):
            if info.is_dir():
                continue
            if count == self.limits.max_entries:
                yield _rest_not_listed(count)
                return
            count += 1
            yield self._entry(index, info, member_path(info), seen)

    def _entry(self, index: int, info: zipfile.ZipInfo, path: bytes, seen: set[bytes]) -> SourceEntry:
        if unsafe_name(info.filename):
            return _refused_name(info.filename)
        mtime, atime, ctime, crtime = zip_times(info)
        problem, status = self._refusal(info)
        locator = () if problem else (index, info.filename, info.file_size)
        return SourceEntry(_unique(seen, path), info.file_size, mtime, ctime, atime, crtime,
                           locator=locator, problem=problem, status=status)

    def _refusal(self, info: zipfile.ZipInfo) -> tuple[str | None, str | None]:
        if info.flag_bits & 0x1:
            return "encrypted archive member (no password)", "unsupported"
        if info.compress_type not in _READABLE_METHODS:
            return (f"compressed with a method Homeward cannot read (zip method "
                    f"{info.compress_type})", "unsupported")
        if info.file_size > self.limits.max_member_bytes:
            return _size_problem(info.file_size, self.limits), "refused"
        if (info.file_size > self.limits.ratio_floor
                and info.file_size > self.limits.max_ratio * max(1, info.compress_size)):
            return _ratio_problem(self.limits), "refused"
        return None, None

    def open(self, locator: tuple) -> BinaryIO:
        index, name, size = locator
        if not 0 <= index < len(self._members) or self._members[index].filename != name:
            raise SourceError(f"{self.spec.path} changed since it was listed.",
                              f"member {index} is no longer {name!r}")
        info = self._members[index]
        if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x1:
            return self._container.view(self._data_offset(info), size)
        try:
            member = self._zip.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
            raise SourceError(f"{name} in {self.spec.path} cannot be read.", str(exc)) from exc
        return io.BufferedReader(_Inflated(member, size), 256 * KiB)

    def _data_offset(self, info: zipfile.ZipInfo) -> int:
        """Where a stored member's bytes start: after its local header, whose name and extra
        field lengths may differ from the central directory's."""
        header = self._container.pread(info.header_offset, 30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise SourceError(f"{info.filename} in {self.spec.path} cannot be read.",
                              "its local header is missing or damaged")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        return info.header_offset + 30 + name_length + extra_length

    def facts(self) -> SourceFacts:
        return SourceFacts(self.spec.kind, self.format)

    def close(self) -> None:
        self._zip.close()
        self._container.close()


def member_path(info: zipfile.ZipInfo) -> bytes:
    """A member's name as UTF-8 bytes. zipfile decodes a name as UTF-8 when the member's flag
    says so, else as cp437; but Info-ZIP on Unix and macOS write UTF-8 names without the flag,
    so a name given in the Unicode Path extra field (0x7075), or whose raw bytes are valid
    UTF-8, is taken as UTF-8 instead of as cp437 mojibake."""
    if info.flag_bits & 0x800:
        return info.filename.encode("utf-8", "surrogateescape")
    extra = info.extra
    while len(extra) >= 4:
        tag, length = struct.unpack("<HH", extra[:4])
        body, extra = extra[4:4 + length], extra[4 + length:]
        if tag == 0x7075 and len(body) > 5 and body[0] == 1:
            with contextlib.suppress(UnicodeDecodeError):
                return body[5:].decode("utf-8").encode("utf-8")
    try:
        raw = info.filename.encode("cp437")
        raw.decode("utf-8")
        return raw
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename.encode("utf-8", "surrogateescape")


def zip_times(info: zipfile.ZipInfo) -> tuple[float | None, ...]:
    """(mtime, atime, ctime, crtime) as UTC epoch seconds. The extended-timestamp extra field
    (0x5455, Unix zip) and the NTFS one (0x000a, Windows) are true UTC; the DOS time every
    member has is local time of an unknown zone, read here as UTC."""
    times: dict[str, float | None] = {}
    extra = info.extra
    while len(extra) >= 4:
        tag, length = struct.unpack("<HH", extra[:4])
        body, extra = extra[4:4 + length], extra[4 + length:]
        if tag == 0x5455 and body:
            count = (len(body) - 1) // 4
            stamps = iter(struct.unpack(f"<{count}i", body[1:1 + 4 * count]))
            for bit, name in ((1, "mtime"), (2, "atime"), (4, "ctime")):
                if body[0] & bit:  # only mtime is in the central directory, whatever the flags
                    value = next(stamps, None)
                    if value is not None:
                        times[name] = float(value)
        elif tag == 0x000A and len(body) >= 32 and body[4:8] == b"\x01\x00\x18\x00":
            stamps = struct.unpack("<QQQ", body[8:32])  # 100 ns since 1601
            for name, value in zip(("mtime", "atime", "crtime"), stamps, strict=True):
                times[name] = value / 10_000_000 - 11_644_473_600 if value else None
    if times.get("mtime") is None:
        with contextlib.suppress(ValueError):  # a DOS date of month 0 or day 0 is no date
            times["mtime"] = datetime(*info.date_time, tzinfo=UTC).timestamp()
    return tuple(times.get(name) for name in ("mtime", "atime", "ctime", "crtime"))


# --- tar -----------------------------------------------------------------------------------

_DECOMPRESSORS = {  # bz2 and lzma take the stream as their first argument, gzip as fileobj
    "gzip": lambda stream: gzip.GzipFile(fileobj=stream),
    "bzip2": bz2.BZ2File,
    "xz": lzma.LZMAFile,
}
_TAR_FORMATS = {None: "tar", "gzip": "tar.gz", "bzip2": "tar.bz2", "xz": "tar.xz"}
_STREAM_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)


class _Bomb(Exception):
    """A compressed tar inflated past its limit; the listing stops there."""


class _Spooler:
    """Decompresses a compressed tar into the spool file, only as far as asked, and reads
    the spooled bytes back (thread-safe: positioned reads and writes under one lock)."""

    def __init__(self, container: _Shared, compression: str, path: str, limits: ArchiveLimits) -> None:
        self._compressed = container.view()
        self._reader = _DECOMPRESSORS[compression](self._compressed)
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0),
                           0o600)
        self.length = 0  # decompressed so far
        self._container_size = container.size
        self._cap = max(limits.max_ratio * container.size, limits.max_member_bytes)
        self._lock = threading.Lock()
        self.shared = _Shared(None, self._fd, 0)  # positioned reads of what is spooled

    def advance(self, upto: int, write: bool = True) -> None:
        with self._lock:
            while self.length < upto:
                chunk = self._reader.read(min(CHUNK, upto - self.length))
                if not chunk:
                    return
                if write:
                    os.pwrite(self._fd, chunk, self.length)
                self.length += len(chunk)
                if self.length > self._cap:
                    raise _Bomb(f"the archive inflates past {self._cap:,.0f} bytes, "
                                f"{self._cap / max(1, self._container_size):,.0f} times its size")

    def spool_member(self, start: int, size: int, limits: ArchiveLimits, write: bool) -> bool:
        """Spool one member's data; False when it inflated past the ratio limit (the rest of
        it is then skipped, not written)."""
        self.advance(start, write=True)
        consumed_at = self._compressed.tell()
        end = start + size
        while self.length < end:
            before = self.length
            self.advance(min(end, self.length + CHUNK), write)
            if self.length == before:
                return True  # the stream ended early: tarfile reports the damage
            out = self.length - start
            consumed = max(1, self._compressed.tell() - consumed_at)
            if write and out > limits.ratio_floor and out > limits.max_ratio * consumed:
                write = False
        return write

    def view(self) -> BinaryIO:
        return io.BufferedReader(_SpoolView(self), 64 * KiB)

    def finish(self) -> None:
        self._reader.close()

    def close(self) -> None:
        self._reader.close()
        os.close(self._fd)


class _SpoolView(io.RawIOBase):
    """The decompressed tar as tarfile reads it: reading decompresses (and spools) as far as
    needed; seeking forward decompresses nothing until the next read."""

    def __init__(self, spooler: _Spooler) -> None:
        self._spooler, self._pos = spooler, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            raise io.UnsupportedOperation("the end of a compressed stream is not known")
        self._pos = max(0, offset + (self._pos if whence == io.SEEK_CUR else 0))
        return self._pos

    def readinto(self, buffer) -> int:
        self._spooler.advance(self._pos + len(buffer))
        data = self._spooler.shared.pread(self._pos, min(len(buffer), self._spooler.length - self._pos))
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)


def spool_path(spec: SourceSpec, container_size: int) -> str:
    """Where the decompressed copy of a compressed tar lives: named after the container's
    identity (its spec, size and, for a file on disk, modification time), so every process
    opening the same spec finds the same copy."""
    identity = f"{spec.kind}\0{spec.path}\0{spec.within!r}\0{container_size}"
    if spec.within is None:
        identity += f"\0{os.stat(spec.path).st_mtime_ns}"
    digest = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return os.path.join(_scratch(spec), f"homeward-spool-{digest}.tar")


class TarSource(EvidenceSource):
    """A tar, plain or compressed. Locator: (offset of the data in the tar, size)."""

    def __init__(self, spec: SourceSpec, limits: ArchiveLimits = LIMITS) -> None:
        self._spec = spec
        self.limits = limits
        self._container = _open_container(spec)
        self.compression = compression_of(self._container.pread(0, 8))
        self._spooler: _Spooler | None = None
        self._spool: _Shared | None = None
        self._spooled = False  # a listing in this process completed the spool
        self._lock = threading.Lock()

    @property
    def spec(self) -> SourceSpec:
        """The spec, naming the spool once a listing has written it."""
        if not self._spooled:
            return self._spec
        options = dict(self._spec.options)
        options["spool"] = self._spooler.path
        return dataclasses.replace(self._spec, options=tuple(sorted(options.items())))

    def _spool_file(self) -> str:
        return str(self._spec.option("spool") or spool_path(self._spec, self._container.size))

    def entries(self) -> Iterator[SourceEntry]:
        spooler = None
        if self.compression is None:
            stream = self._container.view()
        else:
            with self._lock:
                if self._spooler is not None:
                    self._spooler.close()
                spooler = self._spooler = _Spooler(self._container, self.compression,
                                                   self._spool_file(), self.limits)
            stream = spooler.view()
        try:
            tar = tarfile.open(fileobj=stream, mode="r:")  # noqa: SIM115  (read as listed)
        except _Bomb as exc:
            yield SourceEntry(NOT_LISTED, problem=f"{exc} (an archive bomb?); not listed",
                              status="refused")
            return
        except _STREAM_ERRORS as exc:
            raise SourceError(f"{self._spec.path} is not a tar archive Homeward can read.",
                              str(exc)) from exc
        completed = yield from self._members(tar, spooler)
        if spooler is not None:
            spooler.finish()
            self._spooled = completed

    def _members(self, tar: tarfile.TarFile, spooler: _Spooler | None) -> Iterator[SourceEntry]:
        """Yields the entries; returns True when the whole archive was listed."""
        seen: set[bytes] = set()
        count = 0
        while True:
            try:
                member = tar.next()
            except _Bomb as exc:
                yield SourceEntry(NOT_LISTED, problem=f"{exc} (an archive bomb?); the rest was "
                                  "not listed", status="refused")
                return False
            except _STREAM_ERRORS as exc:
                yield SourceEntry(NOT_LISTED, problem=f"the archive is damaged here ({exc}); "
                                  "the rest was not listed", status="unreadable")
                return False
            if member is None:
                return True
            tar.members.clear()  # tarfile keeps every member otherwise: memory grows with the count
            if member.isdir():
                continue
            if count == self.limits.max_entries:
                yield _rest_not_listed(count)
                return False
            count += 1
            entry = self._entry(member, seen)
            if spooler is None and entry.locator and member.offset_data + member.size > self._container.size:
                entry = dataclasses.replace(entry, locator=(), status="unreadable",
                                            problem="the archive ends before this entry's data does")
            if spooler is not None:
                try:
                    within = spooler.spool_member(member.offset_data, member.size, self.limits,
                                                  write=entry.problem is None)
                except _Bomb as exc:
                    yield SourceEntry(NOT_LISTED, problem=f"{exc} (an archive bomb?); the rest "
                                      "was not listed", status="refused")
                    return False
                if not within and entry.problem is None:
                    entry = dataclasses.replace(entry, locator=(), problem=_ratio_problem(self.limits),
                                                status="refused")
            yield entry

    def _entry(self, member: tarfile.TarInfo, seen: set[bytes]) -> SourceEntry:
        name = member.name
        if unsafe_name(name):
            return _refused_name(name)
        path = _unique(seen, name.encode("utf-8", "surrogateescape"))
        times = {"mtime": float(member.mtime)}
        for key in ("atime", "ctime"):
            if key in member.pax_headers:
                with contextlib.suppress(ValueError):
                    times[key] = float(member.pax_headers[key])
        problem = None
        if member.issym():
            problem = f"symbolic link to {member.linkname!r}, not followed"
        elif member.islnk():
            problem = f"hard link to {member.linkname!r}, not followed"
        elif not member.isreg():
            problem = "not a regular file (device, pipe or socket)"
        elif member.sparse is not None:
            problem = "sparse file in a tar, which Homeward does not read"
        if problem:
            return SourceEntry(path, **times, problem=problem, status="unsupported")
        if member.size > self.limits.max_member_bytes:
            return SourceEntry(path, member.size, **times,
                               problem=_size_problem(member.size, self.limits), status="refused")
        return SourceEntry(path, member.size, **times, locator=(member.offset_data, member.size))

    def open(self, locator: tuple) -> BinaryIO:
        offset, size = locator
        if self.compression is not None:
            return self._spooled_data(offset + size).view(offset, size)
        if offset + size > self._container.size:
            raise SourceError(f"{self._spec.path} changed since it was listed.",
                              f"an entry at {offset} runs past its end")
        return self._container.view(offset, size)

    def _spooled_data(self, end: int) -> _Shared:
        """The spool: the one this process's listing writes, or the finished one on disk."""
        with self._lock:
            if self._spooler is not None:
                self._spooler.advance(end)
                return self._spooler.shared
            if self._spool is None:
                path = self._spool_file()
                try:
                    stream = open(path, "rb")  # noqa: SIM115  (kept open until close)
                except OSError as exc:
                    raise SourceError(
                        f"the decompressed copy of {self._spec.path} is missing.",
                        f"{path}: {exc.strerror or exc}; list the source again to make it") from exc
                self._spool = _Shared(stream, stream.fileno())
            if self._spool.current_size() < end:
                raise SourceError(f"the decompressed copy of {self._spec.path} is incomplete.",
                                  f"{self._spool_file()}: list the source again to remake it")
            return self._spool

    def facts(self) -> SourceFacts:
        return SourceFacts(TAR, _TAR_FORMATS[self.compression])

    def close(self) -> None:
        for held in (self._spooler, self._spool, self._container):
            if held is not None:
                held.close()


# --- UFDR ----------------------------------------------------------------------------------

REPORT = "report.xml"
_TEXT_LIMIT = 64 * KiB  # longest text kept from one XML element
_TIMES = {"ModifyTime": "mtime", "AccessTime": "atime", "CreationTime": "crtime"}


@dataclass
class _TaggedFile:
    path: str
    deleted: bool
    local: str | None = None
    times: dict = dataclasses.field(default_factory=dict)


class _ReportReader:
    """Streams a Cellebrite report.xml (schema as read by IPED's UfedXmlReader): the
    extraction facts of its header (project attributes, sourceExtractions/extractionInfo,
    caseInformation fields, the top-level metadata sections) and one record per file of
    taggedFiles (original path, deleted state, accessInfo timestamps, "Local Path").

    Any entity declaration is refused: a report never has a DTD, and entities are how an
    XML bomb (billion laughs) or an external-entity read is built."""

    def __init__(self) -> None:
        self.details: dict = {"project": {}, "extractions": [], "case": {}, "metadata": {}}
        self.files: list[_TaggedFile] = []
        self._stack: list[str] = []
        self._text: list[str] | None = None
        self._target: tuple | None = None
        self._file: _TaggedFile | None = None
        self._section = ""
        parser = self._parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._chars
        parser.EntityDeclHandler = self._entity

    def feed(self, data: bytes, final: bool = False) -> list[_TaggedFile]:
        self._parser.Parse(data, final)
        files, self.files = self.files, []
        return files

    def _entity(self, name: str, *_args: object) -> None:
        raise _Refused(f"it declares the entity {name!r} (a report never does; entities are "
                       "how XML bombs are built)")

    def _start(self, name: str, attrs: dict) -> None:
        parent = self._stack[-1] if self._stack else None
        self._stack.append(name)
        if parent is None:
            if name != "project":
                raise _Refused(f"its root element is <{name}>, not a Cellebrite <project>")
            self.details["project"] = {k: v for k, v in attrs.items() if not k.startswith("xmlns")}
        elif name == "extractionInfo" and parent == "sourceExtractions":
            self.details["extractions"].append(dict(attrs))
        elif name == "field" and parent == "caseInformation":
            self._capture(("case", attrs.get("name", "")))
        elif name == "metadata" and parent == "project":
            self._section = attrs.get("section", "")
        elif name == "item" and parent == "metadata" and len(self._stack) == 3:
            self._capture(("metadata", self._section, attrs.get("name", "")))
        elif name == "file" and parent == "taggedFiles":
            self._file = _TaggedFile(attrs.get("path", ""), attrs.get("deleted", "") == "Deleted")
        elif self._file is not None and name == "timestamp" and parent == "accessInfo":
            self._capture(("time", attrs.get("name", ""), attrs.get("formattedTimestamp")))
        elif self._file is not None and name == "item" and attrs.get("name") == "Local Path":
            self._capture(("local",))

    def _capture(self, target: tuple) -> None:
        self._text, self._target = [], target

    def _chars(self, data: str) -> None:
        if self._text is not None and sum(map(len, self._text)) < _TEXT_LIMIT:
            self._text.append(data)

    def _end(self, name: str) -> None:
        self._stack.pop()
        if self._text is not None:
            self._store("".join(self._text).strip()[:_TEXT_LIMIT], self._target)
            self._text = self._target = None
        if name == "file" and self._file is not None:
            self.files.append(self._file)
            self._file = None

    def _store(self, text: str, target: tuple) -> None:
        if target[0] == "case":
            self.details["case"][target[1]] = text
        elif target[0] == "metadata":
            self.details["metadata"].setdefault(target[1], {})[target[2]] = text
        elif target[0] == "time" and target[1] in _TIMES:
            when = xml_time(target[2] or text)
            if when is not None:
                self._file.times[_TIMES[target[1]]] = when
        elif target[0] == "local":
            self._file.local = "/".join(part.strip() for part in text.replace("\\", "/").split("/"))


class _Refused(Exception):
    """report.xml is something Homeward will not read as a Cellebrite report."""


def xml_time(text: str) -> float | None:
    """A report timestamp ("2020-08-08T15:50:58.000+00:00") as UTC epoch seconds; one without
    an offset is read as UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


class UfdrSource(ZipSource):
    """A Cellebrite UFDR: a zip whose report.xml names, for each extracted file, its original
    path on the device, its times and the zip member holding its content. Entries are those
    files under their device paths (leading '/' removed), then every other zip member under
    its zip path, so nothing in the container goes unlisted. Locators are the zip's."""

    format = "UFDR"

    def __init__(self, spec: SourceSpec, limits: ArchiveLimits = LIMITS) -> None:
        super().__init__(spec, limits)
        report = next((info for info in self._members if info.filename == REPORT), None)
        if report is None:
            self.close()
            raise SourceError(f"{spec.path} is not a UFDR.", f"it holds no {REPORT}")
        if report.flag_bits & 0x1:
            self.close()
            raise SourceError(
                f"{spec.path} is a password-protected UFDR, which Homeward cannot read.",
                f"its {REPORT} is encrypted; export the extraction again without a password "
                "(or give Homeward the unprotected UFDR)")
        problem, _status = self._refusal(report)
        if problem:
            self.close()
            raise SourceError(f"the {REPORT} of {spec.path} is refused.", problem)
        self._report = report
        self._details: dict = {}

    def entries(self) -> Iterator[SourceEntry]:
        index_of = {info.filename: i for i, info in enumerate(self._members) if not info.is_dir()}
        named: set[int] = set()
        seen: set[bytes] = set()
        count = 0
        for tagged in self._tagged_files():
            if count == self.limits.max_entries:
                yield _rest_not_listed(count)
                return
            count += 1
            yield self._tagged_entry(tagged, index_of, named, seen)
        for index, info in enumerate(self._members):
            if info.is_dir() or index in named:
                continue
            if count == self.limits.max_entries:
                yield _rest_not_listed(count)
                return
            count += 1
            yield self._entry(index, info, member_path(info), seen)

    def _tagged_entry(self, tagged: _TaggedFile, index_of: dict[str, int], named: set[int],
                      seen: set[bytes]) -> SourceEntry:
        original = tagged.path.lstrip("/")
        index = index_of.get(tagged.local) if tagged.local else None
        if index is None:
            path = _unique(seen, original.encode("utf-8", "surrogateescape"))
            where = f"its content ({tagged.local})" if tagged.local else "its content"
            return SourceEntry(path, **tagged.times, deleted=tagged.deleted,
                               problem=f"listed in {REPORT} but {where} is not in the UFDR",
                               status="unreadable")
        named.add(index)
        info = self._members[index]
        name = original if original and not unsafe_name(original) else info.filename
        entry = self._entry(index, info, name.encode("utf-8", "surrogateescape"), seen)
        return dataclasses.replace(entry, deleted=tagged.deleted, **tagged.times)

    def _tagged_files(self) -> Iterator[_TaggedFile]:
        reader = _ReportReader()
        try:
            with self._zip.open(self._report) as xml:
                while chunk := xml.read(CHUNK):
                    yield from reader.feed(chunk)
            yield from reader.feed(b"", final=True)
        except expat.ExpatError as exc:
            raise SourceError(f"the {REPORT} of {self.spec.path} is not well-formed XML.",
                              f"{expat.ErrorString(exc.code)} at line {exc.lineno}, "
                              f"column {exc.offset}") from exc
        except _Refused as exc:
            raise SourceError(f"the {REPORT} of {self.spec.path} is refused.", str(exc)) from exc
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise SourceError(f"the {REPORT} of {self.spec.path} cannot be read.", str(exc)) from exc
        self._details = reader.details

    def facts(self) -> SourceFacts:
        """The extraction as report.xml describes it: {"project": its attributes (report
        version, extraction type...), "extractions": each extractionInfo's attributes (device
        name, type...), "case": caseInformation fields (examiner, case number...),
        "metadata": {section: {item: text}} ("Extraction Data", "Device Info", "Additional
        Fields": device model, extraction dates, UFED version...)}."""
        return SourceFacts(UFDR, "UFDR", self._details)
