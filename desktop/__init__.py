"""Homeward: offline face search of seized media against a missing-persons gallery."""

__version__ = "0.1.0"
