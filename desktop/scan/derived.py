"""Derived evidence files of a case: a crop of each face and a thumbnail of its context.

Written by the workers into the case folder (never beside the source), named by the
content's SHA-256, so a resumed scan rewrites the same names instead of adding copies.
Workers on other machines carry them back to the case's writer instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from desktop.fileio import write_atomically

CROP_MARGIN = 0.3  # share of the face box added on each side: hair, ears, context
CROP_MAX = 256
THUMB_MAX = 640
JPEG = [cv2.IMWRITE_JPEG_QUALITY, 90]
CROPS = "crops"
THUMBS = "thumbs"
WORK = "work"


def crop_path(case_folder: Path, name: str | None) -> Path | None:
    """Where a face's crop lies (the name stored in faces.crop); None if it has none."""
    return case_folder / CROPS / name if name else None


def thumbnail_path(case_folder: Path, name: str | None) -> Path | None:
    """Where a face's context image lies (the name stored in faces.thumbnail)."""
    return case_folder / THUMBS / name if name else None


def crop_bounds(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a face crop with its margin, clipped to the image: the
    case's crops and the reviewer's view of a gallery face are framed alike."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    mx, my = (x2 - x1) * CROP_MARGIN, (y2 - y1) * CROP_MARGIN
    left, top = max(0, int(x1 - mx)), max(0, int(y1 - my))
    right, bottom = min(width, int(x2 + mx) + 1), min(height, int(y2 + my) + 1)
    return left, top, right, bottom


def sweep_partial_derived(case_folder: Path) -> int:
    """Remove what killed writes left in crops/ and thumbs/ (hidden temporary files: derived
    names never start with a dot) and in work/ (copies of videos read out of a container
    for their analysis). Called as a scan starts, before any worker writes there (one
    writer per case)."""
    strays = [*(case_folder / CROPS).glob(".*"), *(case_folder / THUMBS).glob(".*"),
              *(case_folder / WORK).glob("*.video")]
    for stray in strays:
        stray.unlink(missing_ok=True)
    return len(strays)


class DerivedFiles:
    """Where one content's crops and context images go. In a case on this machine they are
    written as they are made; `carry` (a worker on another machine of a Ray cluster) keeps
    them as JPEG bytes in `files` for the process that writes the case (`write_carried`).
    Without a case folder nothing is made."""

    def __init__(self, case_folder: Path | None, carry: bool = False) -> None:
        self.folder, self.carry = case_folder, carry
        self.files: dict[str, bytes] = {}  # "crops/NAME.jpg" -> JPEG, when carried

    @property
    def wanted(self) -> bool:
        return self.folder is not None or self.carry

    def crop(self, name: str, image: np.ndarray, box: np.ndarray) -> str | None:
        """The face with a margin, at most CROP_MAX pixels; the file name in crops/."""
        if not self.wanted:
            return None
        height, width = image.shape[:2]
        left, top, right, bottom = crop_bounds(box, width, height)
        crop = image[top:bottom, left:right]
        return self._put(CROPS, f"{name}.jpg", _fit(image if crop.size == 0 else crop, CROP_MAX))

    def thumbnail(self, name: str, image: np.ndarray) -> str | None:
        """The whole image or frame, at most THUMB_MAX pixels; the file name in thumbs/."""
        return self._put(THUMBS, f"{name}.jpg", _fit(image, THUMB_MAX)) if self.wanted else None

    def _put(self, kind: str, name: str, image: np.ndarray) -> str:
        ok, data = cv2.imencode(".jpg", image, JPEG)
        if not ok:
            raise ValueError(f"cannot encode {name}")
        if self.carry:
            self.files[f"{kind}/{name}"] = data.tobytes()
        else:
            assert self.folder is not None
            write_atomically(self.folder / kind / name, data.tobytes(), durable=False)
        return name


def write_carried(case_folder: Path, files: dict[str, bytes]) -> None:
    """Crops and context images made elsewhere, written into the case (names as made)."""
    for relative, data in files.items():
        kind, name = relative.split("/")
        if kind not in (CROPS, THUMBS) or name.startswith(".") or "\\" in name:
            raise ValueError(f"not a derived file name: {relative!r}")
        write_atomically(case_folder / kind / name, data, durable=False)  # a re-scan rebuilds it


def _fit(image: np.ndarray, longest: int) -> np.ndarray:
    scale = longest / max(image.shape[:2])
    if scale >= 1:
        return image
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
