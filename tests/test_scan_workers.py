"""Worker pools end a scan instead of hanging: a damaged model file is named before any worker
starts, a worker that cannot load its engine ends the scan with the reason, a killed worker is
replaced a bounded number of times; a killed write leaves no stray file in the case."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FACEDATA, REPO, require_shared

from desktop.cli import main as cli_main
from desktop.engine.engine import EngineOptions
from desktop.engine.pack_store import InstalledPack, resolve_pack
from desktop.errors import EngineError, HomewardError, ModelPackError
from desktop.gallery.fields import PersonFields
from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import PackInfo, import_rows
from desktop.gallery.sources import ImportRow
from desktop.hashing import sha256_file
from desktop.scan.analyze import analyze_paths
from desktop.scan.case import Case, CaseInfo
from desktop.scan.job import ScanJob, ScanSummary

DEADLINE_S = 60  # the old pool never ended these scans; a deadline turns a hang into a failure


@dataclass(frozen=True)
class _Case:
    folder: Path
    gallery: Path


def _case(base: Path, pack: InstalledPack, gallery_pack: InstalledPack, photos: int) -> _Case:
    """A case of `photos` LFW photos for `pack`, and a one-person gallery embedded with
    `gallery_pack` (same id and recognizer as `pack`); both closed, opened by each scan."""
    require_shared()
    source = base / "source"
    source.mkdir()
    for photo in sorted((FACEDATA / "lfw").rglob("*.jpg"))[:photos]:
        shutil.copyfile(photo, source / photo.name)
    gallery = Gallery.create(base / "g.db")
    obama = FACEDATA / "face_recognition" / "Barack_Obama" / "obama.jpg"
    import_rows(gallery, [ImportRow("o", PersonFields(name="Obama"), obama)],
                lambda p: analyze_paths(p, gallery_pack, EngineOptions(), 1),
                PackInfo(gallery_pack.id, gallery_pack.manifest.model_hashes), "t")
    gallery.close()
    case = Case.create(base / "case", CaseInfo(
        "W-1", "tester", str(source), str(base / "g.db"), pack.id, pack.manifest.model_hashes,
        pack.manifest.match_threshold, 2.0, ""))
    case.close()
    return _Case(base / "case", base / "g.db")


@dataclass
class _Ended:
    summary: ScanSummary | None = None
    error: BaseException | None = None


def _run(made: _Case, pack: InstalledPack, seconds: float = DEADLINE_S, **options) -> _Ended:
    """Scan on a thread of its own, as the GUI does; fail (not hang) if it never ends."""
    ended = _Ended()

    def target() -> None:
        case, gallery = Case.open(made.folder), Gallery.open(made.gallery)
        try:
            ended.summary = ScanJob(case, pack, gallery, **options).run()
        except BaseException as exc:  # handed to the test to check
            ended.error = exc
        finally:
            case.close()
            gallery.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the scan did not end within {seconds} s"
    return ended


def _query(made: _Case, sql: str) -> list[tuple]:
    db = sqlite3.connect(made.folder / "case.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _processed(made: _Case) -> int:
    return _query(made, "SELECT COUNT(*) FROM contents WHERE processed_at IS NOT NULL")[0][0]


def _scan_statuses(made: _Case) -> list[str]:
    return [r[0] for r in _query(made, "SELECT status FROM scans ORDER BY id")]


def _damaged_copy(test_pack: InstalledPack, dest: Path) -> tuple[InstalledPack, Path]:
    """The test pack with one byte in the middle of its detector overwritten (same size)."""
    root = shutil.copytree(test_pack.root, dest)
    detector = root / test_pack.manifest.detector.file
    data = bytearray(detector.read_bytes())
    data[len(data) // 2] ^= 0xFF
    detector.write_bytes(bytes(data))
    return resolve_pack(str(root)), detector


def test_damaged_model_file_is_named_before_any_worker_starts(tmp_path, test_pack):
    """Issue 12 fault 5: a byte overwritten in the pack's detector hung the default worker pool
    (workers restarted forever). The scan must refuse the pack, naming the file and its
    SHA-256 mismatch, before any worker starts."""
    pack, detector = _damaged_copy(test_pack, tmp_path / "pack")
    made = _case(tmp_path, pack, test_pack, photos=6)
    started = time.perf_counter()
    ended = _run(made, pack, workers=2)
    assert isinstance(ended.error, ModelPackError), ended
    assert detector.name in ended.error.message and "SHA-256" in ended.error.message
    assert time.perf_counter() - started < 30
    assert _processed(made) == 0 and _scan_statuses(made) == ["failed"]


def test_embed_refuses_a_damaged_model_file(tmp_path, test_pack, capsys):
    """Issue 12 fault 5: `homeward embed` uses the same worker pool; a damaged model is named,
    with a non-zero exit, instead of hanging or embedding with a corrupted network."""
    require_shared()
    root = tmp_path / "pack"
    _, detector = _damaged_copy(test_pack, root)
    photo = FACEDATA / "face_recognition" / "Barack_Obama" / "obama.jpg"
    code = cli_main(["embed", "--pack", str(root), "--workers", "2", str(photo)])
    assert code != 0
    assert detector.name in capsys.readouterr().err


def _hash_valid_but_unloadable(test_pack: InstalledPack, dest: Path) -> InstalledPack:
    """A pack whose detector is not a model at all, yet whose manifest records that file's
    own SHA-256: hash checks pass, loading fails (only inside the workers on a CPU scan)."""
    root = shutil.copytree(test_pack.root, dest)
    detector = root / test_pack.manifest.detector.file
    detector.write_bytes(b"this is not an ONNX model\n" * 200)
    manifest = json.loads((root / "pack.json").read_text(encoding="utf-8"))
    manifest["detector"].update(sha256=sha256_file(detector), size=detector.stat().st_size)
    (root / "pack.json").write_text(json.dumps(manifest), encoding="utf-8")
    return resolve_pack(str(root))


def test_worker_that_cannot_load_its_engine_ends_the_scan_with_the_reason(tmp_path, test_pack):
    """Issue 12 fault 5: a model that fails to load in the workers (valid by hash) restarted
    them forever. The scan must end with the load failure, not retry or hang."""
    pack = _hash_valid_but_unloadable(test_pack, tmp_path / "pack")
    made = _case(tmp_path, pack, test_pack, photos=6)
    ended = _run(made, pack, workers=2)
    assert isinstance(ended.error, EngineError), ended
    assert "could not be loaded" in ended.error.message
    assert _processed(made) == 0 and _scan_statuses(made) == ["failed"]


def _new_children(before: set[int]) -> list[multiprocessing.Process]:
    return [p for p in multiprocessing.active_children() if p.pid not in before]


def test_a_killed_worker_is_replaced_and_the_scan_completes(tmp_path, test_pack):
    """Issue 12 fault 5: a worker killed mid-scan (SIGKILL, as the OOM killer does) lost its
    file and hung the old pool. The file is retried on a fresh worker and the scan finishes."""
    made = _case(tmp_path, test_pack, test_pack, photos=12)
    before = {p.pid for p in multiprocessing.active_children()}
    killed: list[int] = []

    def on_progress(progress) -> None:
        if progress.stage == "analysing" and not killed:
            victim = _new_children(before)[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    ended = _run(made, test_pack, workers=2, on_progress=on_progress)
    assert killed and ended.error is None, ended
    assert _processed(made) == 12 and _scan_statuses(made) == ["finished"]


def test_workers_that_keep_dying_end_the_scan_after_bounded_retries(tmp_path, test_pack):
    """Issue 12 fault 5: workers that die again and again (here: every worker killed as soon
    as it appears) were restarted forever. The scan ends with a clear error instead."""
    made = _case(tmp_path, test_pack, test_pack, photos=12)
    before = {p.pid for p in multiprocessing.active_children()}
    stop = threading.Event()
    kills: list[int] = []

    def killer() -> None:
        while not stop.is_set():
            for child in _new_children(before):
                if child.pid not in kills:
                    os.kill(child.pid, signal.SIGKILL)
                    kills.append(child.pid)
            time.sleep(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        ended = _run(made, test_pack, workers=2)
    finally:
        stop.set()
        thread.join()
    assert isinstance(ended.error, HomewardError), ended
    assert "stopped unexpectedly" in ended.error.message
    assert _scan_statuses(made) == ["failed"]


KILLED_WRITER = """
import os, sys, time
from pathlib import Path
from desktop import fileio
os.replace = lambda *a, **k: time.sleep(600)  # hold the writer between write and rename
fileio.write_atomically(Path(sys.argv[1]), b"half a thumbnail", durable=False)
"""


def test_a_write_killed_midway_leaves_no_stray_file_after_the_next_scan(tmp_path, test_pack):
    """Issue 12 fault 10: a scan killed while writing a thumbnail left its temporary file in
    thumbs/ for good. The next scan of the case sweeps it; crops/ and thumbs/ then hold only
    files named by content hash."""
    made = _case(tmp_path, test_pack, test_pack, photos=4)
    thumbs = made.folder / "thumbs"
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(thumbs / "x.jpg")],
                              cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not (thumbs.is_dir() and any(thumbs.iterdir())):
            assert writer.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    stray = list(thumbs.iterdir())
    assert len(stray) == 1 and stray[0].name != "x.jpg"
    (made.folder / "crops").mkdir(exist_ok=True)
    (made.folder / "crops" / ".x_0.jpg.k3j2h1g0.tmp").touch()  # as earlier versions left it
    # A video copied out of a container for its analysis, left by a killed scan (issue 14).
    (made.folder / "work").mkdir(exist_ok=True)
    (made.folder / "work" / f"{'0' * 64}-k3j2h1g0.video").write_bytes(b"\0" * 1024)
    ended = _run(made, test_pack, workers=1)
    assert ended.error is None, ended
    named = re.compile(r"[0-9a-f]{64}(_f\d+)?(_\d+)?\.jpg")
    left = [p.name for folder in ("crops", "thumbs") for p in (made.folder / folder).iterdir()]
    assert left and all(named.fullmatch(name) for name in left), left
    assert list((made.folder / "work").iterdir()) == []
    assert _query(made, "PRAGMA integrity_check") == [("ok",)]


@pytest.fixture(autouse=True)
def _no_leftover_workers():
    """Every pool is closed when its scan ends: no worker outlives the test."""
    before = {p.pid for p in multiprocessing.active_children()}
    yield
    deadline = time.monotonic() + 10
    while _new_children(before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _new_children(before)
