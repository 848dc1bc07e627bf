"""Writing files so that a crash or a kill never leaves half a file under the real name."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMPORARY_SUFFIX = ".homeward-partial"  # names what a write killed before its rename leaves


def write_atomically(target: Path, payload: bytes, *, durable: bool = True) -> None:
    """Write beside the target, then rename over it. `durable` also flushes to disk first
    (models, reports); derived files that a re-scan can rebuild skip that cost. A kill before
    the rename leaves a hidden `.NAME.*.homeward-partial` file (a scan sweeps its own)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMPORARY_SUFFIX,
                                         dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

