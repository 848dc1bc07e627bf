"""The one evidence opener (desktop/sources/opener.py): every reader of seized files (hashing,
sniffing, decoding, the VICS export) leaves the files' times alone and never blocks on a FIFO."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FACEDATA, require_shared, scanned_case

from desktop.errors import UnreadableMedia
from desktop.hashing import file_digests
from desktop.media.decode import load_image
from desktop.media.metadata import image_metadata
from desktop.media.sniff import sniff
from desktop.report.export import export_report
from desktop.review.decisions import decide
from desktop.review.queue import review_items
from desktop.sources.opener import EvidenceRefused, open_evidence

OLD_ATIME_NS = 1_000_000_000 * 10**9  # 2001: older than any mtime, so relatime WOULD update it


def _photo(folder: Path) -> Path:
    require_shared()
    source = sorted((FACEDATA / "face_recognition" / "Barack_Obama").glob("*.jpg"))[0]
    return Path(shutil.copyfile(source, folder / "seized.jpg"))


def _age(path: Path) -> tuple[int, int]:
    """Set an old access time (mtime kept) and return (atime, mtime) as they now are."""
    found = path.stat()
    os.utime(path, ns=(OLD_ATIME_NS, found.st_mtime_ns))
    found = path.stat()
    return found.st_atime_ns, found.st_mtime_ns


def _times(path: Path) -> tuple[int, int]:
    found = path.stat()
    return found.st_atime_ns, found.st_mtime_ns


def test_a_plain_read_would_change_the_access_time(tmp_path: Path) -> None:
    """The premise of the tests below: on this filesystem an ordinary read updates atime."""
    path = _photo(tmp_path)
    before = _age(path)
    path.read_bytes()
    assert _times(path)[0] != before[0]


def test_hashing_leaves_the_access_and_modification_times_alone(tmp_path: Path) -> None:
    """Issue 12 fault 7: file_digests read evidence with a plain open(), changing its atime."""
    path = _photo(tmp_path)
    before = _age(path)
    digests = file_digests(path, "sha256", "md5")
    assert len(digests["sha256"]) == 64 and len(digests["md5"]) == 32
    assert _times(path) == before


@pytest.mark.parametrize("read", [sniff, load_image, image_metadata], ids=["sniff", "decode", "metadata"])
def test_sniffing_and_decoding_leave_the_times_alone(tmp_path: Path, read: Callable) -> None:
    """Issue 12 fault 7: sniffing and decoding now share hashing's opener; they must still
    not touch the evidence's times."""
    path = _photo(tmp_path)
    before = _age(path)
    read(path)
    assert _times(path) == before


def test_vics_export_leaves_the_source_files_times_alone(tmp_path: Path, test_pack) -> None:
    """Issue 12 fault 7: the VICS export re-reads each confirmed source file (for its SHA1)
    with a plain open(), changing its atime."""
    case, gallery, source = scanned_case(tmp_path, test_pack, "T-7/2026", "Examiner Ada")
    try:
        top = [h for h in review_items(case.db) if h["rank"] == 1]
        decide(case.db, [top[0]["hit_id"], top[1]["hit_id"]], "confirm", "Alice")
        files = sorted(p for p in source.iterdir())
        before = {p: _age(p) for p in files}
        out = tmp_path / "vics.json"
        export_report(case, "json", out)
    finally:
        case.close()
        gallery.close()
    assert '"SHA1": null' not in out.read_text(encoding="utf-8")  # the sources were read
    assert {p: _times(p) for p in files} == before


def _bounded(call: Callable[[], object], fifo: Path, seconds: float = 5.0) -> BaseException | None:
    """Run `call` in a thread; if it hangs opening the FIFO, a writer unblocks it so the test
    fails instead of hanging. Returns what it raised (None if it returned)."""
    outcome: list[BaseException | None] = []
    done = threading.Event()

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # handed to the test to judge
            outcome.append(exc)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    finished = done.wait(seconds)
    while not done.is_set():
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        done.wait(0.2)
    assert finished, "the read blocked on the FIFO"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
@pytest.mark.parametrize("read", [open_evidence, lambda p: file_digests(p, "sha256")],
                         ids=["opener", "hashing"])
def test_a_fifo_is_refused_at_once(tmp_path: Path, read: Callable) -> None:
    """Issue 12 fault 7: hashing opened a FIFO with a plain open(), which blocks forever."""
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    raised = _bounded(lambda: read(fifo), fifo)
    assert isinstance(raised, EvidenceRefused) and raised.message == "not a regular file"


def test_folders_and_missing_files_are_refused(tmp_path: Path) -> None:
    """Issue 12 fault 7: the shared opener keeps the refusals the media readers had."""
    with pytest.raises(EvidenceRefused, match="directory"):
        open_evidence(tmp_path)
    with pytest.raises(FileNotFoundError):
        open_evidence(tmp_path / "gone.jpg")
    with pytest.raises(UnreadableMedia, match="not a regular file"):
        sniff(tmp_path)


def test_a_file_whose_size_changed_is_refused(tmp_path: Path) -> None:
    """Issue 12 fault 7: a caller that knows the listed size gets a refusal, not another file's
    hash."""
    path = _photo(tmp_path)
    size = path.stat().st_size
    assert file_digests(path, "sha256", expected_size=size)
    with path.open("ab") as grown:
        grown.write(b"appended after the scan")
    with pytest.raises(EvidenceRefused, match="changed size"):
        file_digests(path, "sha256", expected_size=size)


@pytest.mark.skipif(not hasattr(os, "O_NOATIME") or os.geteuid() == 0,
                    reason="O_NOATIME on a file one does not own needs a non-root user")
def test_a_file_owned_by_someone_else_is_still_read() -> None:
    """Issue 12 fault 7: O_NOATIME is refused (EPERM) on others' files; read them without it."""
    foreign = Path(os.__file__).resolve()
    assert foreign.stat().st_uid != os.geteuid()
    with open_evidence(foreign) as handle:
        assert handle.read(16)
