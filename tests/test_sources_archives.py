"""Issue 14: zip, tar (plain, gz, bz2, xz) and UFDR containers, and archives nested inside any
source, read in place from real archives of real faces."""

from __future__ import annotations

import calendar
import gzip
import hashlib
import json
import logging
import os
import pickle
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest
from archive_fixtures import (
    BILLION_LAUGHS,
    MTIME,
    SLIP_NAMES,
    UFDR_ACCESSED,
    UFDR_CREATED,
    UFDR_MODIFIED,
    face_folder,
    folder_files,
    make_inflating_zip,
    make_nested,
    make_nested_bomb,
    make_protected_ufdr,
    make_tar,
    make_tar_bomb,
    make_ufdr,
    make_zip,
    make_zip_bomb,
    make_zip_cli,
    make_zip_slip,
    ufdr_device_path,
    ufdr_report,
)

from desktop.sources.archives import (
    ArchiveLimits,
    DamagedMember,
    TarSource,
    ZipSource,
    xml_time,
)
from desktop.sources.base import TAR, UFDR, ZIP, SourceError, SourceSpec
from desktop.sources.detect import close_all, open_source, spec_for
from desktop.sources.nested import NestedSource
from desktop.sources.opener import open_evidence

OLD_ATIME_NS = 1_000_000_000 * 10**9


@pytest.fixture(autouse=True)
def _fresh_cache():
    yield
    close_all()


def _sha(stream) -> str:
    digest = hashlib.sha256()
    with stream:
        while chunk := stream.read(1 << 16):
            digest.update(chunk)
    return digest.hexdigest()


def _folder_view(folder: Path) -> dict[bytes, tuple[int, str]]:
    return {os.fsencode(p.relative_to(folder).as_posix()): (p.stat().st_size,
                                                            hashlib.sha256(p.read_bytes()).hexdigest())
            for p in folder_files(folder)}


def _listing(source) -> dict[bytes, tuple[int, str]]:
    return {e.path_bytes: (e.size, _sha(source.open(e.locator))) for e in source.entries()
            if e.problem is None}


def _fingerprint(path: Path) -> tuple[str, int, int]:
    """Content hash (read without touching atime), mtime and atime."""
    digest = _sha(open_evidence(path))
    found = path.stat()
    return digest, found.st_mtime_ns, found.st_atime_ns


BUILDERS = {
    "zip": lambda folder, dest: make_zip(folder, dest),
    "zip-cli": lambda folder, dest: make_zip_cli(folder, dest),
    "tar": lambda folder, dest: make_tar(folder, dest),
    "tar.gz": lambda folder, dest: make_tar(folder, dest, "gz"),
    "tar.bz2": lambda folder, dest: make_tar(folder, dest, "bz2"),
    "tar.xz": lambda folder, dest: make_tar(folder, dest, "xz"),
}


@pytest.mark.parametrize("fmt", list(BUILDERS))
def test_listing_equals_the_folder_and_leaves_the_container_untouched(tmp_path: Path, fmt: str) -> None:
    """Issue 14: every archive kind lists the folder's files (paths, sizes, SHA-256 of each
    opened stream) and neither listing nor reading changes the container (bytes, mtime, atime)."""
    folder = face_folder(tmp_path)
    container = BUILDERS[fmt](folder, tmp_path)
    os.utime(container, ns=(OLD_ATIME_NS, container.stat().st_mtime_ns))
    before = _fingerprint(container)
    spec = SourceSpec(ZIP if fmt.startswith("zip") else TAR, str(container),
                      options=(("scratch", str(tmp_path / "scratch")),))
    with open_source(spec) as source:
        assert _listing(source) == _folder_view(folder)
        assert source.facts().format == fmt.removesuffix("-cli")
    assert _fingerprint(container) == before


@pytest.mark.parametrize("fmt", list(BUILDERS))
def test_every_archive_kind_is_detected_by_content(tmp_path: Path, fmt: str) -> None:
    """Issue 14: detect.archive_kind opened a .tar.bz2 and .tar.xz with
    BZ2File(fileobj=...) / LZMAFile(fileobj=...), a TypeError: those were not detected."""
    container = BUILDERS[fmt](face_folder(tmp_path), tmp_path)
    assert spec_for(container).kind == (ZIP if fmt.startswith("zip") else TAR)


def test_entry_times_come_from_the_archive(tmp_path: Path) -> None:
    """Issue 14: zip members carry DOS times (read as UTC) or, from Info-ZIP, the extended
    timestamp (true UTC, preferred); tar members their header mtime."""
    folder = face_folder(tmp_path)
    mtimes = {os.fsencode(p.relative_to(folder).as_posix()): p.stat().st_mtime
              for p in folder_files(folder)}
    dos = {path: float(calendar.timegm(time.localtime(mtime)[:6])) for path, mtime in mtimes.items()}
    cli_zip = make_zip_cli(folder, tmp_path)
    assert b"UT" in cli_zip.read_bytes()  # the 0x5455 extra field is there to prefer
    for container, expected in ((make_zip(folder, tmp_path), dos), (cli_zip, mtimes),
                                (make_tar(folder, tmp_path, "gz"), mtimes)):
        with open_source(spec_for(container, tmp_path)) as source:
            assert {e.path_bytes: e.mtime for e in source.entries()} == expected, container.name
    assert min(mtimes.values()) == MTIME


_CHILD = """
import hashlib, json, pickle, sys
from desktop.sources.detect import open_entry
out = {}
for key, spec, locator in pickle.load(sys.stdin.buffer):
    digest = hashlib.sha256()
    with open_entry(spec, locator) as stream:
        while chunk := stream.read(65536):
            digest.update(chunk)
    out[key] = digest.hexdigest()
print(json.dumps(out))
"""


def test_a_fresh_process_opens_entries_from_the_pickled_spec_and_locator(tmp_path: Path) -> None:
    """Issue 14: workers re-open a source from its spec; zip, tar.gz (through its spool) and
    nested entries give the same bytes in a fresh interpreter."""
    folder = face_folder(tmp_path)
    scratch = tmp_path / "scratch"
    jobs, expected = [], {}
    for container in (make_zip(folder, tmp_path), make_tar(folder, tmp_path, "gz"),
                      make_nested(folder, tmp_path)):
        source = NestedSource(open_source(spec_for(container, scratch)))
        listed = [e for e in source.entries() if e.problem is None]
        for entry in listed:
            key = f"{container.name}:{entry.rel_path}"
            expected[key] = _sha(source.open(entry.locator))
            jobs.append((key, source.spec, entry.locator))
        source.close()
    assert any("deep.zip/" in key for key in expected)
    result = subprocess.run([sys.executable, "-c", _CHILD], input=pickle.dumps(jobs),
                            capture_output=True, check=True, cwd=Path(__file__).parents[1])
    assert json.loads(result.stdout) == expected


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_threads_read_one_source_concurrently(tmp_path: Path, fmt: str) -> None:
    """Issue 14: open() is safe from several threads at once on one source object."""
    folder = face_folder(tmp_path)
    with open_source(spec_for(BUILDERS[fmt](folder, tmp_path), tmp_path)) as source:
        entries = list(source.entries())
        expected = {e.path_bytes: _sha(source.open(e.locator)) for e in entries}
        results, errors = [], []

        def read_all() -> None:
            try:
                for _ in range(3):
                    results.append({e.path_bytes: _sha(source.open(e.locator)) for e in entries})
            except Exception as exc:  # reported by the assert below
                errors.append(exc)

        threads = [threading.Thread(target=read_all) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    assert len(results) == 24 and all(found == expected for found in results)


def test_a_tar_gz_is_decompressed_once_into_a_spool_that_reads_serve(tmp_path: Path) -> None:
    """Issue 14: a compressed tar is spooled, decompressed, into the scratch folder while it is
    listed; `spec` then names the spool, and reads (in any process) come from it."""
    folder = face_folder(tmp_path)
    container = make_tar(folder, tmp_path, "gz")
    scratch = tmp_path / "scratch"
    source = open_source(spec_for(container, scratch))
    assert source.spec.option("spool") is None
    entries = list(source.entries())
    spool = Path(source.spec.option("spool"))
    source.close()
    assert spool.parent == scratch
    decompressed = gzip.decompress(container.read_bytes())
    assert spool.read_bytes()[:len(decompressed)] == decompressed[:spool.stat().st_size]
    first = entries[0]
    offset, size = first.locator
    original = spool.read_bytes()
    spool.write_bytes(original[:offset] + bytes(size) + original[offset + size:])
    for spec in (source.spec, spec_for(container, scratch)):  # named, or found by identity
        with TarSource(spec) as fresh:
            assert fresh.open(first.locator).read() == bytes(size)
    spool.write_bytes(original)
    with TarSource(source.spec) as fresh:
        assert _listing(fresh) == _folder_view(folder)


def test_nested_archives_are_listed_to_max_depth(tmp_path: Path, caplog) -> None:
    """Issue 14: zip-in-tar.gz-in-zip is listed as outer paths joined by '/', readable; past
    max_depth the archive is listed without children and a warning says so."""
    folder = face_folder(tmp_path)
    outer = make_nested(folder, tmp_path)
    expected = _folder_view(folder)
    spec = spec_for(outer, tmp_path / "scratch")
    with NestedSource(open_source(spec)) as source:
        listing = _listing(source)
    assert {p.removeprefix(b"inner.tar.gz/deep.zip/"): v for p, v in listing.items()
            if p.startswith(b"inner.tar.gz/deep.zip/")} == expected
    assert {p.removeprefix(b"direct/"): v for p, v in listing.items()
            if p.startswith(b"direct/")} == expected
    assert b"inner.tar.gz" in listing and b"inner.tar.gz/deep.zip" in listing
    caplog.set_level(logging.WARNING, "desktop.sources.nested")
    with NestedSource(open_source(spec), max_depth=1) as source:
        shallow = _listing(source)
    assert b"inner.tar.gz/deep.zip" in shallow
    assert not any(p.startswith(b"inner.tar.gz/deep.zip/") for p in shallow)
    assert "inner.tar.gz/deep.zip" in caplog.text and "not listed" in caplog.text


def test_names_that_would_leave_the_archive_are_refused_and_never_read(tmp_path: Path) -> None:
    """Issue 14 (zip slip): absolute names, drive letters and '..' components (with '/' or
    '\\') are listed as refused, with no locator; the good members still read."""
    folder = face_folder(tmp_path)
    with open_source(spec_for(make_zip_slip(folder, tmp_path), tmp_path)) as source:
        entries = list(source.entries())
        refused = [e for e in entries if e.problem]
        assert len(refused) == len(SLIP_NAMES)
        assert all(e.status == "refused" and "leave the archive" in e.problem and e.locator == ()
                   and not e.path_bytes.startswith(b"/") for e in refused)
        assert _listing(source) == _folder_view(folder)


def test_an_encrypted_member_is_listed_as_unsupported(tmp_path: Path) -> None:
    """Issue 14: members encrypted by `zip -P` are listed with "encrypted archive member (no
    password)"; unencrypted members of the same archive read."""
    folder = face_folder(tmp_path)
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "hidden.jpg").write_bytes(folder_files(folder)[0].read_bytes())
    container = make_zip_cli(secret, tmp_path, "mixed.zip", password="pw")
    with zipfile.ZipFile(container, "a") as archive:
        for file in folder_files(folder):
            archive.write(file, file.relative_to(folder).as_posix())
    with open_source(spec_for(container, tmp_path)) as source:
        hidden = [e for e in source.entries() if e.path_bytes == b"hidden.jpg"]
        assert [(e.problem, e.status) for e in hidden] == [
            ("encrypted archive member (no password)", "unsupported")]
        assert _listing(source) == _folder_view(folder)


def test_a_zip_bomb_member_is_refused_without_inflating_it(tmp_path: Path) -> None:
    """Issue 14: a 300 MB member of zeros deflated ~1000:1 is refused by its ratio, at once;
    the photos beside it read."""
    folder = face_folder(tmp_path)
    container = make_zip_bomb(folder, tmp_path)
    started = time.monotonic()
    with open_source(spec_for(container, tmp_path)) as source:
        bomb = [e for e in source.entries() if e.path_bytes == b"bomb.bin"]
        assert time.monotonic() - started < 5
        assert bomb[0].status == "refused" and "200 times" in bomb[0].problem
        assert _listing(source) == _folder_view(folder)
    with ZipSource(SourceSpec(ZIP, str(container)), ArchiveLimits(max_member_bytes=10**8)) as source:
        bomb = [e for e in source.entries() if e.path_bytes == b"bomb.bin"]
        assert bomb[0].status == "refused" and "over the 100,000,000-byte limit" in bomb[0].problem


def test_a_member_that_inflates_past_its_declared_size_fails_to_read(tmp_path: Path) -> None:
    """Issue 14: reading never yields more than the declared size; a member whose data
    inflates further raises DamagedMember (an OSError) instead of filling memory."""
    folder = face_folder(tmp_path)
    with open_source(spec_for(make_inflating_zip(folder, tmp_path), tmp_path)) as source:
        liar = next(e for e in source.entries() if e.path_bytes == b"liar.bin")
        assert liar.size == 1000 and liar.problem is None
        stream = source.open(liar.locator)
        with pytest.raises(DamagedMember):
            stream.read()
        assert _listing(_WithoutLiar(source)) == _folder_view(folder)


class _WithoutLiar:
    """The source with liar.bin left out, for the listing comparison."""

    def __init__(self, source) -> None:
        self.source = source

    def entries(self):
        return (e for e in self.source.entries() if e.path_bytes != b"liar.bin")

    def open(self, locator):
        return self.source.open(locator)


def test_a_tar_gz_bomb_is_refused_and_not_spooled(tmp_path: Path) -> None:
    """Issue 14: a tar.gz member of 300 MB zeros is refused by its ratio while it is
    decompressed, and not written to the spool; the photos after it read."""
    folder = face_folder(tmp_path)
    container = make_tar_bomb(folder, tmp_path)
    with open_source(spec_for(container, tmp_path / "scratch")) as source:
        entries = list(source.entries())
        bomb = entries[0]
        assert bomb.path_bytes == b"bomb.bin" and bomb.status == "refused"
        assert "200 times" in bomb.problem and bomb.locator == ()
        assert _listing(source) == _folder_view(folder)
        spool = Path(source.spec.option("spool"))
    assert spool.stat().st_blocks * 512 < 50 * 10**6  # sparse where the bomb was skipped


def test_tar_limits_links_and_devices(tmp_path: Path) -> None:
    """Issue 14: tar members over the size limit are refused, past the entry limit the rest is
    noted as not listed, and links and devices are listed as unsupported."""
    folder = face_folder(tmp_path)
    container = make_tar(folder, tmp_path)
    with tarfile.open(container, "a") as archive:
        for name, kind in (("link.jpg", tarfile.SYMTYPE), ("hard.jpg", tarfile.LNKTYPE),
                           ("tty", tarfile.CHRTYPE), ("pipe", tarfile.FIFOTYPE)):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "people/x.jpg"
            archive.addfile(info)
    spec = SourceSpec(TAR, str(container))
    with TarSource(spec) as source:
        odd = {e.path_bytes: (e.status, e.problem) for e in source.entries() if e.problem}
        assert set(odd) == {b"link.jpg", b"hard.jpg", b"tty", b"pipe"}
        assert {status for status, _ in odd.values()} == {"unsupported"}
        assert "symbolic link" in odd[b"link.jpg"][1] and "hard link" in odd[b"hard.jpg"][1]
        assert _listing(source) == _folder_view(folder)
    largest = max(p.stat().st_size for p in folder_files(folder))
    with TarSource(spec, ArchiveLimits(max_member_bytes=largest - 1, max_entries=5)) as source:
        entries = list(source.entries())
    assert len(entries) == 6 and entries[-1].status == "refused"
    assert "more than 5 entries" in entries[-1].problem
    assert any(e.status == "refused" and "limit" in e.problem for e in entries[:-1])


def test_zip_entry_limit_and_duplicate_names(tmp_path: Path) -> None:
    """Issue 14: past max_entries one note says the rest was not listed; duplicate names are
    all kept, the later ones as "name (2).ext"."""
    folder = face_folder(tmp_path)
    photos = folder_files(folder)
    container = tmp_path / "dupes.zip"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(container, "w") as archive:
        for photo in photos[:3]:
            archive.write(photo, "a/photo.jpg")
    with ZipSource(SourceSpec(ZIP, str(container))) as source:
        assert _listing(source) == {
            path: (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
            for path, p in zip((b"a/photo.jpg", b"a/photo (2).jpg", b"a/photo (3).jpg"), photos,
                               strict=False)}
    with ZipSource(SourceSpec(ZIP, str(container)), ArchiveLimits(max_entries=2)) as source:
        entries = list(source.entries())
    assert len(entries) == 3 and "more than 2 entries" in entries[2].problem


def test_a_nested_archive_bomb_is_bounded(tmp_path: Path) -> None:
    """Issue 14: a zip of zips of the same zip (42.zip style) stops at the nested entry and
    byte budgets with a refused note; what was listed before reads."""
    folder = face_folder(tmp_path)
    container = make_nested_bomb(folder, tmp_path, copies=10)
    spec = spec_for(container, tmp_path)
    with NestedSource(open_source(spec), max_entries=60) as source:
        entries = list(source.entries())
        nested = [e for e in entries if b"/" in e.path_bytes and not e.problem]
        notes = [e for e in entries if e.problem]
        assert len(nested) == 60
        assert notes and all(e.status == "refused" and "nested-archive bomb" in e.problem
                             and e.path_bytes.endswith(b"/(not listed)") for e in notes)
        readable = [e for e in nested if e.path_bytes.endswith(b".jpg")]
        assert readable and all(_sha(source.open(e.locator)) for e in readable)
    leaf_size = sum(p.stat().st_size for p in folder_files(folder))
    with NestedSource(open_source(spec), max_bytes=3 * leaf_size) as source:
        entries = list(source.entries())
    listed = sum(e.size for e in entries if b"/" in e.path_bytes and not e.problem)
    assert listed <= 3 * leaf_size and any(e.problem for e in entries)


def test_a_ufdr_lists_device_paths_times_and_extraction_facts(tmp_path: Path) -> None:
    """Issue 14: a UFDR's files are listed under their original device paths, with the
    report's times and deleted state, read from the members report.xml names; members it does
    not name are listed under their zip paths; facts carry the extraction's header."""
    folder = face_folder(tmp_path)
    container = make_ufdr(folder, tmp_path, extra={"files/Image/unlisted.jpg": b"\xff\xd8 x"})
    spec = spec_for(container, tmp_path)
    assert spec.kind == UFDR
    with open_source(spec) as source:
        entries = list(source.entries())
        listing = _listing(source)
        facts = source.facts()
    expected = {ufdr_device_path(path.decode()).lstrip("/").encode(): value
                for path, value in _folder_view(folder).items()}
    assert {p: v for p, v in listing.items() if p in expected} == expected
    assert set(listing) - set(expected) == {b"report.xml", b"files/Image/unlisted.jpg"}
    tagged = [e for e in entries if e.path_bytes in expected]
    assert all((e.mtime, e.atime, e.crtime) == (xml_time(UFDR_MODIFIED), xml_time(UFDR_ACCESSED),
                                                xml_time(UFDR_CREATED)) for e in tagged)
    assert xml_time(UFDR_MODIFIED) == 1660032672.5
    assert [e.deleted for e in tagged] == [False, True] + [False] * (len(tagged) - 2)
    assert facts.format == "UFDR"
    assert facts.details["project"]["extractionType"] == "AdvancedLogical"
    assert facts.details["extractions"][0]["deviceName"] == "Apple iPhone 7 (A1778)"
    assert facts.details["case"]["Examiner name"] == "Det. A. Smith"
    assert facts.details["metadata"]["Device Info"]["DeviceInfoDetectedModel"] == "iPhone 7"
    assert facts.details["metadata"]["Additional Fields"]["UFED_PA_Version"] == "7.40.0.1"
    json.dumps(facts.details)


def test_a_protected_ufdr_is_a_clear_error(tmp_path: Path) -> None:
    """Issue 14: a password-protected UFDR raises SourceError saying so; read as a zip, its
    members are all listed (as encrypted), so nothing goes unrecorded."""
    folder = face_folder(tmp_path)
    container = make_protected_ufdr(folder, tmp_path)
    spec = spec_for(container, tmp_path)
    with pytest.raises(SourceError, match="password-protected UFDR"):
        open_source(spec)
    with ZipSource(SourceSpec(ZIP, spec.path)) as source:
        entries = list(source.entries())
    assert len(entries) == len(folder_files(folder)) + 1
    assert all(e.problem == "encrypted archive member (no password)" for e in entries)


@pytest.mark.parametrize("report, error", [
    (lambda folder: ufdr_report(folder).replace("</taggedFiles>", "</tagged>"), "not well-formed"),
    (lambda folder: BILLION_LAUGHS, "is refused"),
])
def test_a_bad_report_xml_is_a_clear_error(tmp_path: Path, report, error: str) -> None:
    """Issue 14: a malformed report.xml raises SourceError naming the problem and where; a
    billion-laughs report.xml is refused at once, without expanding it. The UFDR's files
    still list and read as a plain zip."""
    folder = face_folder(tmp_path)
    container = make_ufdr(folder, tmp_path, report=report(folder))
    started = time.monotonic()
    with open_source(spec_for(container, tmp_path)) as source, \
            pytest.raises(SourceError, match=error) as raised:
        list(source.entries())
    assert time.monotonic() - started < 5
    assert "line" in raised.value.detail or "entity" in raised.value.detail
    with ZipSource(SourceSpec(ZIP, str(container))) as source:
        listing = _listing(source)
    assert sorted(v for p, v in listing.items() if p != b"report.xml") == sorted(
        _folder_view(folder).values())
