"""The log file every `homeward` process writes to: the command's own process and its worker
processes alike (spawned workers inherit no handlers, so each sets the same up again), so an
unexpected error's traceback and a worker's warnings are in one place the user can send."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from dataclasses import dataclass
from pathlib import Path

from desktop.userdirs import log_dir

LOG_NAME = "homeward.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5
FILE_FORMAT = "%(asctime)s pid %(process)d %(levelname)s %(name)s: %(message)s"
STDERR_FORMAT = "%(levelname)s %(name)s: %(message)s"
FILE_ONLY = {"file_only": True}  # `extra=` of a record that is for the log file, not stderr


def log_file() -> Path:
    return log_dir() / LOG_NAME


@dataclass(frozen=True)
class LogSetup:
    """Where a process logs: the file (None: none) and the least level shown on stderr."""

    file: Path | None
    stderr_level: int = logging.WARNING

    @classmethod
    def current(cls) -> LogSetup | None:
        """This process's, as `apply` left it (None: it never called it); given to workers."""
        return _applied

    def apply(self) -> LogSetup:
        """Route this process's logging: INFO and above to the file, rotated at MAX_BYTES with
        BACKUPS kept, with time and pid; `stderr_level` and above to stderr; Python warnings
        too. A file that cannot be opened (a read-only home) does not stop the work: the
        setup returned then has no file, and stderr says why."""
        global _applied
        LogSetup.stop()
        root = logging.getLogger()
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setLevel(self.stderr_level)
        if self.stderr_level <= logging.INFO:  # -v: everything, tracebacks too
            stderr.setFormatter(logging.Formatter(STDERR_FORMAT))
        else:
            stderr.setFormatter(_NoTraceback(STDERR_FORMAT))
            stderr.addFilter(lambda record: not getattr(record, "file_only", False))
        handlers: list[logging.Handler] = [stderr]
        file = self.file
        if file is not None:
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
                to_file = logging.handlers.RotatingFileHandler(
                    file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
            except OSError as exc:
                print(f"warning: no log file ({file}): {exc}", file=sys.stderr)
                file = None
            else:
                to_file.setLevel(logging.INFO)
                to_file.setFormatter(logging.Formatter(FILE_FORMAT))
                handlers.append(to_file)
        for handler in handlers:
            handler.homeward = True  # type: ignore[attr-defined]
            root.addHandler(handler)
        root.setLevel(min(logging.INFO, self.stderr_level))
        logging.captureWarnings(True)
        _applied = LogSetup(file, self.stderr_level)
        return _applied

    @staticmethod
    def stop() -> None:
        """Remove what `apply` added (a command run in-process ends with its handlers)."""
        global _applied
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "homeward", False)]:
            root.removeHandler(handler)
            handler.close()
        _applied = None


class _NoTraceback(logging.Formatter):
    """stderr without -v: the message alone; its traceback is in the log file."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        return self.formatMessage(record)


_applied: LogSetup | None = None
