"""Typed errors: each carries a message for the user and technical detail for the log, and
the exit status `homeward` ends with when it stops a command."""

from __future__ import annotations

# The exit statuses of `homeward` (README "Exit codes and logs"): distinct, so scripts can tell
# a finished run with per-item problems from a refusal, a bug or an interruption.
EXIT_OK = 0
EXIT_PROBLEMS = 1  # finished, but some items had problems (unreadable files, broken pack files)
EXIT_USAGE = 2  # the command line was wrong (argparse, InvalidArguments)
EXIT_REFUSED = 3  # refused, or an integrity check failed: nothing was done, or it does not verify
EXIT_UNEXPECTED = 4  # a bug: the traceback is in the log file
EXIT_INTERRUPTED = 130  # Ctrl-C or a cancel; a scan resumes where it stopped


class HomewardError(Exception):
    """Base of every error Homeward reports to a user instead of a traceback."""

    exit_code = EXIT_REFUSED

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message


class ModelPackError(HomewardError):
    """A model pack is missing, corrupt, mis-described or cannot be installed."""


class EngineError(HomewardError):
    """The face engine cannot run as asked (provider unavailable, bad configuration)."""


class UnreadableMedia(HomewardError):
    """A file cannot be decoded as an image or video; the reason says why."""


class Cancelled(HomewardError):
    """The user cancelled a long-running job; callers treat it as silent."""

    exit_code = EXIT_INTERRUPTED


class InvalidArguments(HomewardError):
    """A command was given arguments it cannot use."""

    exit_code = EXIT_USAGE
