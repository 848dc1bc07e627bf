"""PDQ perceptual hashes (Meta's, through the `pdqhash` package): 256 bits that survive
resizing, recompression and small edits, so copies of one image are found by Hamming
distance. The quality (0-100) says how much detail the hash rests on; PDQ's authors advise
ignoring hashes under 50 (flat or tiny images collide)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pdqhash

# PDQ's reference threshold for "the same image" (its authors: distance <= 31 of 256 bits).
NEAR_DUPLICATE_BITS = 31
MIN_QUALITY = 50


@dataclass(frozen=True)
class PerceptualHash:
    hex: str  # 64 hex digits
    quality: int  # 0-100


HASHED_SIDE = 512  # PDQ reduces every image to 64x64; a phone photo is first brought to this


def perceptual_hash(bgr: np.ndarray) -> PerceptualHash:
    """The image's PDQ hash. A large image is first shrunk (area averaging) so its longer
    side is HASHED_SIDE: PDQ's own filter would average the same pixels, at many times the
    cost on a 12-megapixel photo."""
    scale = HASHED_SIDE / max(bgr.shape[:2])
    if scale < 1:
        size = (max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    bits, quality = pdqhash.compute(rgb)
    return PerceptualHash(np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality))


def hash_matrix(hexes: list[str]) -> np.ndarray:
    """Hashes as an (n, 32) uint8 matrix, for distances to many at once."""
    return np.frombuffer(bytes.fromhex("".join(hexes)), np.uint8).reshape(len(hexes), 32)


_POPCOUNT = np.array([bin(n).count("1") for n in range(256)], np.uint8)


def distances(one: str, many: np.ndarray) -> np.ndarray:
    """Hamming distance (bits) from one hash to each row of a hash_matrix."""
    return _POPCOUNT[np.bitwise_xor(many, hash_matrix([one])[0])].sum(axis=1, dtype=np.int32)
