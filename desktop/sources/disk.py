"""Raw disk images and E01 (EWF) images as evidence sources, read through The Sleuth Kit.

The evidence is read through `open_evidence` only: a raw image directly, an E01 through
libewf (pyewf) over the segment files we open ourselves; TSK (pytsk3) sees either as a
`pytsk3.Img_Info` whose reads come back to Python under one lock, so the source is safe to
share between threads.

Layout: the partition table TSK finds (MBR, GPT, ...), each allocated partition whose file
system TSK opens read as `p{N}/...`, N being the partition's address in TSK's volume listing
(the first column of `mmls`, the number `mmcat` takes); an image without a partition table is
one file system at offset 0, listed without a prefix. A GPT whose primary header is damaged is
read from its backup header; other damaged tables fall back to a file system at offset 0.

Listed files are exactly `fls -r -p`'s regular files: name type REG ("r/" in fls), or no name
type and metadata type REG ("-/r"), allocated and deleted, inside `$OrphanFiles` too, except
FAT's volume label (which TSK shows as a regular file named "... (Volume Label Entry)").
TSK's virtual files ($MBR, $FAT1, $FAT2: "v/v") and directories are not listed. NTFS
alternate data streams are not listed: only a file's default data stream is read.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import pyewf
import pytsk3

from desktop.errors import Cancelled
from desktop.sources.base import E01, EvidenceSource, SourceEntry, SourceError, SourceFacts, SourceSpec
from desktop.sources.opener import EvidenceRefused, open_evidence

_BLOCK = 1 << 20  # bytes read at once when verifying an E01
_FAT_LABEL = b" (Volume Label Entry)"
_VS_NAMES = {pytsk3.TSK_VS_TYPE_DOS: "MBR", pytsk3.TSK_VS_TYPE_GPT: "GPT",
             pytsk3.TSK_VS_TYPE_MAC: "Apple partition map", pytsk3.TSK_VS_TYPE_BSD: "BSD disklabel",
             pytsk3.TSK_VS_TYPE_SUN: "Sun VTOC"}
_FS_NAMES = {"EXT2": "ext2", "EXT3": "ext3", "EXT4": "ext4", "EXFAT": "exFAT", "HFS": "HFS+",
             "ISO9660": "ISO 9660", "FFS1": "UFS1", "FFS1B": "UFS1", "FFS2": "UFS2"}


def open_disk_image(spec: SourceSpec) -> EvidenceSource:
    """The raw or E01 image named by `spec` (SourceError when nothing in it can be read)."""
    return DiskImageSource(spec)


def segment_paths(spec: SourceSpec) -> list[Path]:
    """The files of an E01 segment set, in order (what the container's own hashes cover)."""
    try:
        return [Path(name) for name in pyewf.glob(spec.path)]
    except OSError as exc:
        raise SourceError(f"{spec.path}: the E01 segment files cannot be found.", str(exc)) from exc


def fs_type_name(ftype: int) -> str:
    for name in dir(pytsk3):
        if (name.startswith("TSK_FS_TYPE_") and not name.endswith(("DETECT", "ENUM"))
                and int(getattr(pytsk3, name)) == int(ftype)):
            short = name.removeprefix("TSK_FS_TYPE_")
            return _FS_NAMES.get(short, short)
    return f"file system type {int(ftype)}"


class _Image(pytsk3.Img_Info):
    """What TSK reads: the medium's bytes, one read at a time."""

    def __init__(self, medium: _Medium, lock: threading.RLock) -> None:
        self._medium, self._lock = medium, lock
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def read(self, offset: int, length: int) -> bytes:
        with self._lock:
            return self._medium.read(offset, length)

    def get_size(self) -> int:
        return self._medium.size

    def close(self) -> None:
        """The medium is closed by the source, not by TSK."""


class _Medium:
    """A raw image file: its bytes as they are."""

    def __init__(self, path: str) -> None:
        self.files = [_open_image_file(path)]
        self.size = os.fstat(self.files[0].fileno()).st_size

    def read(self, offset: int, length: int) -> bytes:
        self.files[0].seek(offset)
        return self.files[0].read(max(0, min(length, self.size - offset)))

    def bad_ranges(self) -> list[tuple[int, int]]:
        """(offset, length) of the image's bytes found damaged or missing so far."""
        return []

    def details(self) -> dict:
        return {}

    def close(self) -> None:
        for handle in self.files:
            handle.close()


class _EwfMedium(_Medium):
    """An E01 segment set through libewf. A chunk failing its checksum comes back from
    libewf zero-filled, without an error (libewf records its range); a chunk in a missing
    segment raises, and is handed to TSK as zeros here, its range recorded. Either way TSK
    can go on listing, and a file whose data lies in a recorded range is refused on reading
    (`_FileStream`), never read as made-up zeros."""

    def __init__(self, path: str) -> None:
        try:
            names = pyewf.glob(path)
        except OSError as exc:
            raise SourceError(f"{path}: the E01 segment files cannot be found.", str(exc)) from exc
        self.names = [os.path.basename(n) for n in names]
        self.files = [_open_image_file(n) for n in names]
        self.handle = pyewf.handle()
        try:
            self.handle.open_file_objects(self.files, "r")
        except OSError as exc:
            self.close()
            raise SourceError(f"{path} cannot be opened as an E01 image.", _first_line(exc)) from exc
        self.size = self.handle.get_media_size()
        self.chunk = self.handle.get_chunk_size()
        self.errors = _ChecksumErrors(self.handle)
        self.missing: list[tuple[int, int]] = []
        # A segment file cut short is read back as zeros, without an error or a checksum
        # error: in such a set every all-zero chunk is suspect (an empty chunk looks alike).
        self.truncated = bool(self.errors.segments_corrupted())
        self.suspect: list[tuple[int, int]] = []
        self.read(self.size - 1, 1)  # a set with a segment missing fails at its end

    def read(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        if not self.truncated:
            try:
                return self.handle.read_buffer_at_offset(length, offset)
            except OSError:
                pass
        parts, position = [], offset
        while position < offset + length:  # chunk by chunk: zeros only where data is missing
            step = min(self.chunk - position % self.chunk, offset + length - position)
            try:
                parts.append(self.handle.read_buffer_at_offset(step, position))
                if self.truncated:
                    self._suspect(position)
            except OSError:
                parts.append(bytes(step))
                start = position - position % self.chunk
                lost = (start, min(self.chunk, self.size - start))
                if lost not in self.missing:
                    self.missing.append(lost)
            position += step
        return b"".join(parts)

    def _suspect(self, position: int) -> None:
        start = position - position % self.chunk
        chunk = (start, min(self.chunk, self.size - start))
        if chunk not in self.suspect and not any(self.handle.read_buffer_at_offset(chunk[1], start)):
            self.suspect.append(chunk)

    def bad_ranges(self) -> list[tuple[int, int]]:
        return self.errors.ranges() + self.missing + self.suspect

    def details(self) -> dict:
        stored = {k.lower().replace("-", ""): v for k, v in self.handle.get_hash_values().items()}
        return {
            "acquisition": dict(sorted(self.handle.get_header_values().items())),
            "media_size": self.size,
            "bytes_per_sector": self.handle.get_bytes_per_sector(),
            "chunk_size": self.chunk,
            "segment_files": self.names,
            "segment_count": len(self.names),
            "segment_files_corrupted": self.errors.segments_corrupted(),
            "stored_hashes": stored,
            "checksum_errors_known": self.errors.available,
            "damaged_ranges": [list(r) for r in self.errors.ranges()],
            "missing_ranges": [list(r) for r in _merged(self.missing)],
            "zero_chunks_in_truncated_set": [list(r) for r in _merged(self.suspect)],
        }

    def close(self) -> None:
        handle = getattr(self, "handle", None)
        if handle is not None:
            handle.close()
        super().close()


class _ChecksumErrors:
    """The chunks libewf found failing their checksum, and whether it found a segment file
    cut short. pyewf does not expose these, but the libewf it is built on does: its handle is
    the first field after the Python object header, and the functions are exported from
    pyewf's own library. The pointer is trusted only when libewf's media size through it
    equals pyewf's; otherwise `available` is False and nothing is called."""

    def __init__(self, handle: pyewf.handle) -> None:
        self._lib = ctypes.CDLL(pyewf.__file__)
        pointer = ctypes.c_void_p.from_address(id(handle) + object.__basicsize__).value
        self._handle = ctypes.c_void_p(pointer)
        size = ctypes.c_uint64()
        self.available = bool(pointer) and self._call(
            "libewf_handle_get_media_size", ctypes.byref(size)) == 1 \
            and size.value == handle.get_media_size()
        self._sector = handle.get_bytes_per_sector()

    def _call(self, name: str, *args: object) -> int:
        error = ctypes.c_void_p()
        result = getattr(self._lib, name)(self._handle, *args, ctypes.byref(error))
        if error:
            self._lib.libewf_error_free(ctypes.byref(error))
        return result

    def ranges(self) -> list[tuple[int, int]]:
        """(offset, length) in bytes of each damaged range found by the reads so far."""
        count = ctypes.c_uint32()
        if not self.available or self._call("libewf_handle_get_number_of_checksum_errors",
                                            ctypes.byref(count)) != 1:
            return []
        found = []
        for index in range(count.value):
            start, sectors = ctypes.c_uint64(), ctypes.c_uint64()
            if self._call("libewf_handle_get_checksum_error", ctypes.c_uint32(index),
                          ctypes.byref(start), ctypes.byref(sectors)) == 1:
                found.append((start.value * self._sector, sectors.value * self._sector))
        return found

    def segments_corrupted(self) -> bool | None:
        if not self.available:
            return None
        return self._call("libewf_handle_segment_files_corrupted") == 1


@dataclass(frozen=True)
class Verification:
    """An E01's media data hashed again and compared with what acquisition stored:
    "verified", "mismatch", "incomplete" (segment files missing) or "no stored hash"."""

    result: str
    computed: dict[str, str]  # "md5", "sha1"
    stored: dict[str, str]


@dataclass
class _Volume:
    """One file system in the image: where it starts, its path prefix, TSK's handle on it."""

    prefix: bytes
    offset: int
    fs: pytsk3.FS_Info


class DiskImageSource(EvidenceSource):
    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self._lock = threading.RLock()
        self._medium = _EwfMedium(spec.path) if spec.kind == E01 else _Medium(spec.path)
        self._verification: Verification | None = None
        try:
            self._image = _Image(self._medium, self._lock)
            with self._lock:
                self._table, self._partitions, self._volumes, self._problems = _layout(self._image)
        except BaseException:
            self._medium.close()
            raise
        if not self._volumes:
            problems = self._problems + _medium_problems(self._medium.details())
            self._medium.close()
            raise SourceError(f"{spec.path}: no file system in this image can be read.",
                              "; ".join(problems) or "no partition holds a file system TSK reads")
        self._by_offset = {v.offset: v for v in self._volumes}

    def entries(self) -> Iterator[SourceEntry]:
        for volume in self._volumes:
            yield from self._walk(volume)

    def _walk(self, volume: _Volume) -> Iterator[SourceEntry]:
        """Depth first, sorted by name; each directory inode is entered once (no loops)."""
        root = volume.fs.info.root_inum
        pending: list[tuple[bytes, int]] = [(b"", root)]
        visited = {root}
        while pending:
            rel, inode = pending.pop()
            where = volume.prefix + (rel or b".")
            try:
                with self._lock:
                    folder = volume.fs.open_meta(inode=inode)
                    children = sorted(_children(folder), key=lambda c: c[0])
                    damage = self._damage(volume, folder)
            except (OSError, RuntimeError) as exc:
                yield SourceEntry(where, status="unreadable",
                                  problem=f"folder cannot be read: {_first_line(exc)}")
                continue
            if damage:
                yield SourceEntry(where, status="unreadable",
                                  problem=f"folder lies in {damage}: its listing may be incomplete")
            subfolders = []
            for name, info in children:
                path = rel + b"/" + name if rel else name
                meta = info.info.meta
                if _is_directory(info):
                    if meta is not None and meta.addr not in visited:
                        visited.add(meta.addr)
                        subfolders.append((path, meta.addr))
                elif _is_regular(info) and not name.endswith(_FAT_LABEL):
                    yield _entry(volume, volume.prefix + path, info)
            pending.extend(reversed(subfolders))

    def _damage(self, volume: _Volume, handle: pytsk3.File) -> str | None:
        """Which damaged or missing part of the image the data of `handle` lies in, if any
        (call under the lock)."""
        bad = self._medium.bad_ranges()
        if not bad:
            return None
        block = volume.fs.info.block_size
        for attribute in handle:
            for run in attribute:
                if run.flags & (pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE | pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER):
                    continue
                start, length = volume.offset + run.addr * block, run.len * block
                for bad_start, bad_length in bad:
                    if bad_start < start + length and start < bad_start + bad_length:
                        return (f"a damaged or missing part of the E01 (bytes {bad_start} to "
                                f"{bad_start + bad_length - 1} of the disk)")
        return None

    def open(self, locator: tuple) -> BinaryIO:
        offset, inode = locator
        volume = self._by_offset.get(offset)
        if volume is None:
            raise SourceError(f"{self.spec.path}: no file system at offset {offset}.")
        with self._lock:
            try:
                handle = volume.fs.open_meta(inode=inode)
            except (OSError, RuntimeError) as exc:
                raise OSError(f"inode {inode} cannot be opened: {_first_line(exc)}") from exc
            size = handle.info.meta.size
        stream = _FileStream(handle, size, self._lock, lambda: self._damage(volume, handle))
        return io.BufferedReader(stream, 256 * 1024)

    def verify(self, progress: Callable[[int, int], None] | None = None,
               cancel: threading.Event | None = None) -> Verification:
        """Read the E01's media data once, computing MD5 and SHA-1, and compare them with the
        hashes stored at acquisition (missing data is hashed as the zeros libewf and TSK see).
        Cancelled when `cancel` is set. The result also lands in `facts()`."""
        if not isinstance(self._medium, _EwfMedium):
            raise SourceError("Only an E01 image carries stored hashes to verify against.")
        medium, md5, sha1 = self._medium, hashlib.md5(), hashlib.sha1()
        for offset in range(0, medium.size, _BLOCK):
            if cancel is not None and cancel.is_set():
                raise Cancelled("E01 verification cancelled.")
            with self._lock:
                data = medium.read(offset, _BLOCK)
            md5.update(data)
            sha1.update(data)
            if progress is not None:
                progress(offset + len(data), medium.size)
        computed = {"md5": md5.hexdigest(), "sha1": sha1.hexdigest()}
        stored = {k: v for k, v in medium.details()["stored_hashes"].items() if k in computed and v}
        if medium.missing:
            result = "incomplete"  # segment files missing: the media data cannot all be read
        elif not stored:
            result = "no stored hash"
        elif all(computed[k] == v for k, v in stored.items()):
            result = "verified"
        else:
            result = "mismatch"
        self._verification = Verification(result, computed, stored)
        return self._verification

    def facts(self) -> SourceFacts:
        with self._lock:
            details = self._medium.details()
            problems = list(self._problems) + _medium_problems(details)
        described = self._table or (fs_type_name(self._volumes[0].fs.info.ftype))
        details.update(partition_table=self._table, partitions=self._partitions, problems=problems)
        if isinstance(self._medium, _EwfMedium):
            details["verification"] = (asdict(self._verification) if self._verification
                                       else {"result": "not verified"})
            return SourceFacts(E01, f"E01 ({described})", details)
        return SourceFacts(self.spec.kind, f"raw ({described})", details)

    def close(self) -> None:
        with self._lock:
            self._volumes, self._by_offset = [], {}
            self._medium.close()


class _FileStream(io.RawIOBase):
    """One file's content read through TSK on demand (never the whole file at once).
    `damage` names the damaged part of the image the file lies in: such a file is refused."""

    def __init__(self, handle: pytsk3.File, size: int, lock: threading.RLock,
                 damage: Callable[[], str | None]) -> None:
        self._handle, self._size, self._lock, self._damage, self._pos = handle, size, lock, damage, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        with self._lock:
            try:
                data = self._handle.read_random(self._pos, want)
            except (OSError, RuntimeError) as exc:
                raise OSError(f"content cannot be read at {self._pos}: {_first_line(exc)}") from exc
            damage = self._damage()
        if damage:
            raise OSError(f"content lies in {damage}")
        if len(data) != want:
            raise OSError(f"only {len(data)} of {want} bytes at {self._pos} could be read")
        buffer[:want] = data
        self._pos += want
        return want


def _open_image_file(path: str) -> BinaryIO:
    try:
        return open_evidence(path)
    except EvidenceRefused as exc:
        raise SourceError(f"{path} cannot be read as a disk image.", exc.detail) from exc
    except OSError as exc:
        raise SourceError(f"{path} cannot be read.", exc.strerror or str(exc)) from exc


def _layout(image: _Image) -> tuple[str | None, list[dict], list[_Volume], list[str]]:
    """(partition table name, partition facts, readable file systems, problems found)."""
    problems: list[str] = []
    reason = "the primary GPT header is damaged"
    try:
        table = pytsk3.Volume_Info(image)
    except (OSError, RuntimeError) as exc:
        table, reason = None, _first_line(exc)
    if table is not None and _only_gpt_guard(table):
        problems.append("the primary GPT header is damaged; partitions read from the backup")
        try:
            table = pytsk3.Volume_Info(image, pytsk3.TSK_VS_TYPE_GPT)
        except (OSError, RuntimeError) as exc:
            problems.append(f"the backup GPT header cannot be read either: {_first_line(exc)}")
            table = None
    if table is None:
        try:
            fs = pytsk3.FS_Info(image, offset=0)
        except (OSError, RuntimeError) as exc:
            problems.append(f"no partition table TSK reads ({reason}), "
                            f"and no file system at offset 0 ({_first_line(exc)})")
            return None, [], [], problems
        return None, [], [_Volume(b"", 0, fs)], problems
    partitions, volumes = [], []
    sector = table.info.block_size
    for part in table:
        if not part.flags & pytsk3.TSK_VS_PART_FLAG_ALLOC:
            continue
        record = {"address": part.addr, "slot": f"{part.table_num:03d}:{part.slot_num:03d}",
                  "start": part.start * sector, "length": part.len * sector,
                  "description": part.desc.decode("utf-8", "replace")}
        try:
            fs = pytsk3.FS_Info(image, offset=part.start * sector)
        except (OSError, RuntimeError) as exc:
            record["file_system"], record["problem"] = None, f"no file system TSK reads: {_first_line(exc)}"
        else:
            record["file_system"] = fs_type_name(fs.info.ftype)
            volumes.append(_Volume(f"p{part.addr}/".encode(), part.start * sector, fs))
        partitions.append(record)
    return _VS_NAMES.get(int(table.info.vstype), "partition table"), partitions, volumes, problems


def _only_gpt_guard(table: pytsk3.Volume_Info) -> bool:
    """An MBR holding nothing but GPT's protective entry: TSK fell back from a bad GPT header."""
    allocated = [p for p in table if p.flags & pytsk3.TSK_VS_PART_FLAG_ALLOC]
    return (int(table.info.vstype) == pytsk3.TSK_VS_TYPE_DOS and len(allocated) == 1
            and b"0xee" in allocated[0].desc)


def _children(folder: pytsk3.File) -> list[tuple[bytes, pytsk3.File]]:
    return [(f.info.name.name, f) for f in folder.as_directory()
            if f.info.name.name not in (b".", b"..")]


def _is_directory(handle: pytsk3.File) -> bool:
    kind = handle.info.name.type
    meta = handle.info.meta
    return kind in (pytsk3.TSK_FS_NAME_TYPE_DIR, pytsk3.TSK_FS_NAME_TYPE_VIRT_DIR) or (
        kind == pytsk3.TSK_FS_NAME_TYPE_UNDEF and meta is not None
        and meta.type == pytsk3.TSK_FS_META_TYPE_DIR)


def _is_regular(handle: pytsk3.File) -> bool:
    kind = handle.info.name.type
    meta = handle.info.meta
    return kind == pytsk3.TSK_FS_NAME_TYPE_REG or (
        kind == pytsk3.TSK_FS_NAME_TYPE_UNDEF and meta is not None
        and meta.type == pytsk3.TSK_FS_META_TYPE_REG)


def _entry(volume: _Volume, path: bytes, handle: pytsk3.File) -> SourceEntry:
    name, meta = handle.info.name, handle.info.meta
    name_gone = bool(name.flags & pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
    if meta is None or meta.addr == 0:
        return SourceEntry(path, deleted=name_gone, status="unreadable",
                           problem="deleted, content not recoverable" if name_gone
                           else "no metadata for this name")
    deleted = name_gone or bool(meta.flags & pytsk3.TSK_FS_META_FLAG_UNALLOC)
    times = {k: _time(meta, k) for k in ("mtime", "ctime", "atime", "crtime")}
    if name_gone and meta.flags & pytsk3.TSK_FS_META_FLAG_ALLOC:
        return SourceEntry(path, meta.size, deleted=True, status="unreadable",
                           problem="deleted, content not recoverable (its metadata now "
                                   "belongs to another file)", **times)
    return SourceEntry(path, meta.size, deleted=deleted, locator=(volume.offset, meta.addr), **times)


def _time(meta: object, name: str) -> float | None:
    seconds = getattr(meta, name, 0)
    nanos = getattr(meta, f"{name}_nano", 0) or 0
    return seconds + nanos / 1e9 if seconds or nanos else None


def _medium_problems(details: dict) -> list[str]:
    """What libewf found wrong with the segment files, in words."""
    found = []
    if details.get("segment_files_corrupted"):
        found.append("libewf reports the E01 segment files corrupted or cut short")
    if details.get("missing_ranges"):
        found.append("E01 data cannot be read (a segment file is missing) at bytes "
                     + ", ".join(f"{s}-{s + n - 1}" for s, n in details["missing_ranges"]))
    return found


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent (offset, length) ranges joined, for a short record."""
    joined: list[tuple[int, int]] = []
    for start, length in sorted(ranges):
        if joined and joined[-1][0] + joined[-1][1] >= start:
            last = joined.pop()
            joined.append((last[0], max(last[1], start + length - last[0])))
        else:
            joined.append((start, length))
    return joined


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
