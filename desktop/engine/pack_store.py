"""Where model packs live, which are installed, and whether their files are intact.

Installed packs are folders `<data dir>/packs/<id>/` holding `pack.json` and the model files.
The catalogue of known packs is the manifests in the repository's (or bundle's) `models/`;
packs shipped with the program (an installer bundles `open`) sit read-only in `models/packs/`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from desktop.engine.manifest import ModelFile, PackManifest, load_manifest
from desktop.errors import ModelPackError
from desktop.hashing import sha256_file

log = logging.getLogger(__name__)

MANIFEST_NAME = "pack.json"
DEFAULT_PACK_ORDER = ("buffalo_l", "buffalo_s", "buffalo_sc")
OPEN_PACK = "open"


def data_dir() -> Path:
    """User data root; HOMEWARD_DATA_DIR overrides it (portable installs, tests)."""
    override = os.environ.get("HOMEWARD_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir("homeward", False))


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
    """Compare one file with its manifest entry: presence, size, then SHA-256."""
    if not path.is_file():
        return FileCheck(expected.file, "missing", f"{path} does not exist")
    size = path.stat().st_size
    if expected.size is not None and size != expected.size:
        status = "truncated" if size < expected.size else "size"
        return FileCheck(expected.file, status, f"{size} bytes, expected {expected.size}")
    actual = sha256_file(path)
    if actual != expected.sha256:
        return FileCheck(expected.file, "hash", f"SHA-256 {actual}, expected {expected.sha256}")
    return FileCheck(expected.file, "ok")


def verify_pack(pack: InstalledPack) -> list[FileCheck]:
    return [check_file(pack.path(model), model) for model in pack.manifest.files]


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
                packs.append(InstalledPack(load_manifest(folder / MANIFEST_NAME), folder))
            except ModelPackError as exc:
                broken.append((folder, exc))
    return packs, broken


def find_installed(pack_id: str) -> InstalledPack | None:
    for root in pack_roots():
        folder = root / pack_id
        if (folder / MANIFEST_NAME).is_file():
            return InstalledPack(load_manifest(folder / MANIFEST_NAME), folder)
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
        return InstalledPack(load_manifest(candidate / MANIFEST_NAME), candidate)
    found = find_installed(pack)
    if pack == OPEN_PACK:
        from desktop.engine.open_pack import is_stale
        from desktop.engine.pack_install import install_pack

        if found is None or is_stale(found.manifest):
            return install_pack(OPEN_PACK)  # built from installed packages, no download
    if found is not None:
        return found
    known = ", ".join(sorted(catalogue())) or "none"
    raise ModelPackError(
        f"Model pack '{pack}' is not installed.",
        f"known packs: {known}; install one with `homeward models import ZIP_OR_FOLDER`",
    )
