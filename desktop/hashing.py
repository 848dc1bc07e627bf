"""Streaming file hashes: evidence and model files can be gigabytes."""

from __future__ import annotations

import hashlib

from desktop.sources.opener import EvidencePath, open_evidence

CHUNK = 1 << 20


def file_digests(path: EvidencePath, *algorithms: str, expected_size: int | None = None) -> dict[str, str]:
    """Hex digests of one read of the file, for every algorithm named (e.g. "sha256", "md5").

    Read through the evidence opener, so hashing never changes the file's access time.
    `expected_size` refuses a file whose size is no longer the one recorded (EvidenceRefused).
    """
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open_evidence(path, expected_size) as handle:
        while chunk := handle.read(CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def sha256_file(path: EvidencePath) -> str:
    return file_digests(path, "sha256")["sha256"]
