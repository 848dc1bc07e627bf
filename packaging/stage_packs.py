"""Stage what a bundle ships in `models/`: the catalogue's manifests and the packs it carries.

Why: a fresh air-gapped machine must work before anyone imports anything, so the bundle
carries the `open` pack ready-built (built here fresh, not copied from the builder's own data
folder) plus any installed pack asked for with --pack. Every file is re-hashed first (the
`open` pack's against the SHA-256 pinned in models/open.json, when it is built and again when
it is copied), and copied world-readable: a pack installed by an administrator is read by
every user.
Run by build.sh before PyInstaller; the spec reads DEST/models.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from desktop.engine.pack_install import install_pack
from desktop.engine.pack_store import (
    MANIFEST_NAME,
    OPEN_PACK,
    InstalledPack,
    catalogue_dir,
    resolve_pack,
    verify_pack,
)
from desktop.errors import HomewardError


def copy_pack(pack: InstalledPack, packs: Path) -> None:
    """The pack's manifest and model files (nothing else) into packs/<id>/, verified."""
    bad = [check for check in verify_pack(pack) if not check.ok]
    if bad:
        raise SystemExit(f"pack {pack.id} in {pack.root} fails verification: "
                         + "; ".join(f"{c.file} {c.status} ({c.detail})" for c in bad))
    folder = packs / pack.id
    folder.mkdir(parents=True)
    for name in (MANIFEST_NAME, *(model.file for model in pack.manifest.files)):
        shutil.copyfile(pack.root / name, folder / name)
        (folder / name).chmod(0o644)
    print(f"staged pack {pack.id} from {pack.root}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="staging folder; DEST/models is rewritten")
    parser.add_argument("--pack", action="append", default=[], metavar="ID_OR_DIR",
                        help="also ship this installed pack (id, or folder with pack.json)")
    args = parser.parse_args(argv)
    models = args.dest / "models"
    shutil.rmtree(models, ignore_errors=True)
    (models / "packs").mkdir(parents=True)
    for manifest in sorted(catalogue_dir().glob("*.json")):
        shutil.copyfile(manifest, models / manifest.name)
    try:
        extra = {pack.id: pack for pack in map(resolve_pack, args.pack)}  # the builder's own
        extra.pop(OPEN_PACK, None)
        with tempfile.TemporaryDirectory(prefix="homeward-open-") as scratch:
            os.environ["HOMEWARD_DATA_DIR"] = scratch  # `open` built fresh, from this venv
            for pack in (install_pack(OPEN_PACK), *extra.values()):
                copy_pack(pack, models / "packs")
    except HomewardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
