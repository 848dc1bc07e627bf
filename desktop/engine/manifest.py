"""Model-pack manifests: what a pack's files are, their hashes, and how to run them.

A manifest is JSON (see models/*.json). Families are named, never guessed: the manifest says
which code runs each file, and an unknown family fails loudly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from desktop.errors import ModelPackError

SCHEMA_VERSION = 1
DETECTOR_FAMILIES = ("scrfd", "dlib_hog")
RECOGNIZER_FAMILIES = ("arcface", "dlib_resnet")
METRICS = ("cosine",)


@dataclass(frozen=True)
class ModelFile:
    file: str
    sha256: str
    size: int | None = None  # None where no trustworthy published size exists


@dataclass(frozen=True)
class DetectorSpec(ModelFile):
    family: str = "scrfd"
    input_size: tuple[int, int] = (640, 640)  # the largest side the detector is fed
    score_threshold: float = 0.5
    nms_threshold: float = 0.4


@dataclass(frozen=True)
class RecognizerSpec(ModelFile):
    family: str = "arcface"
    input_size: tuple[int, int] = (112, 112)
    mean: float = 127.5
    std: float = 127.5
    color: str = "RGB"
    embedding_dim: int = 512


@dataclass(frozen=True)
class SourceSpec:
    url: str
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Calibration:
    """A match threshold chosen for a stated false-match rate on labelled photos (made by
    `homeward models calibrate`): what a case records and a report quotes. Rates are over
    the pairs whose photos both have a face; `heldout_fmr` is the false-match rate on each
    fold at the threshold chosen on the other folds (None without folds)."""

    pack_id: str
    model_hashes: dict[str, str]  # the detector's and recognizer's SHA-256 it holds for
    threshold: float
    target_fmr: float
    measured_fmr: float
    measured_fnmr: float
    genuine_pairs: int
    impostor_pairs: int
    unscored_pairs: int  # pairs where a photo had no face: in neither rate
    heldout_fmr: float | None
    dataset: str  # what was used, in words (kind and name; no paths of this machine)
    dataset_sha256: str  # over every image's SHA-256 and the labels or pairs
    created_at: str
    # The highest impostor scores (at most IMPOSTOR_TAIL, highest first): how often an impostor
    # scores at least as high as a hit, at any score, not only at the threshold.
    impostor_tail: tuple[float, ...] = ()

    @property
    def id(self) -> str:
        """A short digest of every field: names this calibration in cases and reports. One
        made before impostor scores were kept digests as it did then (its id stays)."""
        fields = asdict(self)
        if not self.impostor_tail:
            del fields["impostor_tail"]
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def describe(self) -> str:
        """One line for a report or a manifest's threshold_source."""
        heldout = "" if self.heldout_fmr is None else f", held-out FMR {self.heldout_fmr:.4g}"
        return (f"calibrated {self.created_at} (calibration {self.id}): threshold "
                f"{self.threshold:.4f} for a false-match rate of {self.target_fmr:g}; measured "
                f"FMR {self.measured_fmr:.4g}, FNMR {self.measured_fnmr:.4g}{heldout} on "
                f"{self.genuine_pairs} genuine and {self.impostor_pairs} impostor pairs of "
                f"{self.dataset} (SHA-256 {self.dataset_sha256})")


def calibration_from_dict(data: Any, where: str) -> Calibration:
    """Validate a stored calibration; a damaged one is an error, never a silent default."""
    names = {f.name for f in fields(Calibration)}
    # impostor_tail may be absent: a calibration made before impostor scores were kept.
    if not isinstance(data, dict) or set(data) - {"id"} not in (names, names - {"impostor_tail"}):
        raise ModelPackError(f"The calibration in {where} is not a complete calibration record.")
    try:
        calibration = Calibration(**{k: tuple(v) if k == "impostor_tail" else v
                                     for k, v in data.items() if k != "id"})
    except TypeError as exc:
        raise ModelPackError(f"The calibration in {where} cannot be read", str(exc)) from exc
    if "id" in data and data["id"] != calibration.id:
        raise ModelPackError(f"The calibration in {where} was changed after it was made.",
                             f"recorded id {data['id']}, its fields give {calibration.id}")
    if not isinstance(calibration.threshold, (int, float)) or not -1.0 <= calibration.threshold <= 1.0:
        raise ModelPackError(f"The calibration in {where} has no threshold in [-1, 1].")
    return calibration


def calibration_to_dict(calibration: Calibration) -> dict[str, Any]:
    return {**asdict(calibration), "impostor_tail": list(calibration.impostor_tail),
            "id": calibration.id}


@dataclass(frozen=True)
class PackManifest:
    id: str
    title: str
    licence: str
    detector: DetectorSpec
    recognizer: RecognizerSpec
    match_threshold: float
    threshold_source: str
    metric: str = "cosine"
    extras: tuple[ModelFile, ...] = ()
    source: SourceSpec | None = None
    build: str | None = None  # "open": built from installed Python packages, no download
    source_files: tuple[ModelFile, ...] = ()  # what a built pack was built from
    schema: int = SCHEMA_VERSION
    notes: str = ""
    calibration: Calibration | None = None  # set by `homeward models calibrate`

    @property
    def files(self) -> tuple[ModelFile, ...]:
        return (self.detector, self.recognizer, *self.extras)

    @property
    def model_hashes(self) -> dict[str, str]:
        """Recorded beside every embedding: embeddings of different models never meet."""
        return {"detector": self.detector.sha256, "recognizer": self.recognizer.sha256}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["calibration"] = self.calibration and calibration_to_dict(self.calibration)
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ModelPackError(f"Model pack manifest {where} lacks the field '{key}'.")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ModelPackError(f"Model pack manifest {where}: '{key}' has the wrong type.")
    return value


def _model_file(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ModelPackError(f"Model pack manifest {where} must be an object.")
    name = _require(data, "file", str, where)
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        raise ModelPackError(f"Model pack manifest {where}: file name {name!r} is not a plain name.")
    sha = _require(data, "sha256", str, where).lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ModelPackError(f"Model pack manifest {where}: sha256 of {name} is not a SHA-256.")
    size = data.get("size")
    if size is not None and (not isinstance(size, int) or size <= 0):
        raise ModelPackError(f"Model pack manifest {where}: size of {name} must be a positive integer.")
    return {**data, "sha256": sha}


def manifest_from_dict(data: Any, where: str = "") -> PackManifest:
    """Validate and build a manifest; every problem names the field at fault."""
    where = where or "(unnamed)"
    if not isinstance(data, dict):
        raise ModelPackError(f"Model pack manifest {where} is not a JSON object.")
    if data.get("schema", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise ModelPackError(f"Model pack manifest {where} has schema {data.get('schema')}, "
                             f"this Homeward reads schema {SCHEMA_VERSION}.")
    det = _model_file(data.get("detector"), f"{where} detector")
    rec = _model_file(data.get("recognizer"), f"{where} recognizer")
    if det.get("family") not in DETECTOR_FAMILIES:
        raise ModelPackError(f"Model pack manifest {where}: unknown detector family "
                             f"{det.get('family')!r} (known: {', '.join(DETECTOR_FAMILIES)}).")
    if rec.get("family") not in RECOGNIZER_FAMILIES:
        raise ModelPackError(f"Model pack manifest {where}: unknown recognizer family "
                             f"{rec.get('family')!r} (known: {', '.join(RECOGNIZER_FAMILIES)}).")
    metric = data.get("metric", "cosine")
    if metric not in METRICS:
        raise ModelPackError(f"Model pack manifest {where}: unknown metric {metric!r}.")
    threshold = _require(data, "match_threshold", (int, float), where)
    if not -1.0 <= threshold <= 1.0:
        raise ModelPackError(f"Model pack manifest {where}: match_threshold must be in [-1, 1].")
    source = data.get("source")
    try:
        return PackManifest(
            id=_require(data, "id", str, where),
            title=data.get("title", data["id"]),
            licence=_require(data, "licence", str, where),
            detector=DetectorSpec(**{**det, "input_size": tuple(det.get("input_size", (640, 640)))}),
            recognizer=RecognizerSpec(**{**rec, "input_size": tuple(rec.get("input_size", (112, 112)))}),
            match_threshold=float(threshold),
            threshold_source=data.get("threshold_source", "not stated"),
            metric=metric,
            extras=tuple(ModelFile(**_model_file(e, f"{where} extra")) for e in data.get("extras", ())),
            source=SourceSpec(**source) if source else None,
            build=data.get("build"),
            source_files=tuple(ModelFile(**_model_file(e, f"{where} source file"))
                               for e in data.get("source_files", ())),
            notes=data.get("notes", ""),
            calibration=(calibration_from_dict(data["calibration"], where)
                         if data.get("calibration") is not None else None),
        )
    except TypeError as exc:  # an unexpected or missing key inside a nested object
        raise ModelPackError(f"Model pack manifest {where} has an unexpected field", str(exc)) from exc


def load_manifest(path: Path) -> PackManifest:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelPackError(f"Cannot read model pack manifest {path}", str(exc)) from exc
    return manifest_from_dict(data, str(path))

