"""Streaming file hashes: evidence and model files can be gigabytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def file_digests(path: Path, *algorithms: str) -> dict[str, str]:
    """Hex digests of one read of the file, for every algorithm named (e.g. "sha256", "md5")."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def sha256_file(path: Path) -> str:
    return file_digests(path, "sha256")["sha256"]
