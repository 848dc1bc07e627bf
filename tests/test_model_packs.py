"""Model packs: manifests, import from folder and zip, hash and role checks, install."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import MODELS, pack_source

from desktop.engine.manifest import load_manifest, manifest_from_dict
from desktop.engine.pack_install import import_pack, install_pack
from desktop.engine.pack_store import (
    catalogue,
    find_installed,
    installed_packs,
    packs_dir,
    resolve_pack,
    verify_pack,
)
from desktop.errors import ModelPackError


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def leftovers() -> list[str]:
    root = packs_dir()
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def manifest_dict(det: Path, rec: Path, **changes) -> dict:
    data = {
        "id": "custom", "licence": "test", "match_threshold": 0.3,
        "detector": {"file": det.name, "family": "scrfd", "sha256": sha(det),
                     "size": det.stat().st_size},
        "recognizer": {"file": rec.name, "family": "arcface", "sha256": sha(rec),
                       "size": rec.stat().st_size, "embedding_dim": 512},
    }
    data.update(changes)
    return data


def test_catalogue_lists_the_insightface_packs_with_pinned_hashes():
    known = catalogue()
    assert {"buffalo_l", "buffalo_s", "buffalo_sc"} <= set(known)
    buffalo_l = known["buffalo_l"]
    assert buffalo_l.detector.file == "det_10g.onnx" and buffalo_l.recognizer.file == "w600k_r50.onnx"
    assert buffalo_l.detector.sha256.startswith("5838f7fe")
    # The shared SCRFD-500M file is byte-identical to buffalo_s/sc's det_500m.onnx.
    assert known["buffalo_sc"].detector.sha256 == sha(pack_source_file("scrfd_500m_kps.onnx"))


def pack_source_file(name: str) -> Path:
    from conftest import require_shared

    require_shared()
    return MODELS / name


@pytest.mark.parametrize("change, message", [
    ({"detector": {"file": "d.onnx", "family": "yolo", "sha256": "a" * 64}}, "unknown detector family"),
    ({"recognizer": {"file": "r.onnx", "family": "arcface", "sha256": "xyz"}}, "not a SHA-256"),
    ({"detector": {"file": "../d.onnx", "family": "scrfd", "sha256": "a" * 64}}, "not a plain name"),
    ({"match_threshold": 7}, "match_threshold"),
    ({"metric": "euclidean"}, "unknown metric"),
    ({"schema": 99}, "schema"),
])
def test_bad_manifests_name_the_field_at_fault(change, message):
    good = {"id": "x", "licence": "l", "match_threshold": 0.3,
            "detector": {"file": "d.onnx", "family": "scrfd", "sha256": "a" * 64},
            "recognizer": {"file": "r.onnx", "family": "arcface", "sha256": "b" * 64}}
    manifest_from_dict(good, "good")  # the baseline is valid
    with pytest.raises(ModelPackError, match=message):
        manifest_from_dict({**good, **change}, "bad")


def test_missing_field_and_unreadable_json(tmp_path: Path):
    with pytest.raises(ModelPackError, match="detector lacks the field 'file'"):
        manifest_from_dict({"id": "x", "match_threshold": 0.3, "detector": {}}, "m")
    broken = tmp_path / "pack.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelPackError, match="Cannot read"):
        load_manifest(broken)


def test_import_folder_without_manifest_reads_roles_from_graphs(tmp_path, own_data_dir):
    source = pack_source(tmp_path / "src")
    pack = import_pack(source, pack_id="mine")
    assert pack.manifest.detector.file == "scrfd_500m_kps.onnx"
    assert pack.manifest.recognizer.file == "w600k_mbf_int8.onnx"
    assert pack.manifest.recognizer.embedding_dim == 512
    assert all(check.ok for check in verify_pack(pack))
    assert leftovers() == ["mine"]


def test_import_zip_with_top_folder_and_reinstall_needs_replace(tmp_path, own_data_dir):
    source = pack_source(tmp_path / "src")
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in source.iterdir():
            zf.write(f, f"mypack/{f.name}")
    pack = import_pack(archive, pack_id="zipped")
    assert pack.root == packs_dir() / "zipped"
    with pytest.raises(ModelPackError, match="already installed"):
        import_pack(archive, pack_id="zipped")
    assert import_pack(archive, pack_id="zipped", replace=True).id == "zipped"
    assert leftovers() == ["zipped"]


def test_zip_slip_is_refused_and_nothing_is_written(tmp_path, own_data_dir):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("det.onnx", b"x")
        zf.writestr("../../escaped.txt", b"gotcha")
    with pytest.raises(ModelPackError, match="unsafe path"):
        import_pack(archive)
    assert not (tmp_path / "escaped.txt").exists()
    assert not list(tmp_path.rglob("escaped.txt"))
    assert leftovers() == []


def test_zip_bomb_is_refused(tmp_path, own_data_dir):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("det.onnx", b"\0" * (20 << 20))
    with pytest.raises(ModelPackError, match="zip bomb"):
        import_pack(archive)
    assert leftovers() == []


def test_wrong_hash_against_the_catalogue_is_refused(tmp_path, own_data_dir):
    # The shared detector IS buffalo_sc's det_500m.onnx; the int8 recognizer is NOT its
    # published w600k_mbf.onnx, so the import must fail on that file's hash.
    source = tmp_path / "buffalo_sc"
    source.mkdir()
    (source / "det_500m.onnx").write_bytes(pack_source_file("scrfd_500m_kps.onnx").read_bytes())
    (source / "w600k_mbf.onnx").write_bytes(pack_source_file("w600k_mbf_int8.onnx").read_bytes())
    with pytest.raises(ModelPackError, match="failed verification") as info:
        import_pack(source)
    assert "w600k_mbf.onnx: hash" in info.value.detail
    assert "det_500m.onnx" not in info.value.detail
    assert leftovers() == []


def test_truncated_file_is_reported_as_truncated(tmp_path, own_data_dir):
    source = pack_source(tmp_path / "src")
    det, rec = source / "scrfd_500m_kps.onnx", source / "w600k_mbf_int8.onnx"
    (source / "pack.json").write_text(json.dumps(manifest_dict(det, rec)), encoding="utf-8")
    data = rec.read_bytes()
    rec.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelPackError) as info:
        import_pack(source)
    assert "w600k_mbf_int8.onnx: truncated" in info.value.detail
    assert leftovers() == []


def test_detector_where_recognizer_belongs_is_refused(tmp_path, own_data_dir):
    source = pack_source(tmp_path / "src")
    det = source / "scrfd_500m_kps.onnx"
    rec = source / "w600k_mbf_int8.onnx"
    swapped = manifest_dict(rec, det)
    swapped["detector"]["family"], swapped["recognizer"]["family"] = "scrfd", "arcface"
    (source / "pack.json").write_text(json.dumps(swapped), encoding="utf-8")
    with pytest.raises(ModelPackError, match=r"declared as the detector .* but is a face recognizer"):
        import_pack(source)
    assert leftovers() == []


def test_folder_with_two_detectors_is_ambiguous(tmp_path, own_data_dir):
    source = pack_source(tmp_path / "src")
    (source / "second.onnx").write_bytes(pack_source_file("scrfd_2.5g_kps.onnx").read_bytes())
    with pytest.raises(ModelPackError, match="exactly one face detector"):
        import_pack(source)


def test_not_a_model_is_refused(tmp_path, own_data_dir):
    source = pack_source(tmp_path / "src")
    (source / "w600k_mbf_int8.onnx").write_text("not a model", encoding="utf-8")
    with pytest.raises(ModelPackError, match="not a readable ONNX model"):
        import_pack(source)


def _catalogue_with(tmp_path: Path, monkeypatch, url: str, zip_sha: str | None) -> None:
    det = pack_source_file("scrfd_500m_kps.onnx")
    rec = pack_source_file("w600k_mbf_int8.onnx")
    data = manifest_dict(det, rec, id="remote", source={"url": url, "sha256": zip_sha})
    folder = tmp_path / "catalogue"
    folder.mkdir()
    (folder / "remote.json").write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setenv("HOMEWARD_MANIFESTS", str(folder))


def test_install_downloads_verifies_and_installs(tmp_path, own_data_dir, monkeypatch):
    source = pack_source(tmp_path / "src")
    archive = tmp_path / "remote.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in source.iterdir():
            zf.write(f, f.name)
    _catalogue_with(tmp_path, monkeypatch, archive.as_uri(), sha(archive))
    seen = []
    pack = install_pack("remote", progress=lambda done, total: seen.append(done))
    assert pack.id == "remote" and all(c.ok for c in verify_pack(pack))
    assert seen and seen[-1] == archive.stat().st_size


def test_install_rejects_a_download_with_the_wrong_hash(tmp_path, own_data_dir, monkeypatch):
    archive = tmp_path / "remote.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("x.onnx", b"tampered")
    _catalogue_with(tmp_path, monkeypatch, archive.as_uri(), "0" * 64)
    with pytest.raises(ModelPackError, match="does not match its published SHA-256"):
        install_pack("remote")
    assert find_installed("remote") is None
    assert leftovers() == []


def test_install_fails_cleanly_offline(tmp_path, own_data_dir, monkeypatch):
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    _catalogue_with(tmp_path, monkeypatch, "http://127.0.0.1:9/remote.zip", None)
    with pytest.raises(ModelPackError, match="Could not download") as info:
        install_pack("remote")
    assert "homeward models import" in info.value.detail
    assert leftovers() == []


def test_shipped_packs_are_used_and_never_written_and_user_installs_shadow_them(
        tmp_path, own_data_dir, monkeypatch):
    models = tmp_path / "bundle" / "models"
    shipped = models / "packs" / "mine"
    source = pack_source(tmp_path / "src")
    pack = import_pack(source, pack_id="mine")
    shutil.copytree(pack.root, shipped)
    shutil.rmtree(pack.root)
    files = {path.name: sha(path) for path in shipped.iterdir()}
    monkeypatch.setenv("HOMEWARD_MANIFESTS", str(models))
    assert find_installed("mine").root == shipped
    assert resolve_pack(None).root == shipped  # the only pack besides `open`: the default
    assert [p.root for p in installed_packs()[0]] == [shipped]
    assert all(check.ok for check in verify_pack(find_installed("mine")))
    mine = import_pack(source, pack_id="mine")  # into the user's folder, beside the shipped
    assert mine.root == packs_dir() / "mine"
    assert find_installed("mine").root == mine.root
    assert [p.root for p in installed_packs()[0]] == [mine.root]
    assert {path.name: sha(path) for path in shipped.iterdir()} == files
