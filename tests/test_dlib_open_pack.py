"""The open pack: dlib's ResNet converted to ONNX must give dlib's own descriptors.

dlib (the C++ library, through its Python binding) is the reference here and only here: the
product converts with numpy + onnx and runs the result on ONNX Runtime.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import cv2
import dlib
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import FACEDATA, require_shared

from desktop.engine.dlib_convert import INPUT_NAME, OUTPUT_NAME, convert_dlib_resnet
from desktop.engine.dlib_family import DlibChipAligner, DlibHogDetector, hog_margin_to_score
from desktop.engine.manifest import manifest_from_dict
from desktop.engine.open_pack import (
    DETECTOR_FILE,
    PREDICTOR_SOURCE,
    RECOGNIZER_FILE,
    RESNET_SOURCE,
    build_open_pack,
    source_models_dir,
)
from desktop.errors import ModelPackError

TOLERANCE = 1e-4
# Small real photos (fast under HOG), one source of tiny low-score faces, one group photo.
IMAGE_SOURCES = {"lfw": 14, "dlib": 4, "face-api.js": 3, "insightface": 4}
GROUP_PHOTO = "dlib/_multi/bald_guys.jpg"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def sources() -> Path:
    return source_models_dir()


@pytest.fixture(scope="session")
def onnx_model(sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("dlib-onnx") / RECOGNIZER_FILE
    convert_dlib_resnet(sources / RESNET_SOURCE, target)
    return target


@pytest.fixture(scope="session")
def session(onnx_model: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(onnx_model), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="session")
def dlib_reference(sources: Path):
    """dlib's own detector, 5-point predictor and ResNet."""
    return (dlib.get_frontal_face_detector(),
            dlib.shape_predictor(str(sources / PREDICTOR_SOURCE)),
            dlib.face_recognition_model_v1(str(sources / RESNET_SOURCE)))


@pytest.fixture(scope="session")
def real_images() -> list[Path]:
    """A fixed spread of real photos from ../shared/facedata."""
    require_shared()
    with open(FACEDATA / "manifest.csv", encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["kind"] != "multi_face"]
    chosen: list[Path] = []
    for source, count in IMAGE_SOURCES.items():
        paths = sorted(r["path"] for r in rows if r["source"] == source)
        step = max(1, len(paths) // count)
        chosen += [FACEDATA / p for p in paths[::step][:count]]
    return [*chosen, FACEDATA / GROUP_PHOTO]


def embed(session: ort.InferenceSession, chips_rgb: list[np.ndarray]) -> np.ndarray:
    """The converted network's raw descriptors for RGB uint8 chips, one batch."""
    blob = np.stack(chips_rgb).transpose(0, 3, 1, 2).astype(np.float32)
    return session.run([OUTPUT_NAME], {INPUT_NAME: blob})[0]


def rgb_of(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def test_graph_contract(onnx_model: Path):
    model = onnx.load(str(onnx_model))
    (graph_input,), (graph_output,) = model.graph.input, model.graph.output
    dims = lambda value: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]  # noqa: E731
    assert graph_input.name == INPUT_NAME and dims(graph_input) == ["N", 3, 150, 150]
    assert graph_output.name == OUTPUT_NAME and dims(graph_output) == ["N", 128]
    assert model.opset_import[0].version == 17


def test_converted_network_matches_dlib_on_real_chips(real_images, session, dlib_reference):
    detector, predictor, resnet = dlib_reference
    chips = []
    for path in real_images:
        rgb = rgb_of(path)
        chips += [dlib.get_face_chip(rgb, predictor(rgb, rect), size=150, padding=0.25)
                  for rect in detector(rgb, 1)]
    assert len(chips) >= 20
    expected = np.array([resnet.compute_face_descriptor(chip) for chip in chips])
    got = embed(session, chips)
    diff = float(np.abs(got - expected).max())
    print(f"converted ResNet vs dlib on {len(chips)} real chips: max |diff| = {diff:.3g}")
    assert diff <= TOLERANCE
    # Raw descriptors, not L2-normalised: dlib's have norms well away from 1.
    assert not np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-3)


def test_open_pipeline_matches_dlib_pipeline(real_images, session, dlib_reference, sources):
    detector, predictor, resnet = dlib_reference
    # No size cap here: dlib's own pipeline searches every photo at full size, upsampled.
    # (The product caps the search at 1280 px for speed; on photos up to 640 px the two
    # configurations are the same, which the second loop below checks.)
    ours = DlibHogDetector(sources / PREDICTOR_SOURCE, upsample=1, max_side=10**6)
    capped = DlibHogDetector(sources / PREDICTOR_SOURCE)
    aligner = DlibChipAligner()
    assert ours.landmark_scheme == "dlib5"
    worst, compared, images = 0.0, 0, 0
    for path in real_images:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        faces = ours.detect(bgr)
        if max(bgr.shape[:2]) <= 640:
            assert [f.box.tolist() for f in capped.detect(bgr)] == [f.box.tolist() for f in faces]
        rects = list(detector(rgb, 1))
        assert len(faces) == len(rects), path
        if not faces:
            continue
        images += 1
        chips = [cv2.cvtColor(aligner.align(bgr, face), cv2.COLOR_BGR2RGB) for face in faces]
        got = embed(session, chips)
        for face, descriptor in zip(faces, got, strict=True):
            assert face.box.dtype == np.float32 and face.landmarks.shape == (5, 2)
            assert 0.0 < face.det_score < 1.0
            x1, y1, x2, y2 = (int(v) for v in face.box)
            rect = dlib.rectangle(x1, y1, x2 - 1, y2 - 1)
            assert rect in rects, path
            expected = np.array(resnet.compute_face_descriptor(rgb, predictor(rgb, rect)))
            worst = max(worst, float(np.abs(descriptor - expected).max()))
            compared += 1
    print(f"open pipeline vs dlib pipeline: {compared} faces in {images} images, "
          f"max |diff| = {worst:.3g}")
    assert images >= 20 and worst <= TOLERANCE


def test_det_score_mapping_is_monotonic_and_centred_on_dlibs_threshold():
    margins = np.linspace(-2, 4, 61)
    scores = [hog_margin_to_score(float(m)) for m in margins]
    assert all(0 < s < 1 for s in scores) and scores == sorted(scores)
    assert hog_margin_to_score(0.0) == pytest.approx(0.5)


def test_conversion_is_deterministic_and_leaves_no_temp_files(sources, onnx_model, tmp_path):
    again = tmp_path / "again.onnx"
    convert_dlib_resnet(sources / RESNET_SOURCE, again)
    assert sha256(again) == sha256(onnx_model)
    assert [p.name for p in tmp_path.iterdir()] == ["again.onnx"]


def _damaged(sources: Path, tmp_path: Path, kind: str) -> Path:
    data = (sources / RESNET_SOURCE).read_bytes()
    target = tmp_path / f"{kind}.dat"
    if kind == "random":
        target.write_bytes(np.random.default_rng(7).bytes(4096))
    elif kind == "other_dlib_model":
        target.write_bytes((sources / PREDICTOR_SOURCE).read_bytes())
    elif kind == "trailing":
        target.write_bytes(data + b"\x00")
    else:  # truncated at the given fraction of the file
        target.write_bytes(data[: int(len(data) * float(kind.split("_")[1]))])
    return target


@pytest.mark.parametrize("kind, message", [
    ("truncated_0.5", "truncated"),
    ("truncated_0.9999", "truncated"),
    ("truncated_0.00001", "truncated"),
    ("random", "not a usable dlib face-recognition ResNet"),
    ("other_dlib_model", "not a usable dlib face-recognition ResNet"),
    ("trailing", "unexpected bytes"),
])
def test_damaged_or_foreign_files_are_refused(sources, tmp_path, kind, message):
    bad = _damaged(sources, tmp_path, kind)
    target = tmp_path / "out" / "model.onnx"
    with pytest.raises(ModelPackError, match=message) as caught:
        convert_dlib_resnet(bad, target)
    assert bad.name in str(caught.value)
    assert not target.exists()
    assert not target.parent.exists() or not any(target.parent.iterdir())  # no temp files


def test_missing_file_is_a_model_pack_error(tmp_path):
    with pytest.raises(ModelPackError, match="Cannot read"):
        convert_dlib_resnet(tmp_path / "absent.dat", tmp_path / "out.onnx")


def test_build_open_pack_writes_files_and_a_valid_manifest(sources, onnx_model, tmp_path):
    data = build_open_pack(tmp_path)
    manifest = manifest_from_dict(data, "open (test)")
    assert manifest.id == "open" and manifest.metric == "cosine"
    assert manifest.detector.family == "dlib_hog" and manifest.recognizer.family == "dlib_resnet"
    assert manifest.recognizer.input_size == (150, 150) and manifest.recognizer.embedding_dim == 128
    assert (manifest.recognizer.mean, manifest.recognizer.std, manifest.recognizer.color) == \
        (0.0, 1.0, "RGB")
    for spec in (manifest.detector, manifest.recognizer):
        path = tmp_path / spec.file
        assert sha256(path) == spec.sha256 and path.stat().st_size == spec.size
    assert manifest.detector.file == DETECTOR_FILE
    assert manifest.recognizer.sha256 == sha256(onnx_model)  # same bytes on every build
    recorded = {entry["file"]: entry["sha256"] for entry in data["source_files"]}
    assert recorded == {name: sha256(sources / name) for name in (RESNET_SOURCE, PREDICTOR_SOURCE)}
    assert "CC0" in manifest.licence and 0.0 < manifest.match_threshold < 1.0


def test_open_pack_is_built_on_first_use_and_rebuilt_when_its_source_changes(tmp_path, monkeypatch):
    import dataclasses
    import json

    from desktop.engine.pack_store import MANIFEST_NAME, resolve_pack

    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path))
    first = resolve_pack("open")
    assert first.root == tmp_path / "packs" / "open"
    assert {f.file for f in first.manifest.source_files} == {RESNET_SOURCE, PREDICTOR_SOURCE}
    # Pretend the pack was built from another release of the source package.
    stale = dataclasses.replace(first.manifest, source_files=tuple(
        dataclasses.replace(f, sha256="0" * 64) for f in first.manifest.source_files))
    (first.root / MANIFEST_NAME).write_text(stale.dumps(), encoding="utf-8")
    rebuilt = resolve_pack("open")
    recorded = json.loads((rebuilt.root / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert all(f["sha256"] != "0" * 64 for f in recorded["source_files"])
    assert rebuilt.manifest.recognizer.sha256 == first.manifest.recognizer.sha256


# --- issue 12 fault 11: the open pack's hashes are pinned in models/open.json ------------------

PINNED = Path(__file__).resolve().parents[1] / "models" / "open.json"


def _pin() -> dict:
    import json

    return json.loads(PINNED.read_text(encoding="utf-8"))


def _rebuilt_differently(pack_root: Path) -> tuple[str, str]:
    """Re-save the installed recognizer as another converter version would (same network,
    other bytes) and make the pack's own manifest agree with it, as a rebuild would.
    Returns (pinned hash, new hash)."""
    import dataclasses

    from desktop.engine.manifest import load_manifest
    from desktop.engine.pack_store import MANIFEST_NAME

    manifest = load_manifest(pack_root / MANIFEST_NAME)
    path = pack_root / manifest.recognizer.file
    model = onnx.load(str(path))
    model.producer_version = "rebuilt-differently"
    onnx.save(model, str(path))
    new = sha256(path)
    rebuilt = dataclasses.replace(manifest, recognizer=dataclasses.replace(
        manifest.recognizer, sha256=new, size=path.stat().st_size))
    (pack_root / MANIFEST_NAME).write_text(rebuilt.dumps(), encoding="utf-8")
    return manifest.recognizer.sha256, new


def test_open_pack_pin_equals_what_the_build_produces(tmp_path, monkeypatch):
    """Issue 12 fault 11: the open pack's hashes were not pinned anywhere; the pin in
    models/open.json must equal what a fresh build (its own data folder) produces."""
    from desktop.engine.pack_install import install_pack

    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    pin = _pin()
    built = install_pack("open")
    assert built.root == tmp_path / "data" / "packs" / "open"
    for role in ("detector", "recognizer"):
        path = built.root / pin[role]["file"]
        assert sha256(path) == pin[role]["sha256"], role
        assert path.stat().st_size == pin[role]["size"], role
    sources = source_models_dir()
    assert {f["file"]: f["sha256"] for f in pin["source_files"]} == {
        name: sha256(sources / name) for name in (RESNET_SOURCE, PREDICTOR_SOURCE)}


def test_a_build_that_differs_from_the_pin_is_refused_naming_both_hashes(tmp_path, monkeypatch):
    """Issue 12 fault 11: a rebuild giving other bytes was installed silently (and then locked
    existing cases out); it must be refused with the pinned and the found SHA-256."""
    import json

    from desktop.engine.pack_install import install_pack
    from desktop.engine.pack_store import find_installed

    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    catalogue = tmp_path / "catalogue"
    catalogue.mkdir()
    pin = _pin()
    found = pin["recognizer"]["sha256"]
    pin["recognizer"]["sha256"] = "ab" * 32  # what an earlier conversion produced
    (catalogue / "open.json").write_text(json.dumps(pin), encoding="utf-8")
    monkeypatch.setenv("HOMEWARD_MANIFESTS", str(catalogue))
    with pytest.raises(ModelPackError) as caught:
        install_pack("open")
    text = str(caught.value)
    assert "ab" * 32 in text and found in text and RECOGNIZER_FILE in text
    assert find_installed("open") is None


def test_models_verify_refuses_an_open_pack_rebuilt_differently(tmp_path, monkeypatch, capsys):
    """Issue 12 fault 11: `models verify` compared the open pack with the hash it had computed
    itself, so a pack rebuilt with other bytes (its manifest agreeing) verified as OK."""
    from desktop.cli import main
    from desktop.engine.pack_install import install_pack

    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    pack = install_pack("open")
    assert main(["models", "verify", "open"]) == 0
    capsys.readouterr()
    pinned, new = _rebuilt_differently(pack.root)
    assert main(["models", "verify", "open"]) == 1
    out = capsys.readouterr().out
    assert RECOGNIZER_FILE in out and pinned in out and new in out


def test_models_verify_names_both_hashes_of_a_tampered_open_file(tmp_path, monkeypatch, capsys):
    """Issue 12 fault 11: a tampered file of the open pack is refused with both hashes."""
    from desktop.cli import main
    from desktop.engine.pack_install import install_pack

    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    pack = install_pack("open")
    path = pack.root / DETECTOR_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert main(["models", "verify", "open"]) == 1
    out = capsys.readouterr().out
    assert DETECTOR_FILE in out and _pin()["detector"]["sha256"] in out and sha256(path) in out


def _stage(dest: Path, catalogue: Path) -> subprocess.CompletedProcess[str]:

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "HOMEWARD_MANIFESTS": str(catalogue), "PYTHONPATH": str(repo)}
    return subprocess.run([sys.executable, str(repo / "packaging" / "stage_packs.py"), str(dest)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=repo)


def test_staging_a_bundle_checks_the_open_pack_against_its_pin(tmp_path):
    """Issue 12 fault 11: the bundle's `open` pack was staged with whatever hash the build
    gave; staging must ship the pinned bytes and refuse a build that differs from the pin."""
    import json

    good = _stage(tmp_path / "stage", PINNED.parent)
    assert good.returncode == 0, good.stderr
    staged = tmp_path / "stage" / "models"
    pin = _pin()
    assert json.loads((staged / "open.json").read_text(encoding="utf-8")) == pin
    for role in ("detector", "recognizer"):
        assert sha256(staged / "packs" / "open" / pin[role]["file"]) == pin[role]["sha256"]
    wrong = tmp_path / "catalogue"
    wrong.mkdir()
    found = pin["recognizer"]["sha256"]
    pin["recognizer"]["sha256"] = "cd" * 32
    (wrong / "open.json").write_text(json.dumps(pin), encoding="utf-8")
    bad = _stage(tmp_path / "stage2", wrong)
    assert bad.returncode != 0
    assert "cd" * 32 in bad.stderr and found in bad.stderr
    assert not (tmp_path / "stage2" / "models" / "packs" / "open").exists()
