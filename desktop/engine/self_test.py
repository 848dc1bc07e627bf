"""The self-test: proof, on this machine and offline, that the installed program works.

Why: an air-gapped workstation has no one to ask. After copying the program over, the
examiner runs one check of the real path: the ONNX Runtime that is actually installed and the
providers it really gets, every installed pack's files re-hashed, and each intact pack's
detector and recognizer run on a known face. Every failure says what failed and why; the CLI
and the GUI show the same report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import insightface
import numpy as np

from desktop.engine.engine import EngineOptions, FaceEngine
from desktop.engine.pack_store import OPEN_PACK, InstalledPack, installed_packs, resolve_pack, verify_pack
from desktop.engine.providers import Preference, RuntimeReport, runtime_report
from desktop.engine.types import Face
from desktop.errors import EngineError, HomewardError

# The one-face sample photo insightface ships (installed, and bundled with it): no photo lives
# in Homeward's own repository. Every pack finds exactly this one face in it.
CHECK_IMAGE = Path(insightface.__file__).parent / "data" / "images" / "Tom_Hanks_54745.png"
NORM_TOLERANCE = 1e-3
REPEAT_TOLERANCE = 1e-5  # the same image through the same sessions gives the same numbers


@dataclass(frozen=True)
class Check:
    """One pass/fail line of the self-test."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class SelfTestReport:
    runtime: RuntimeReport
    checks: tuple[Check, ...]

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)

    @property
    def ok(self) -> bool:
        return not self.failures


def check_image() -> np.ndarray:
    """The built-in check face as 8-bit BGR, the form the engine takes."""
    image = cv2.imread(str(CHECK_IMAGE), cv2.IMREAD_COLOR)
    if image is None:
        raise EngineError(f"The built-in check image {CHECK_IMAGE} cannot be read.")
    return image


def _runtime_check(report: RuntimeReport) -> Check:
    """Which ONNX Runtime, which providers it offers and which it will use."""
    ok = len(report.distributions) == 1
    problem = "" if ok else f"; {len(report.distributions)} distributions installed, exactly one must be"
    return Check("runtime", ok, "; ".join(report.lines()) + problem)


def _judge_faces(pack: InstalledPack, first: list[Face], second: list[Face]) -> str | None:
    """Why the engine's answer on the check face is wrong, or None when it is right."""
    if not first:
        return "no face found in the check image"
    embedding = max(first, key=lambda face: face.detection.det_score).embedding
    expected = pack.manifest.recognizer.embedding_dim
    if embedding.shape != (expected,):
        return f"embedding shape {embedding.shape}, the manifest says ({expected},)"
    norm = float(np.linalg.norm(embedding))
    if not np.isfinite(norm) or abs(norm - 1.0) > NORM_TOLERANCE:
        return f"embedding norm {norm:.6f}, expected 1"
    again = np.stack([face.embedding for face in second]) if second else np.zeros((0, expected))
    mine = np.stack([face.embedding for face in first])
    if again.shape != mine.shape or np.abs(again - mine).max() > REPEAT_TOLERANCE:
        return "a second run on the same image gave different faces or embeddings"
    return None


def check_pack(pack: InstalledPack, image: np.ndarray, options: EngineOptions) -> list[Check]:
    """The pack's files against their hashes, then (if intact) its engine on the check face."""
    bad = [check for check in verify_pack(pack) if not check.ok]
    if bad:
        return [Check(f"{pack.id}: files", False, "; ".join(
            f"{check.file} {check.status} ({check.detail})" for check in bad))]
    files = Check(f"{pack.id}: files", True,
                  f"{len(pack.manifest.files)} files match their SHA-256 in {pack.root}")
    started = time.perf_counter()
    try:
        engine = FaceEngine(pack, options)
        first, second = (engine.analyze([image])[0] for _ in range(2))
    except HomewardError as exc:
        return [files, Check(f"{pack.id}: faces", False, str(exc))]
    problem = _judge_faces(pack, first, second)
    if problem:
        return [files, Check(f"{pack.id}: faces", False, problem)]
    dim = pack.manifest.recognizer.embedding_dim
    return [files, Check(
        f"{pack.id}: faces", True,
        f"{len(first)} face{'s' if len(first) != 1 else ''}, {dim}-D unit embedding, repeatable; "
        f"on {engine.providers[0]} "
        f"in {time.perf_counter() - started:.1f} s")]


def _packs() -> tuple[list[InstalledPack], list[Check]]:
    """Every installed pack (the embedded `open` one built if absent), and unreadable ones."""
    packs, broken = installed_packs()
    checks = [Check(f"pack folder {folder.name}", False, str(exc)) for folder, exc in broken]
    if all(pack.id != OPEN_PACK for pack in packs):
        try:
            packs.insert(0, resolve_pack(OPEN_PACK))
        except HomewardError as exc:
            checks.append(Check(f"{OPEN_PACK}: files", False, str(exc)))
    return packs, checks


def run_self_test(preference: Preference = "auto",
                  progress: Callable[[Check], None] | None = None) -> SelfTestReport:
    """Run every check; `progress` sees each result as it comes (the slow part is per pack)."""
    runtime = runtime_report(preference)
    checks: list[Check] = []

    def record(new: list[Check]) -> None:
        for check in new:
            checks.append(check)
            if progress:
                progress(check)

    record([_runtime_check(runtime)])
    packs, broken = _packs()
    record(broken)
    image = check_image()
    options = EngineOptions(provider=preference)
    for pack in packs:
        record(check_pack(pack, image, options))
    return SelfTestReport(runtime, tuple(checks))
