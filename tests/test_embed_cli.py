"""`homeward embed` end to end on a folder of real and hostile files: every file gets a line,
bad files get an error, and none of them stops the run."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from conftest import FACEDATA, TEST_PACK
from PIL import Image

FACE = FACEDATA / "face_recognition" / "Barack_Obama" / "obama.jpg"


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge image: a decompression bomb must be refused early."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def build_folder(root: Path) -> None:
    face = Image.open(FACE)
    (root / "nested" / "deeper").mkdir(parents=True)
    shutil.copyfile(FACE, root / "nested" / "deeper" / "face.jpg")
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.jpg").write_text("this is not an image", encoding="utf-8")
    whole = io.BytesIO()
    face.save(whole, "JPEG")
    (root / "truncated.jpg").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    Image.new("RGB", (1, 1), "white").save(root / "one_pixel.png")
    (root / "bomb.png").write_bytes(png_header_only(20000, 20000))
    face.convert("L").save(root / "gray.jpg")
    face.convert("CMYK").save(root / "cmyk.jpg")
    sixteen = (np.asarray(face.convert("L"), dtype=np.uint16) * 257)
    Image.fromarray(sixteen).save(root / "sixteen_bit.png")


def test_embed_writes_one_line_per_file_and_survives_bad_ones(test_pack, tmp_path, isolated_data_dir):
    folder = tmp_path / "seized"
    folder.mkdir()
    build_folder(folder)
    out = tmp_path / "faces.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "desktop", "embed", str(folder), "--pack", TEST_PACK,
         "--format", "jsonl", "-o", str(out), "--workers", "2"],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr  # unreadable files among them
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    by_name = {Path(r["path"]).name: r for r in lines}
    assert set(by_name) == {"face.jpg", "empty.jpg", "notes.jpg", "truncated.jpg", "one_pixel.png",
                            "bomb.png", "gray.jpg", "cmyk.jpg", "sixteen_bit.png"}
    for name in ("empty.jpg", "notes.jpg", "truncated.jpg", "bomb.png"):
        assert by_name[name]["error"], name
        assert by_name[name]["faces"] == []
    assert "empty" in by_name["empty.jpg"]["error"]
    assert "bomb" in by_name["bomb.png"]["error"]
    assert by_name["one_pixel.png"]["error"] is None and by_name["one_pixel.png"]["faces"] == []
    reference = by_name["face.jpg"]["faces"]
    assert len(reference) == 1
    ref_embedding = np.array(reference[0]["embedding"], dtype=np.float32)
    assert ref_embedding.shape == (512,)
    assert set(reference[0]) == {"box", "landmarks", "det_score", "quality", "embedding"}
    for name in ("gray.jpg", "cmyk.jpg", "sixteen_bit.png"):
        faces = by_name[name]["faces"]
        assert len(faces) == 1, name
        # Same person, other colour encodings: the embedding barely moves.
        assert float(np.dot(ref_embedding, faces[0]["embedding"])) > 0.8, name
    assert all(r["pack"] == TEST_PACK and r["model_hashes"] for r in lines)
    assert "9 files, 4 faces, 4 unreadable" in done.stderr


def test_embed_reports_a_missing_path_and_an_unknown_pack(tmp_path, test_pack):
    done = subprocess.run(
        [sys.executable, "-m", "desktop", "embed", str(tmp_path / "nope"), "--pack", TEST_PACK],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 1  # a missing path is a problem item
    line = json.loads(done.stdout.strip())
    assert line["error"] == "no such file or folder"
    unknown = subprocess.run([sys.executable, "-m", "desktop", "embed", str(tmp_path),
                              "--pack", "no_such_pack"], capture_output=True, text=True)
    assert unknown.returncode == 3
    assert "Model pack 'no_such_pack' is not installed" in unknown.stderr
