"""The README's main command: the demo on the embedded open pack, end to end."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from conftest import FACEDATA, require_shared

from desktop.engine.engine import EngineOptions, FaceEngine
from desktop.engine.pack_store import resolve_pack


def test_demo_finds_both_gallery_people_and_no_stranger(tmp_path):
    done = subprocess.run([sys.executable, "-m", "desktop", "demo", "--keep", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    hits = done.stdout.split("Candidate hits", 1)[1].splitlines()[1:]
    assert len(hits) == 2, done.stdout
    assert any("Tom Hanks" in h and "IMG_0001.jpg" in h for h in hits)
    assert any("Eileen Collins" in h and "IMG_0003.jpg" in h for h in hits)
    assert "IMG_0002.jpg: 6 face(s), 0 candidate hit(s)" in done.stdout  # six strangers
    assert "broken.jpg: not analysed (truncated image data)" in done.stdout
    assert (tmp_path / "d" / "seized" / "DCIM" / "Camera" / "IMG_0003.jpg").is_file()


def test_open_pack_embeddings_do_not_depend_on_batch_companions():
    require_shared()
    engine = FaceEngine(resolve_pack("open"), EngineOptions(provider="cpu"))
    images = [__import__("cv2").imread(str(p)) for p in
              sorted((FACEDATA / "face_recognition" / "Barack_Obama").glob("*.jpg"))[:5]]
    items = [(image, face) for image in images for face in engine.detect(image)]
    together = engine.embed(items)
    assert len(together) >= 5 and engine.recognizer.max_batch > 1
    for i in (0, len(items) - 1):
        alone = engine.embed(items[i:i + 1])[0]
        assert np.abs(alone.embedding - together[i].embedding).max() < 1e-5
