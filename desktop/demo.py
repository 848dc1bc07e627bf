"""`homeward demo`: the whole flow on sample photos that installed packages ship.

A two-person gallery (insightface's Tom Hanks sample, scikit-image's astronaut photo) and a
small "seized" folder: altered copies of those photos (mirrored, recompressed, scaled, stored
sideways with an EXIF rotation), a group photo of strangers, a corrupt file and a text file.
The packages ship one photo per person, so the copies show the pipeline end to end; accuracy
across different photos is measured on LFW by the test suite.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import skimage
from PIL import Image

from desktop.engine.engine import EngineOptions, FaceEngine
from desktop.engine.pack_store import InstalledPack
from desktop.engine.self_test import CHECK_IMAGE
from desktop.engine.verification import primary_face
from desktop.match.persons import rank_persons
from desktop.media.decode import load_image
from desktop.scan.analyze import analyze_paths
from desktop.scan.inventory import iter_files

INSIGHTFACE_IMAGES = CHECK_IMAGE.parent
SKIMAGE_IMAGES = Path(skimage.__file__).parent / "data"
GALLERY = {"Tom Hanks": CHECK_IMAGE,
           "Eileen Collins (astronaut)": SKIMAGE_IMAGES / "astronaut.png"}


@dataclass(frozen=True)
class DemoHit:
    path: str
    person: str
    score: float
    box: list[float]


def _enlarge(image: np.ndarray, factor: float) -> np.ndarray:
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)


def build_seized_folder(root: Path) -> None:
    """Write the sample 'seized' folder (the demo's stand-in for a seized phone dump)."""
    hanks = _enlarge(cv2.imread(str(GALLERY["Tom Hanks"])), 3.0)
    astronaut = cv2.imread(str(GALLERY["Eileen Collins (astronaut)"]))
    (root / "DCIM" / "Camera").mkdir(parents=True)
    (root / "Downloads").mkdir()
    cv2.imwrite(str(root / "DCIM" / "Camera" / "IMG_0001.jpg"), cv2.flip(hanks, 1),
                [cv2.IMWRITE_JPEG_QUALITY, 70])
    shutil.copyfile(INSIGHTFACE_IMAGES / "t1.jpg", root / "DCIM" / "Camera" / "IMG_0002.jpg")
    sideways = Image.fromarray(cv2.cvtColor(cv2.resize(astronaut, (384, 384)), cv2.COLOR_BGR2RGB))
    sideways = sideways.transpose(Image.Transpose.ROTATE_90)
    exif = sideways.getexif()
    exif[0x0112] = 6  # stored sideways, shown upright
    sideways.save(root / "DCIM" / "Camera" / "IMG_0003.jpg", exif=exif, quality=85)
    shutil.copyfile(SKIMAGE_IMAGES / "camera.png", root / "Downloads" / "cameraman.png")
    whole = (INSIGHTFACE_IMAGES / "t1.jpg").read_bytes()
    (root / "Downloads" / "broken.jpg").write_bytes(whole[: len(whole) // 3])
    (root / "Downloads" / "notes.txt").write_text("shopping list", encoding="utf-8")


def run_demo(pack: InstalledPack, workdir: Path, options: EngineOptions,
             say: Callable[[str], None] = print) -> list[DemoHit]:
    """Enrol the gallery, scan the seized folder, print and return the hits."""
    engine = FaceEngine(pack, options)
    names, rows = [], []
    for name, path in GALLERY.items():
        image = load_image(path)
        bgr = _enlarge(image.bgr, 3.0) if max(image.width, image.height) < 200 else image.bgr
        face = primary_face(engine.analyze([bgr])[0], bgr.shape[1], bgr.shape[0])
        if face is None:
            say(f"  gallery: no face found in {path.name}; {name} not enrolled")
            continue
        names.append(name)
        rows.append(face.embedding)
        say(f"  gallery: enrolled {name} from {path.name}")
    seized = workdir / "seized"
    build_seized_folder(seized)
    threshold = pack.manifest.match_threshold
    hits: list[DemoHit] = []
    gallery = np.stack(rows) if rows else np.zeros((0, pack.manifest.recognizer.embedding_dim))
    for result in analyze_paths(iter_files([seized]), pack, options, workers=1):
        shown = Path(result.path).relative_to(seized)
        if result.error:
            say(f"  {shown}: not analysed ({result.error})")
            continue
        probes = np.stack([f.embedding for f in result.faces]) if result.faces else np.zeros((0, 1))
        best = [c for c in rank_persons(probes, gallery, np.arange(len(rows)), top_k=1)
                if c.score >= threshold]
        say(f"  {shown}: {len(result.faces)} face(s), {len(best)} candidate hit(s)")
        for candidate in best:
            box = [round(float(v)) for v in result.faces[candidate.probe].detection.box]
            hits.append(DemoHit(str(shown), names[candidate.person_id], candidate.score, box))
    say(f"Candidate hits (pack {pack.id}, threshold {threshold:.3f}) — each awaits human review:")
    for hit in hits:
        say(f"  {hit.person:<28} score {hit.score:.3f}  {hit.path}  box {hit.box}")
    if not hits:
        say("  none")
    return hits
