"""A manifest for a folder of insightface-compatible ONNX files that came without one.

Roles are read from each graph's shape; anything ambiguous (two detectors, no recognizer)
is refused with a message that says what was found, rather than picked at random.
"""

from __future__ import annotations

from pathlib import Path

from desktop.engine.manifest import PackManifest, manifest_from_dict
from desktop.engine.onnx_inspect import GraphShape, describe, inspect_onnx
from desktop.errors import ModelPackError
from desktop.hashing import sha256_file

UNCALIBRATED_THRESHOLD = 0.3


def _one(found: list[tuple[Path, GraphShape]], role: str, folder: Path) -> tuple[Path, GraphShape]:
    if len(found) == 1:
        return found[0]
    listed = ", ".join(p.name for p, _ in found) or "none"
    raise ModelPackError(f"{folder.name} must hold exactly one face {role}; found: {listed}.",
                         "add a pack.json manifest naming the files to use")


def manifest_from_folder(folder: Path, pack_id: str) -> PackManifest:
    shapes = [(path, inspect_onnx(path)) for path in sorted(folder.glob("*.onnx"))]
    det_path, _ = _one([s for s in shapes if s[1].role == "detector"], "detector", folder)
    rec_path, rec = _one([s for s in shapes if s[1].role == "recognizer"], "recognizer", folder)
    if rec.embedding_dim is None:
        raise ModelPackError(f"{rec_path.name} is {describe(rec)} with an unknown embedding size.")
    data = {
        "id": pack_id,
        "title": f"{pack_id} (imported folder: {det_path.name} + {rec_path.name})",
        "licence": "unknown: imported without a manifest; check the models' own licence",
        "detector": {"file": det_path.name, "family": "scrfd", "sha256": sha256_file(det_path),
                     "size": det_path.stat().st_size},
        "recognizer": {"file": rec_path.name, "family": "arcface",
                       "sha256": sha256_file(rec_path), "size": rec_path.stat().st_size,
                       "embedding_dim": rec.embedding_dim},
        "metric": "cosine",
        "match_threshold": UNCALIBRATED_THRESHOLD,
        "threshold_source": "uncalibrated family default; run `homeward models evaluate`",
    }
    return manifest_from_dict(data, f"{folder.name} (generated)")
