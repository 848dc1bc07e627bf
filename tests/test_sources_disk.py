"""Issue 14: raw disk images and E01 images as evidence sources, read through The Sleuth Kit
and libewf, built from real face photos with the real tools (mkfs, mtools, sfdisk,
ewfacquire) and checked against TSK's own `fls` and `mmls`."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import shutil
import threading
from pathlib import Path

import pytest
from disk_fixtures import (
    corrupt_e01,
    e01_image,
    ext4_image,
    fat_image,
    fls_regular_files,
    mmls_slots,
    partitioned_image,
    photo_folder,
)

from desktop.errors import Cancelled
from desktop.sources.base import E01, RAW, SourceError
from desktop.sources.detect import open_entry, open_source, spec_for
from desktop.sources.opener import open_evidence


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def folder_files(folder: Path) -> dict[bytes, Path]:
    return {os.fsencode(p.relative_to(folder).as_posix()): p for p in folder.rglob("*") if p.is_file()}


def listing(path: Path):
    source = open_source(spec_for(path))
    return source, list(source.entries())


def untouched(*paths: Path) -> dict:
    """Times first, then the bytes, read without touching the access time."""
    found = {}
    for path in paths:
        info = os.stat(path)
        with open_evidence(path) as stream:
            found[path] = (info.st_mtime_ns, info.st_atime_ns, sha(stream.read()))
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("disk")
    photos = photo_folder(base / "photos")
    small = base / "small"
    small.mkdir()
    shutil.copytree(photos / "Biden", small / "Biden")
    images = {"photos": photos, "small": small, "ext4": ext4_image(base, photos)}
    (base / "fat").mkdir()
    images["fat"] = fat_image(base / "fat", photos, delete="Obama/obama1.jpg")
    images["mbr"] = partitioned_image(base, photos, small)
    images["gpt"] = partitioned_image(base, photos, small, label="gpt")
    images["e01"] = e01_image(base / "e01", images["ext4"], segment_mb=1)
    return images


def test_ext4_image_lists_the_folder(built):
    """A bare ext4 image lists exactly the folder's files, without a prefix, with their sizes,
    bytes and modification times."""
    source, entries = listing(built["ext4"])
    expected = folder_files(built["photos"])
    assert sorted(e.path_bytes for e in entries) == sorted(expected)
    assert [e.path_bytes for e in entries] == [e.path_bytes for e in listing(built["ext4"])[1]]
    for entry in entries:
        original = expected[entry.path_bytes]
        assert entry.size == original.stat().st_size
        assert entry.mtime == original.stat().st_mtime
        assert entry.crtime is not None and not entry.deleted and entry.problem is None
        with source.open(entry.locator) as stream:
            assert sha(stream.read()) == sha(original.read_bytes())
    assert "Élan_é.jpg".encode() in expected
    facts = source.facts()
    assert (facts.kind, facts.format) == (RAW, "raw (ext4)")
    assert facts.details["partitions"] == [] and facts.details["problems"] == []
    source.close()


def test_fat_deleted_file_is_flagged_and_recovered(built):
    """mdel leaves a FAT file's data in place: TSK recovers it, flagged deleted, byte-exact."""
    source, entries = listing(built["fat"])
    deleted = [e for e in entries if e.deleted]
    assert [e.path_bytes for e in deleted] == [b"Obama/_bama1.jpg"]  # FAT marks the first byte
    with source.open(deleted[0].locator) as stream:
        recovered = stream.read()
    assert sha(recovered) == sha((built["photos"] / "Obama" / "obama1.jpg").read_bytes())
    live = {e.path_bytes for e in entries if not e.deleted}
    assert live == set(folder_files(built["photos"])) - {b"Obama/obama1.jpg"}
    assert source.facts().format == "raw (FAT12)"
    source.close()


@pytest.mark.parametrize("kind", ["ext4", "fat", "mbr"])
def test_listing_equals_fls(built, kind):
    """The listed files are exactly fls -r -p's regular files (see desktop/sources/disk.py)."""
    source, entries = listing(built[kind])
    partitions = mmls_slots(built[kind])
    expected = []
    for address, start, _length in partitions or [(None, 0, 0)]:
        prefix = f"p{address}/" if address is not None else ""
        expected += [prefix + name for name in fls_regular_files(built[kind], start)]
    assert sorted(e.rel_path for e in entries) == sorted(expected)
    source.close()


def test_partitioned_image_prefixes_and_facts(built):
    """Each partition's files under p{N}/, N as mmls numbers it; each partition in the facts."""
    source, entries = listing(built["mbr"])
    slots = mmls_slots(built["mbr"])
    assert [s[0] for s in slots] == [2, 3]
    paths = {e.path_bytes for e in entries}
    assert {b"p3/" + p for p in folder_files(built["small"])} <= paths
    assert {b"p2/" + p for p in folder_files(built["photos"])} <= paths
    facts = source.facts()
    assert facts.format == "raw (MBR)"
    parts = facts.details["partitions"]
    assert [(p["address"], p["start"], p["length"]) for p in parts] == [
        (a, s * 512, n * 512) for a, s, n in slots]
    assert [p["file_system"] for p in parts] == ["FAT12", "ext4"]
    assert parts[0]["slot"] == "000:000" and "FAT" in parts[0]["description"]
    entry = next(e for e in entries if e.path_bytes == b"p3/Biden/biden.jpg")
    with source.open(entry.locator) as stream:
        assert sha(stream.read()) == sha((built["small"] / "Biden" / "biden.jpg").read_bytes())
    source.close()


def test_e01_reads_as_its_raw_image_and_verifies(built):
    """The E01 of the ext4 image: same entries and bytes, its acquisition metadata and stored
    hashes in the facts, and verify() recomputes them."""
    raw_source, raw_entries = listing(built["ext4"])
    source, entries = listing(built["e01"])
    assert source.spec.kind == E01
    assert [(e.path_bytes, e.size, e.mtime) for e in entries] == [
        (e.path_bytes, e.size, e.mtime) for e in raw_entries]
    for entry, raw_entry in zip(entries, raw_entries, strict=True):
        with source.open(entry.locator) as ours, raw_source.open(raw_entry.locator) as theirs:
            assert ours.read() == theirs.read()
    raw = built["ext4"].read_bytes()
    facts = source.facts()
    assert facts.format == "E01 (ext4)"
    details = facts.details
    assert details["acquisition"]["case_number"] == "CASE-14/7"
    assert details["acquisition"]["examiner_name"] == "Examiner Ada"
    assert details["media_size"] == len(raw) and details["segment_count"] > 1
    assert details["stored_hashes"] == {"md5": hashlib.md5(raw).hexdigest(),
                                        "sha1": hashlib.sha1(raw).hexdigest()}
    assert details["verification"] == {"result": "not verified"}
    seen = []
    assert source.verify(progress=lambda done, total: seen.append((done, total))).result == "verified"
    assert seen[-1] == (len(raw), len(raw))
    assert source.facts().details["verification"]["result"] == "verified"
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        source.verify(cancel=stop)
    source.close()
    raw_source.close()


def test_corrupted_e01_fails_its_hash_and_refuses_only_the_damaged_file(built, tmp_path):
    """One flipped byte in one chunk: libewf hands that chunk back zero-filled without an error;
    the source records the damaged range, verify() says mismatch with both values, the file
    in the damaged chunk is refused (never read as zeros) and every other file reads right."""
    copy = tmp_path / "bad"
    shutil.copytree(built["e01"].parent, copy)
    victim = built["photos"] / "Obama" / "obama.jpg"
    corrupt_e01(copy / "evidence.E01", victim.read_bytes()[100_000:100_064])
    source, entries = listing(copy / "evidence.E01")
    assert {e.path_bytes for e in entries} == set(folder_files(built["photos"]))
    result = source.verify()
    assert result.result == "mismatch"
    assert result.computed["md5"] != result.stored["md5"]
    assert result.stored["md5"] == hashlib.md5(built["ext4"].read_bytes()).hexdigest()
    details = source.facts().details
    assert len(details["damaged_ranges"]) == 1
    start, length = details["damaged_ranges"][0]
    assert length == details["chunk_size"]
    assert built["ext4"].read_bytes()[start:start + length].find(
        victim.read_bytes()[100_000:100_064]) >= 0
    expected = folder_files(built["photos"])
    for entry in entries:
        if entry.path_bytes == b"Obama/obama.jpg":
            with pytest.raises(OSError, match="damaged"):
                source.open(entry.locator).read()
        else:
            assert sha(source.open(entry.locator).read()) == sha(expected[entry.path_bytes].read_bytes())
    source.close()


def _never_wrong_bytes(source, entries, expected) -> int:
    """Every entry either reads byte-exact, or carries a problem, or is refused; returns how
    many could not be read."""
    failed = 0
    for entry in entries:
        if entry.problem:
            failed += 1
            continue
        try:
            data = source.open(entry.locator).read()
        except OSError:
            failed += 1
            continue
        assert sha(data) == sha(expected[entry.path_bytes].read_bytes()), entry.path_bytes
    return failed


def test_e01_with_a_missing_segment_reads_what_is_there(built, tmp_path):
    """A segment file missing: libewf raises for its chunks; listing goes on, files there are
    refused, the facts name the missing range, verify() says incomplete."""
    copy = tmp_path / "missing"
    shutil.copytree(built["e01"].parent, copy)
    (copy / "evidence.E03").unlink()
    source, entries = listing(copy / "evidence.E01")
    assert _never_wrong_bytes(source, entries, folder_files(built["photos"])) >= 1
    assert any(_never_wrong_bytes(source, [e], folder_files(built["photos"])) == 0 for e in entries)
    details = source.facts().details
    assert details["segment_files"] == ["evidence.E01", "evidence.E02"]
    assert details["missing_ranges"]
    assert any("segment file is missing" in p for p in details["problems"])
    assert source.verify().result == "incomplete"
    source.close()


def test_e01_with_a_segment_cut_short_never_gives_zeros_as_content(built, tmp_path):
    """A segment file cut short: libewf returns its lost chunks as zeros with no error, and only
    says the segment files are corrupted; those chunks are suspect, so no file is read wrong."""
    copy = tmp_path / "cut"
    shutil.copytree(built["e01"].parent, copy)
    with open(copy / "evidence.E03", "r+b") as segment:
        segment.truncate(300_000)
    source, entries = listing(copy / "evidence.E01")
    assert _never_wrong_bytes(source, entries, folder_files(built["photos"])) >= 1
    details = source.facts().details
    assert details["segment_files_corrupted"] is True
    assert any("corrupted or cut short" in p for p in details["problems"])
    assert source.verify().result in ("mismatch", "incomplete")
    source.close()


def test_e01_first_segment_cut_short_is_a_clear_error(built, tmp_path):
    """The first segment cut short leaves no file system: a SourceError that says why."""
    copy = tmp_path / "cut1"
    shutil.copytree(built["e01"].parent, copy)
    with open(copy / "evidence.E01", "r+b") as segment:
        segment.truncate(300_000)
    with pytest.raises(SourceError, match="no file system") as caught:
        open_source(spec_for(copy / "evidence.E01"))
    assert "corrupted or cut short" in caught.value.detail


def test_damaged_mbr_is_a_clear_error(built, tmp_path):
    """Junk over the MBR's partition entries, and no file system at offset 0: SourceError."""
    image = tmp_path / "bad-mbr.img"
    shutil.copyfile(built["mbr"], image)
    with open(image, "r+b") as out:
        out.seek(446)
        out.write(bytes(range(7, 71)))
    with pytest.raises(SourceError, match="no file system") as caught:
        open_source(spec_for(image))
    assert "no partition table" in caught.value.detail


def test_damaged_gpt_header_is_read_from_the_backup(built, tmp_path):
    """Junk over the primary GPT header: TSK falls back to the protective MBR; the source reads
    the partitions from the backup GPT header and records the problem."""
    _, good = listing(built["gpt"])
    image = tmp_path / "bad-gpt.img"
    shutil.copyfile(built["gpt"], image)
    with open(image, "r+b") as out:
        out.seek(512)
        out.write(b"\xa5" * 92)
    source, entries = listing(image)
    facts = source.facts()
    # TSK numbers the backup table's partitions by its own listing: the same files, p1/ and p2/
    addresses = [p["address"] for p in facts.details["partitions"]]
    assert [p["file_system"] for p in facts.details["partitions"]] == ["FAT12", "ext4"]
    assert {e.path_bytes.split(b"/")[0] for e in entries} == {f"p{a}".encode() for a in addresses}
    assert [e.path_bytes.split(b"/", 1)[1] for e in entries] == [
        e.path_bytes.split(b"/", 1)[1] for e in good]
    assert facts.format == "raw (GPT)"
    assert any("primary GPT header is damaged" in p for p in facts.details["problems"])
    source.close()


def _read_in_child(blob: bytes) -> str:
    spec, locator = pickle.loads(blob)
    with open_entry(spec, locator) as stream:
        return sha(stream.read())


@pytest.mark.parametrize("kind", ["mbr", "e01"])
def test_open_from_a_fresh_process(built, kind):
    """Workers open an entry from the pickled spec and locator alone."""
    source, entries = listing(built[kind])
    entry = next(e for e in entries if e.path_bytes.endswith(b"biden.jpg"))
    blob = pickle.dumps((source.spec, entry.locator))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        digest = pool.apply(_read_in_child, (blob,))
    assert digest == sha((built["photos"] / "Biden" / "biden.jpg").read_bytes())
    source.close()


@pytest.mark.parametrize("kind", ["fat", "e01"])
def test_concurrent_reads_from_threads(built, kind):
    """Eight threads read every entry of one source at once, in small pieces, byte-exact."""
    source, entries = listing(built[kind])
    wanted = {e.path_bytes: sha(source.open(e.locator).read()) for e in entries}
    errors: list[BaseException] = []

    def read_all() -> None:
        try:
            for entry in entries:
                with source.open(entry.locator) as stream:
                    parts = iter(lambda: stream.read(4093), b"")
                    assert sha(b"".join(parts)) == wanted[entry.path_bytes]
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=read_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    source.close()


def test_images_are_never_touched(built):
    """Listing, reading and verifying leave the image and every E01 segment bit-identical,
    with the same modification and access times."""
    segments = sorted(built["e01"].parent.glob("evidence.E*"))
    before = untouched(built["ext4"], built["fat"], *segments)
    for path in (built["ext4"], built["fat"], built["e01"]):
        source, entries = listing(path)
        for entry in entries:
            with source.open(entry.locator) as stream:
                stream.seek(-10, os.SEEK_END)
                stream.read()
        if path == built["e01"]:
            source.verify()
        source.close()
    assert untouched(built["ext4"], built["fat"], *segments) == before
