"""Installing model packs: from a zip or folder (the air-gapped route), by explicit download,
or by building the embedded `open` pack. Nothing is ever half-installed: everything is staged
in a hidden folder beside the packs and moved into place only once every check has passed.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from desktop.engine.manifest import ModelFile, PackManifest, load_manifest
from desktop.engine.onnx_inspect import describe, inspect_onnx
from desktop.engine.pack_store import (
    MANIFEST_NAME,
    OPEN_PACK,
    InstalledPack,
    catalogue,
    check_file,
    packs_dir,
)
from desktop.errors import ModelPackError
from desktop.hashing import sha256_file

log = logging.getLogger(__name__)

MAX_UNPACKED_BYTES = 4 << 30  # four times buffalo_l unpacked; larger is not a face-model pack
MAX_COMPRESSION_RATIO = 50  # ONNX weights barely compress; a huge ratio means a zip bomb
Progress = Callable[[int, int], None]


@contextmanager
def _staging() -> Iterator[Path]:
    """A hidden folder on the packs' own file system, removed unless moved into place."""
    root = packs_dir()
    root.mkdir(parents=True, exist_ok=True)
    stage = root / f".staging-{uuid.uuid4().hex}"
    stage.mkdir()
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _safe_extract(archive: Path, dest: Path) -> None:
    """Extract a zip, refusing path traversal, links and decompression bombs."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            total = sum(m.file_size for m in members)
            packed = sum(m.compress_size for m in members) or 1
            if total > MAX_UNPACKED_BYTES or total / packed > MAX_COMPRESSION_RATIO:
                raise ModelPackError(f"{archive.name} would unpack to {total} bytes; "
                                     "refusing what looks like a zip bomb.")
            for member in members:
                name = PurePosixPath(member.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts or ":" in member.filename:
                    raise ModelPackError(f"{archive.name} holds an unsafe path "
                                         f"{member.filename!r}; nothing was installed.")
                if stat.S_ISLNK(member.external_attr >> 16):
                    raise ModelPackError(f"{archive.name} holds a symbolic link "
                                         f"{member.filename!r}; nothing was installed.")
            for member in members:
                if not member.is_dir():
                    target = dest.joinpath(*PurePosixPath(member.filename).parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(member) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise ModelPackError(f"{archive.name} is not a readable zip file (truncated?)",
                             str(exc)) from exc


def _model_root(folder: Path) -> Path:
    """The folder holding the model files: the zip's root or its single top-level folder."""
    if any(folder.glob("*.onnx")) or (folder / MANIFEST_NAME).is_file():
        return folder
    children = [c for c in folder.iterdir() if c.is_dir() and not c.name.startswith("__MACOSX")]
    if len(children) == 1:
        return _model_root(children[0])
    raise ModelPackError(f"No ONNX model files found in {folder.name}.")


def _manifest_for(root: Path, pack_id: str | None) -> PackManifest:
    """The pack's own manifest, else the catalogue entry whose files are present."""
    if (root / MANIFEST_NAME).is_file():
        return load_manifest(root / MANIFEST_NAME)
    known = catalogue()
    if pack_id and pack_id in known:
        return known[pack_id]
    matches = [m for m in known.values() if m.build is None
               and (root / m.detector.file).is_file() and (root / m.recognizer.file).is_file()]
    if matches:
        return next((m for m in matches if m.id == root.name), matches[0])
    from desktop.engine.pack_folder import manifest_from_folder

    return manifest_from_folder(root, pack_id or root.name)


def _check_roles(root: Path, manifest: PackManifest) -> None:
    """A detector where a recognizer belongs (or the reverse) is refused by graph shape."""
    expected = [(manifest.detector, "detector", manifest.detector.family == "scrfd"),
                (manifest.recognizer, "recognizer", manifest.recognizer.family == "arcface")]
    for model, role, is_onnx_face_model in expected:
        if not is_onnx_face_model:
            continue
        shape = inspect_onnx(root / model.file)
        if shape.role != role:
            raise ModelPackError(f"{model.file} is declared as the {role} of pack "
                                 f"'{manifest.id}' but is {describe(shape)}.")


def _verify_all(root: Path, files: tuple[ModelFile, ...], pack_id: str) -> None:
    problems = [c for c in (check_file(root / f.file, f) for f in files) if not c.ok]
    if problems:
        lines = "; ".join(f"{c.file}: {c.status} ({c.detail})" for c in problems)
        raise ModelPackError(f"Pack '{pack_id}' failed verification; nothing was installed.",
                             lines)


def _commit(stage_root: Path, manifest: PackManifest, replace: bool) -> InstalledPack:
    """Copy the verified files into a fresh folder and swap it into place atomically."""
    final = packs_dir() / manifest.id
    if final.exists() and not replace:
        raise ModelPackError(f"Pack '{manifest.id}' is already installed.",
                             "use --replace to install over it")
    ready = packs_dir() / f".ready-{uuid.uuid4().hex}"
    ready.mkdir()
    try:
        for model in manifest.files:
            shutil.move(stage_root / model.file, ready / model.file)
        (ready / MANIFEST_NAME).write_text(manifest.dumps(), encoding="utf-8")
        if final.exists():
            retired = packs_dir() / f".retired-{uuid.uuid4().hex}"
            final.rename(retired)
            ready.rename(final)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            ready.rename(final)
    finally:
        shutil.rmtree(ready, ignore_errors=True)
    log.info("installed model pack %s into %s", manifest.id, final)
    return InstalledPack(manifest, final)


def import_pack(source: Path, *, pack_id: str | None = None,
                replace: bool = False) -> InstalledPack:
    """Install a pack from a zip or a folder after checking every file's size, hash and role."""
    source = Path(source)
    if not source.exists():
        raise ModelPackError(f"{source} does not exist.")
    with _staging() as stage:
        if source.is_dir():
            unpacked = source
        elif zipfile.is_zipfile(source):
            _safe_extract(source, stage / "unpacked")
            unpacked = stage / "unpacked"
        else:
            raise ModelPackError(f"{source.name} is neither a folder nor a zip file.")
        root = _model_root(unpacked)
        manifest = _manifest_for(root, pack_id)
        if pack_id and pack_id != manifest.id:
            manifest = dataclasses.replace(manifest, id=pack_id)
        copy = stage / "files"
        copy.mkdir()
        for model in manifest.files:
            if (root / model.file).is_file():
                shutil.copyfile(root / model.file, copy / model.file)
        _verify_all(copy, manifest.files, manifest.id)
        _check_roles(copy, manifest)
        return _commit(copy, manifest, replace)


def _download(url: str, dest: Path, progress: Progress | None) -> None:
    """Fetch one URL; the only network access in Homeward, run only on the user's command."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise ModelPackError(
            f"Could not download {url}.",
            f"{exc}; on an air-gapped machine copy the zip over and run "
            "`homeward models import FILE.zip`",
        ) from exc


def install_pack(pack_id: str, *, replace: bool = False,
                 progress: Progress | None = None) -> InstalledPack:
    """Install a catalogue pack: build `open` locally, or download and verify the others."""
    if pack_id == OPEN_PACK:
        return _build_open(replace=True)
    known = catalogue()
    if pack_id not in known:
        raise ModelPackError(f"Unknown model pack '{pack_id}'.",
                             f"known packs: {', '.join(sorted(known))}")
    manifest = known[pack_id]
    if manifest.source is None:
        raise ModelPackError(f"Pack '{pack_id}' has no download source; import it from a file.")
    with tempfile.TemporaryDirectory(dir=_ensure(packs_dir()), prefix=".download-") as tmp:
        archive = Path(tmp) / f"{pack_id}.zip"
        _download(manifest.source.url, archive, progress)
        if manifest.source.sha256 and sha256_file(archive) != manifest.source.sha256:
            raise ModelPackError(f"The downloaded {archive.name} does not match its published "
                                 "SHA-256; it was discarded.")
        return import_pack(archive, pack_id=pack_id, replace=replace)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _build_open(replace: bool) -> InstalledPack:
    from desktop.engine.manifest import manifest_from_dict
    from desktop.engine.open_pack import build_open_pack

    with _staging() as stage:
        manifest = manifest_from_dict(build_open_pack(stage), "open (built)")
        _verify_all(stage, manifest.files, manifest.id)
        return _commit(stage, manifest, replace)
