"""Typed errors: each carries a message for the user and technical detail for the log."""

from __future__ import annotations


class HomewardError(Exception):
    """Base of every error Homeward reports to a user instead of a traceback."""

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


class InvalidArguments(HomewardError):
    """A command was given arguments it cannot use."""
