"""Threshold calibration (`homeward models calibrate`): a match threshold chosen for a stated
false-match rate on labelled real photos, recorded with the data set's hash, and then the
pack's default for new cases. Real pack (SCRFD-500M + int8 MobileFaceNet), real LFW photos.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import FACEDATA, TEST_PACK, lfw_pairs, require_shared

from desktop.cli import main
from desktop.engine.calibration import (
    LabelledPhotos,
    calibrate,
    calibration_of,
    embeddings_of,
    folder_photos,
    pair_scores,
    pairs_photos,
    photo_paths,
)
from desktop.engine.engine import EngineOptions
from desktop.engine.manifest import calibration_to_dict, load_manifest
from desktop.engine.pack_store import (
    MANIFEST_NAME,
    calibration_file,
    find_installed,
    record_calibration,
    resolve_pack,
)
from desktop.engine.verification import kfold_fmr, scored, threshold_for_fmr
from desktop.errors import HomewardError, ModelPackError
from desktop.scan.analyze import analyze_paths

LFW = FACEDATA / "lfw"
# 5 folds x 300 impostor pairs: a threshold chosen on 4 folds (1200 impostor pairs) for a
# false-match rate of 0.01 lets 12 of them match, and 15 false matches are expected among the
# 1500 held-out ones (Poisson sd ~3.9, so a factor of 2 is ~2 sd). The default 0.001 would let
# 1.2 training impostors match: no data set of this size can resolve it.
HELD_OUT_FMR = 0.01


@pytest.fixture(scope="module")
def lfw_embedded(test_pack) -> tuple[LabelledPhotos, dict]:
    """Every photo of LFW pairs.txt embedded once, shared by the tests below."""
    require_shared()
    photos = pairs_photos(LFW / "pairs.txt")
    results = analyze_paths(photo_paths(photos), test_pack, EngineOptions(provider="cpu"))
    return photos, embeddings_of(photos, results)


@pytest.fixture
def own_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_pack) -> Path:
    """A data folder of its own holding a copy of the shared test pack (calibrating writes)."""
    data = tmp_path / "data"
    shutil.copytree(test_pack.root, data / "packs" / TEST_PACK)
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(data))
    return data


def small_pairs(tmp_path: Path, per_fold: int = 30) -> Path:
    """The first folds of LFW pairs.txt cut short: a fast data set for the command's tests."""
    pairs = lfw_pairs()
    lines = [f"2\t{per_fold}"]
    for fold in (0, 1):
        for same in (True, False):
            chosen = [p for p in pairs if p.fold == fold and p.same == same][:per_fold]
            for p in chosen:
                (a_name, a_file), (b_name, b_file) = (Path(p.a).parts, Path(p.b).parts)
                a_no, b_no = (int(f.rsplit("_", 1)[1][:4]) for f in (a_file, b_file))
                lines.append(f"{a_name}\t{a_no}\t{b_no}" if same else
                             f"{a_name}\t{a_no}\t{b_name}\t{b_no}")
    path = tmp_path / "pairs.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_threshold_chosen_on_other_folds_holds_the_stated_rate_on_held_out_lfw(test_pack,
                                                                               lfw_embedded):
    """Calibration evidence: on LFW pairs.txt the threshold chosen on four folds for a stated
    false-match rate gives, on the held-out fold, a rate within a factor of 2 of it."""
    photos, embeddings = lfw_embedded
    scores, same, folds = pair_scores(photos, embeddings)
    pooled, per_fold = kfold_fmr(scores, same, folds, HELD_OUT_FMR)
    calibration = calibrate(test_pack, photos, embeddings, HELD_OUT_FMR)
    print(f"\nLFW, stated FMR {HELD_OUT_FMR}: held-out FMR {pooled:.4f} (per fold "
          f"{', '.join(f'{f:.4f}' for f in per_fold)}); threshold on all pairs "
          f"{calibration.threshold:.4f}, FMR {calibration.measured_fmr:.4f}, "
          f"FNMR {calibration.measured_fnmr:.4f}, {calibration.unscored_pairs} pairs unscored")
    assert HELD_OUT_FMR / 2 <= pooled <= HELD_OUT_FMR * 2
    assert calibration.heldout_fmr == pooled
    assert calibration.genuine_pairs + calibration.impostor_pairs + calibration.unscored_pairs == 3000
    assert calibration.impostor_pairs >= 1450 and calibration.measured_fmr <= HELD_OUT_FMR
    # On its own pairs the chosen threshold allows exactly floor(rate x impostors) matches.
    assert round(calibration.measured_fmr * calibration.impostor_pairs) == \
        int(HELD_OUT_FMR * calibration.impostor_pairs)
    assert 0.0 < calibration.measured_fnmr < 0.1
    # Every impostor score is kept (LFW has fewer than IMPOSTOR_TAIL), highest first: a hit's
    # false-match rate is read at its own score, not only at the threshold (issue 15).
    impostors = np.sort(scores[scored(scores) & ~same])[::-1]
    assert len(calibration.impostor_tail) == calibration.impostor_pairs == len(impostors)
    assert np.allclose(calibration.impostor_tail, impostors, atol=1e-6)
    assert list(calibration.impostor_tail) == sorted(calibration.impostor_tail, reverse=True)


def test_a_calibration_made_before_impostor_scores_were_kept_keeps_its_id():
    """Stored calibrations and the cases that quote them name it by id: adding the impostor
    scores to the record must not change the id of one made without them."""
    from desktop.engine.manifest import Calibration, calibration_from_dict

    old = {"pack_id": "p", "model_hashes": {"detector": "a" * 64, "recognizer": "b" * 64},
           "threshold": 0.4, "target_fmr": 0.001, "measured_fmr": 0.0007, "measured_fnmr": 0.05,
           "genuine_pairs": 1500, "impostor_pairs": 1500, "unscored_pairs": 0,
           "heldout_fmr": None, "dataset": "pairs file pairs.txt", "dataset_sha256": "c" * 64,
           "created_at": "2026-01-01T00:00:00+00:00"}
    digest = hashlib.sha256(json.dumps(old, sort_keys=True, separators=(",", ":")).encode()
                            ).hexdigest()[:16]
    assert calibration_from_dict({**old, "id": digest}, "test").id == digest
    assert Calibration(**old, impostor_tail=(0.5, 0.3)).id != digest


def test_a_rate_the_impostor_pairs_cannot_resolve_is_refused():
    impostors = np.linspace(-0.2, 0.4, 500)
    with pytest.raises(HomewardError, match=r"cannot resolve a false-match rate of 0\.001"):
        threshold_for_fmr(impostors, 0.001)
    threshold = threshold_for_fmr(impostors, 0.01)  # 5 of 500 may match
    assert int(np.sum(impostors >= threshold)) == 5


def test_calibrate_records_the_threshold_and_new_cases_use_it(tmp_path, own_pack, capsys):
    """`models calibrate --pairs`: JSON out, recorded in the pack's installed manifest and the
    user data folder, and the pack's default threshold for new cases becomes the calibrated one."""
    before = resolve_pack(TEST_PACK)
    assert before.manifest.calibration is None and calibration_of(before) is None
    pairs = small_pairs(tmp_path)
    assert main(["models", "calibrate", "--pack", TEST_PACK, "--pairs", str(pairs), "--images",
                 str(LFW), "--fmr", "0.05", "--provider", "cpu", "--workers", "1",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    pack = resolve_pack(TEST_PACK)
    calibration = calibration_of(pack)
    assert calibration is not None and out["id"] == calibration.id
    assert {k: v for k, v in out.items() if k != "recorded_in"} == calibration_to_dict(calibration)
    assert calibration.model_hashes == pack.manifest.model_hashes
    assert calibration.genuine_pairs + calibration.impostor_pairs + calibration.unscored_pairs == 120
    assert calibration.target_fmr == 0.05 and calibration.measured_fmr <= 0.05
    assert calibration.heldout_fmr is not None and len(calibration.dataset_sha256) == 64
    assert sorted(out["recorded_in"]) == sorted(
        [str(own_pack / "packs" / TEST_PACK / MANIFEST_NAME),
         str(calibration_file(TEST_PACK, pack.manifest.model_hashes))])
    assert load_manifest(pack.root / MANIFEST_NAME).calibration == calibration
    assert pack.manifest.match_threshold == calibration.threshold != before.manifest.match_threshold
    assert calibration.id in pack.manifest.threshold_source

    from desktop.gallery.gallery import Gallery
    from desktop.scan.start import ScanRequest, open_case_for

    Gallery.create(tmp_path / "g.db").close()
    (tmp_path / "seized").mkdir()
    case = open_case_for(ScanRequest((tmp_path / "seized",), tmp_path / "case", tmp_path / "g.db",
                                     "Examiner"), pack)
    try:
        assert case.info.match_threshold == calibration.threshold
    finally:
        case.close()


def test_calibrate_table_output_names_rates_counts_and_data_set(tmp_path, own_pack, capsys):
    pairs = small_pairs(tmp_path)
    assert main(["models", "calibrate", "--pack", TEST_PACK, "--pairs", str(pairs), "--images",
                 str(LFW), "--fmr", "0.05", "--provider", "cpu", "--workers", "1"]) == 0
    captured = capsys.readouterr()
    calibration = calibration_of(resolve_pack(TEST_PACK))
    for text in (calibration.id, f"{calibration.threshold:.4f}", calibration.dataset_sha256,
                 f"of {calibration.impostor_pairs} impostor pairs",
                 f"of {calibration.genuine_pairs} genuine pairs", "pairs.txt (120 pairs, 2 folds)"):
        assert text in captured.out, text
    assert "coarse" in captured.err  # 60 impostor pairs at 0.05: 3 false matches allowed


def people_folder(base: Path, persons: int = 8, photos: int = 3) -> Path:
    """A folder per person of real LFW photos (persons with enough photos)."""
    require_shared()
    chosen = [d for d in sorted(LFW.iterdir()) if d.is_dir() and len(list(d.glob("*.jpg"))) >= photos]
    for person in chosen[:persons]:
        (base / person.name).mkdir(parents=True)
        for photo in sorted(person.glob("*.jpg"))[:photos]:
            shutil.copyfile(photo, base / person.name / photo.name)
    return base


def test_a_shipped_read_only_pack_is_calibrated_in_the_user_data_folder(tmp_path, own_pack,
                                                                        monkeypatch, capsys):
    """A shipped pack's manifest is never written: the calibration goes to the user data
    folder, keyed by pack id and model hashes, and still sets the pack's default threshold."""
    bundle = tmp_path / "bundle" / "models"
    shutil.move(own_pack / "packs" / TEST_PACK, bundle / "packs" / TEST_PACK)
    monkeypatch.setenv("HOMEWARD_MANIFESTS", str(bundle))
    shipped = {p.name: p.read_bytes() for p in (bundle / "packs" / TEST_PACK).iterdir()}
    people = people_folder(tmp_path / "people")
    assert main(["models", "calibrate", "--pack", TEST_PACK, "--people", str(people),
                 "--fmr", "0.05", "--provider", "cpu", "--workers", "1", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    pack = find_installed(TEST_PACK)
    assert pack.root == bundle / "packs" / TEST_PACK
    assert out["recorded_in"] == [str(calibration_file(TEST_PACK, pack.manifest.model_hashes))]
    assert {p.name: p.read_bytes() for p in pack.root.iterdir()} == shipped
    calibration = calibration_of(pack)
    assert calibration.id == out["id"] and pack.manifest.match_threshold == calibration.threshold
    assert (calibration.genuine_pairs, calibration.impostor_pairs) == (8 * 3, 24 * 23 // 2 - 24)
    assert calibration.heldout_fmr is None  # a folder data set has no folds


def test_the_data_set_hash_covers_every_photo_and_label(tmp_path):
    people = people_folder(tmp_path / "people", persons=3, photos=2)
    first = folder_photos(people).sha256()
    assert folder_photos(people).sha256() == first
    photo = next(people.rglob("*.jpg"))
    data = bytearray(photo.read_bytes())
    data[-10] ^= 1
    photo.write_bytes(bytes(data))
    changed = folder_photos(people).sha256()
    assert changed != first
    person = photo.parent
    other = next(d for d in people.iterdir() if d != person)
    sibling = next(p for p in person.iterdir() if p != photo)
    shutil.move(sibling, other / sibling.name)  # the same photo under another person's label
    assert folder_photos(people).sha256() not in (first, changed)


def test_a_calibration_of_other_models_or_edited_after_the_fact_never_applies(tmp_path, own_pack):
    pack = resolve_pack(TEST_PACK)
    people = people_folder(tmp_path / "people")
    photos = folder_photos(people)
    embeddings = embeddings_of(photos, analyze_paths(photo_paths(photos), pack,
                                                     EngineOptions(provider="cpu"), 1))
    calibration = calibrate(pack, photos, embeddings, 0.05)
    other = dataclasses.replace(calibration, model_hashes={**calibration.model_hashes,
                                                           "recognizer": "0" * 64})
    with pytest.raises(ModelPackError, match="changed while it was being calibrated"):
        record_calibration(pack, other)
    assert calibration_of(pack) is None
    record_calibration(pack, calibration)
    assert calibration_of(pack) == calibration
    side = calibration_file(TEST_PACK, pack.manifest.model_hashes)
    edited = {**json.loads(side.read_text(encoding="utf-8")), "threshold": 0.99}
    side.write_text(json.dumps(edited), encoding="utf-8")
    with pytest.raises(ModelPackError, match="was changed after it was made"):
        resolve_pack(TEST_PACK)
