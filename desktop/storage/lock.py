"""One writer per case: an OS lock on `case.db.lock`, which the kernel releases when the
process holding it dies, so a killed scan never locks its case out.

The lock is re-entrant within a process (a scan holds it for its whole run; each of its
transactions, and a decision taken in the same GUI meanwhile, re-enter it). Another process
that wants to write is refused at once with who holds the case: program, process id, since.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from desktop.errors import HomewardError
from desktop.storage.database import utc_now

if sys.platform == "win32":  # pragma: no cover - not testable here
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False


class CaseBusy(HomewardError):
    """Another process is writing to this case."""


_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth)
_guard = threading.Lock()


def program_name() -> str:
    """What to tell a refused writer: the command that holds the case."""
    words = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"]
    words += [w for w in sys.argv[1:2] if not w.startswith("-")]
    return " ".join(words)


def lock_path_of(db: sqlite_utils.Database) -> str:
    main = next(r for r in db.execute("PRAGMA database_list").fetchall() if r[1] == "main")
    return f"{main[2]}.lock"


def holder(lock_path: str) -> str:
    try:
        info = json.loads(Path(lock_path).read_text(encoding="utf-8"))
        return (f"{info['program']} (process {info['pid']} on {info['host']}, "
                f"since {info['since']})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def write_lock(lock_path: str) -> Iterator[bool]:
    """Hold the writer lock at `lock_path` (re-entrant in this process); yields whether this
    call took it (False: this process already held it)."""
    with _guard:
        if lock_path in _held:
            fd, depth = _held[lock_path]
            _held[lock_path] = (fd, depth + 1)
        else:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                os.close(fd)
                raise CaseBusy(f"This case is being written by {holder(lock_path)}.",
                               "wait until it finishes, or stop it; one writer per case")
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"program": program_name(), "pid": os.getpid(),
                                      "host": socket.gethostname(), "since": utc_now()}).encode(), 0)
            _held[lock_path] = (fd, 1)
        first = _held[lock_path][1] == 1
    try:
        yield first
    finally:
        with _guard:
            fd, depth = _held[lock_path]
            if depth > 1:
                _held[lock_path] = (fd, depth - 1)
            else:
                del _held[lock_path]
                os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def case_writer(db: sqlite_utils.Database) -> Iterator[bool]:
    with write_lock(lock_path_of(db)) as first:
        yield first
