"""Where Homeward keeps the user's data (packs, settings, recorded heads, logs).

HOMEWARD_DATA_DIR overrides it: portable installs, one encrypted volume, tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    """User data root; HOMEWARD_DATA_DIR overrides it (portable installs, tests)."""
    override = os.environ.get("HOMEWARD_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir("homeward", False))


def log_dir() -> Path:
    """Where the log files go: the platform's user log folder, or `data_dir()/logs` under
    HOMEWARD_DATA_DIR (a portable install keeps everything together; tests stay in theirs)."""
    if os.environ.get("HOMEWARD_DATA_DIR"):
        return data_dir() / "logs"
    return Path(platformdirs.user_log_dir("homeward", False))
