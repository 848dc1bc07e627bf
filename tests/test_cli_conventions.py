"""Issue 14, the command line's conventions: distinct exit codes produced by real situations,
Ctrl-C that cancels a scan cleanly (no traceback from any process) and resumes, one log file
holding every unexpected traceback and the workers' warnings, and a progress display that
is a redrawn bar on a terminal, plain lines in a pipe, and nothing when quiet."""

from __future__ import annotations

import io
import os
import pty
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import FACEDATA, REPO, TEST_PACK, require_shared

from desktop.cli.progress import ProgressDisplay
from desktop.scan.job import Progress


def homeward(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


def scan_args(source: Path, case: Path, *extra: str) -> list[str]:
    return ["scan", str(source), "--case", str(case), "--pack", TEST_PACK, "--provider", "cpu",
            *extra]


def real_photos(folder: Path, count: int) -> Path:
    """`count` real LFW photos (one face each, mostly) copied into `folder`."""
    require_shared()
    folder.mkdir(parents=True, exist_ok=True)
    for photo in sorted((FACEDATA / "lfw").rglob("*.jpg"))[:count]:
        shutil.copyfile(photo, folder / photo.name)
    return folder


def corrupt_jpeg(path: Path) -> None:
    """A real photo cut in half: a JPEG that cannot be decoded."""
    whole = next(iter(sorted((FACEDATA / "face_recognition" / "Barack_Obama").glob("*.jpg"))))
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def log_text(data_dir: Path, since: int = 0) -> str:
    log = data_dir / "logs" / "homeward.log"
    return log.read_bytes()[since:].decode("utf-8", "replace") if log.exists() else ""


def log_size(data_dir: Path) -> int:
    log = data_dir / "logs" / "homeward.log"
    return log.stat().st_size if log.exists() else 0


def test_help_documents_every_exit_code_and_the_log_file(isolated_data_dir):
    done = homeward("--help")
    assert done.returncode == 0
    codes = [line.split()[0] for line in done.stdout.split("exit codes:")[1].splitlines()
             if line[:2] == "  " and line.split() and line.split()[0].isdigit()]
    assert codes == ["0", "1", "2", "3", "4", "130"]
    assert str(isolated_data_dir / "logs" / "homeward.log") in done.stdout


def test_a_scan_exits_0_and_1_only_when_files_could_not_be_examined(test_pack, tmp_path):
    """Issue 14: a scan with corrupt files ended with 0, like one where every file was read.
    A photo without a face is a finding, not a problem: still 0."""
    from PIL import Image

    source = real_photos(tmp_path / "source", 3)
    Image.new("RGB", (200, 200), "white").save(source / "wall.png")
    clean = homeward(*scan_args(source, tmp_path / "case", "--workers", "1", "--quiet"))
    assert clean.returncode == 0, clean.stderr
    corrupt_jpeg(source / "broken.jpg")
    problems = homeward(*scan_args(source, tmp_path / "case", "--workers", "1", "--quiet"))
    assert problems.returncode == 1, problems.stderr
    assert "1 file(s) could not be examined" in problems.stderr
    assert "Traceback" not in problems.stderr


def test_usage_errors_exit_2(isolated_data_dir, tmp_path):
    assert homeward("scan", str(tmp_path)).returncode == 2  # argparse: --case missing
    bad = homeward("audit", "verify", "--case", str(tmp_path), "--expect-head", "zz")
    assert bad.returncode == 2 and "64 hexadecimal" in bad.stderr  # InvalidArguments


def test_a_case_held_by_another_writer_is_refused_with_3(test_pack, tmp_path):
    """Issue 14: refusals exited 2, the same as a mistyped command."""
    source = real_photos(tmp_path / "source", 2)
    case = tmp_path / "case"
    assert homeward(*scan_args(source, case, "--workers", "1", "--quiet")).returncode == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from desktop.scan.case import Case\n"
         f"c = Case.open({str(case)!r})\nwith c.writing():\n    print('held', flush=True)\n"
         "    time.sleep(600)"], stdout=subprocess.PIPE, text=True, cwd=REPO,
        start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = homeward(*scan_args(source, case, "--workers", "1", "--quiet"))
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    assert refused.returncode == 3, refused.stderr
    assert f"process {holder.pid}" in refused.stderr


def test_a_tampered_case_fails_audit_verify_with_3(test_pack, tmp_path):
    """Issue 14: an audit trail that does not verify is an integrity failure (3), not a run
    that finished with problems (1)."""
    source = real_photos(tmp_path / "source", 2)
    case = tmp_path / "case"
    assert homeward(*scan_args(source, case, "--workers", "1", "--quiet")).returncode == 0
    assert homeward("audit", "verify", "--case", str(case)).returncode == 0
    conn = sqlite3.connect(case / "case.db")
    for trigger in ("audit_no_update", "audit_no_delete", "audit_no_replace"):
        conn.execute(f"DROP TRIGGER {trigger}")  # as an attacker with a database tool would
    conn.execute("DELETE FROM audit WHERE seq = 2")
    conn.commit()
    conn.close()
    tampered = homeward("audit", "verify", "--case", str(case))
    assert tampered.returncode == 3, tampered.stderr
    assert "a row was deleted" in tampered.stderr


def test_an_unexpected_error_exits_4_with_its_traceback_in_the_log_file(test_pack, tmp_path,
                                                                         isolated_data_dir):
    """Issue 14: a bug printed a bare traceback and exited 1 like a finished run with problems.
    A case record missing one of its tables (dropped by hand, or an unfinished copy) meets code
    that no HomewardError covers."""
    source = real_photos(tmp_path / "source", 2)
    case = tmp_path / "case"
    assert homeward(*scan_args(source, case, "--workers", "1", "--quiet")).returncode == 0
    conn = sqlite3.connect(case / "case.db")
    conn.execute("DROP TABLE hits")
    conn.commit()
    conn.close()
    before = log_size(isolated_data_dir)
    done = homeward("hits", "--case", str(case))
    assert done.returncode == 4
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2
    log = isolated_data_dir / "logs" / "homeward.log"
    assert str(log) in done.stderr
    logged = log_text(isolated_data_dir, before)
    assert "Traceback" in logged and "no such table: hits" in logged
    assert f"pid {os.getpid()}" not in logged and " pid " in logged


def _damaged_video(path: Path) -> None:
    """A real clip whose second half of frame data is zeroed (its index intact): it opens
    and decodes up to the damage, then stops, with a warning."""
    data = bytearray((FACEDATA / "videos" / "short_hamilton_clip.mp4").read_bytes())
    index = data.find(b"moov") - 4  # this clip keeps its index after the frames
    start = data.find(b"mdat") + 4
    damage = start + (index - start) // 2
    data[damage:index] = bytes(index - damage)
    path.write_bytes(bytes(data))


def test_worker_warnings_go_to_the_log_file(test_pack, tmp_path, isolated_data_dir):
    """Issue 14: spawned workers inherit no logging, so their warnings were lost to the log."""
    source = real_photos(tmp_path / "source", 2)
    _damaged_video(source / "cut.mp4")
    before = log_size(isolated_data_dir)
    done = homeward(*scan_args(source, tmp_path / "case", "--workers", "2", "--quiet"))
    assert done.returncode in (0, 1), done.stderr
    logged = log_text(isolated_data_dir, before)
    warnings = [line for line in logged.splitlines() if "cut.mp4" in line and "WARNING" in line]
    assert warnings, logged
    main_pid = next(line.split(" pid ")[1].split()[0] for line in logged.splitlines()
                    if "INFO desktop.cli: homeward" in line)
    assert all(f" pid {main_pid} " not in line for line in warnings)  # from a worker


def _scan_rows(case: Path) -> list[str]:
    conn = sqlite3.connect(case / "case.db")
    try:
        return [r[0] for r in conn.execute("SELECT status FROM scans ORDER BY id")]
    finally:
        conn.close()


def test_ctrl_c_cancels_a_scan_cleanly_and_the_next_run_resumes(test_pack, tmp_path):
    """Issue 14: Ctrl-C printed a traceback from every worker and the scan row stayed
    'running'. Now: one line, exit 130, the scan recorded as cancelled, the trail intact; the
    same command again completes with every file examined once."""
    source = real_photos(tmp_path / "source", 40)
    case = tmp_path / "case"
    scan = subprocess.Popen([sys.executable, "-m", "desktop",
                             *scan_args(source, case, "--workers", "2")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    lines: list[str] = []
    analysing = threading.Event()

    def read() -> None:
        for line in scan.stderr:
            lines.append(line)
            if line.startswith("analysing"):
                analysing.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert analysing.wait(300), "".join(lines)
    scan.send_signal(signal.SIGINT)
    assert scan.wait(120) == 130, "".join(lines)
    reader.join(10)
    stderr = "".join(lines)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert "interrupted; run the same command again to resume" in stderr
    assert _scan_rows(case) == ["cancelled"]
    assert homeward("audit", "verify", "--case", str(case)).returncode == 0
    again = homeward(*scan_args(source, case, "--workers", "2", "--quiet"))
    assert again.returncode == 0, again.stderr
    assert _scan_rows(case) == ["cancelled", "finished"]
    conn = sqlite3.connect(case / "case.db")
    try:
        assert conn.execute("SELECT COUNT(*) FROM files WHERE status IS NULL").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 40
        assert conn.execute("SELECT COUNT(*) FROM (SELECT 1 FROM faces GROUP BY content_id, "
                            "frame_index, box HAVING COUNT(*) > 1)").fetchone()[0] == 0
    finally:
        conn.close()


def _on_a_terminal(args: list[str]) -> tuple[int, str]:
    """Run `homeward` with stderr on a pseudo-terminal; its exit code and what it drew."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "desktop", *args], stdout=subprocess.PIPE,
                               stderr=secondary, cwd=REPO)
    os.close(secondary)
    drawn = bytearray()
    while True:
        ready, _, _ = select.select([primary], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            drawn += chunk
        elif process.poll() is not None:
            break
    os.close(primary)
    return process.wait(60), drawn.decode("utf-8", "replace")


def test_progress_is_a_redrawn_bar_on_a_terminal_and_plain_lines_in_a_pipe(test_pack, tmp_path):
    """Issue 14: the same carriage-return line went to pipes (one huge line in a CI log), and a
    terminal showed "ETA 0:07" at 100%."""
    source = real_photos(tmp_path / "source", 12)
    code, drawn = _on_a_terminal(scan_args(source, tmp_path / "tty", "--workers", "2"))
    assert code == 0, drawn
    assert "\r" in drawn and "\x1b[K" in drawn and "analysing: " in drawn
    frames = [frame for frame in drawn.replace("\n", "\r").split("\r") if "analysing" in frame]
    assert any("[#" in frame and "ETA " in frame for frame in frames), frames
    finished = [frame for frame in frames if "12/12" in frame]
    assert finished and all("ETA" not in frame for frame in finished), finished
    piped = homeward(*scan_args(source, tmp_path / "pipe", "--workers", "2"))
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr and "\x1b" not in piped.stderr
    progress = [line for line in piped.stderr.splitlines() if line.startswith("analysing: ")]
    assert progress and progress[-1].startswith("analysing: 12/12 100%")
    assert "ETA" not in progress[-1]
    quiet = homeward(*scan_args(source, tmp_path / "quiet", "--workers", "2", "--quiet"))
    assert quiet.returncode == 0, quiet.stderr
    assert not any(stage in quiet.stderr for stage in ("listing", "hashing", "analysing", "done:"))


def test_the_display_keeps_a_pipe_readable_and_never_shows_an_eta_when_finished():
    """Issue 14: plain output must not flood a log: at most one line per PLAIN_S and one at
    each stage change and stage end; a stage at 100% shows no ETA even if the rate lags."""
    now = [0.0]
    out = io.StringIO()
    display = ProgressDisplay(out, tty=False, clock=lambda: now[0])
    for done in range(1, 101):
        now[0] += 0.25
        display(Progress("analysing", done, 100, done, 4.0, 7.0))  # a lagging ETA, to the end
    display(Progress("people", 0, 1, 100, 0.0, None))
    display(Progress("done", 1, 1, 100, 0.0, 0.0))
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines[:-2]] == [  # the first, then every 5 s, the end
        "1/100", "21/100", "41/100", "61/100", "81/100", "100/100"]
    assert lines[0] == "analysing: 1/100   1% 4.0/s ETA 0:07 faces 1"
    assert lines[-3] == "analysing: 100/100 100% 4.0/s faces 100"
    assert lines[-2:] == ["people...", "done: 100 faces in the case"]


@pytest.mark.parametrize("tty", [True, False])
def test_quiet_shows_nothing(tty):
    out = io.StringIO()
    display = ProgressDisplay(out, quiet=True, tty=tty)
    display(Progress("analysing", 1, 2, 0, 1.0, 1.0))
    display.close()
    assert out.getvalue() == ""


def test_the_gui_error_dialog_names_the_log_file_holding_the_traceback(qtbot, tmp_path):
    """Issue 14: the dialog for an unexpected error said nothing of where its details were."""
    from PySide6.QtWidgets import QWidget

    from desktop.logfile import LogSetup
    from desktop.ui.dialogs import show_failure
    from desktop.ui.tasks import TaskRunner

    def broken(control):
        raise ZeroDivisionError("boom")

    log = tmp_path / "logs" / "homeward.log"
    LogSetup(log).apply()
    try:
        runner, failures = TaskRunner(), []
        runner.start("broken", broken, on_failure=failures.append)
        qtbot.waitUntil(lambda: bool(failures), timeout=10_000)
        parent = QWidget()
        qtbot.addWidget(parent)
        box = show_failure(parent, failures[0])
        assert str(log) in box.informativeText()
        assert "Traceback" in log.read_text() and "ZeroDivisionError: boom" in log.read_text()
    finally:
        LogSetup.stop()
