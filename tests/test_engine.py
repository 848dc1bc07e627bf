"""The face engine on real models and real faces: parity with insightface, batching, quality."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import FACEDATA, MODELS, require_shared

from desktop.engine.engine import EngineOptions, FaceEngine
from desktop.engine.quality import pose_from_landmarks
from desktop.engine.scrfd import detection_size


def parity_images() -> list[Path]:
    require_shared()
    picked = sorted((FACEDATA / "face_recognition").rglob("*.jp*g"))
    picked += sorted((FACEDATA / "celeba").rglob("*.jpg"))[:12]
    picked += sorted((FACEDATA / "insightface-rest" / "_multi").glob("*"))
    return [p for p in picked if p.is_file()]


@pytest.fixture(scope="module")
def full_size_engine(test_pack) -> FaceEngine:
    """Detection always at 640, as insightface does, so detections can be compared 1:1."""
    return FaceEngine(test_pack, EngineOptions(provider="cpu", det_min_side=0))


def test_per_face_parity_with_insightface(full_size_engine):
    from reference import InsightfaceReference

    reference = InsightfaceReference(MODELS / "scrfd_500m_kps.onnx", MODELS / "w600k_mbf_int8.onnx")
    compared = 0
    worst = 1.0
    for path in parity_images():
        image = cv2.imread(str(path))
        theirs = reference.analyze(image)
        ours = full_size_engine.analyze([image])[0]
        assert len(ours) == len(theirs), path
        for mine, ref in zip(ours, theirs, strict=True):
            assert np.abs(mine.detection.box - ref.box).max() < 0.5
            assert np.abs(mine.detection.landmarks - ref.landmarks).max() < 0.5
            cosine = float(np.dot(mine.embedding, ref.embedding))
            worst = min(worst, cosine)
            compared += 1
    print(f"\nparity: {compared} faces, worst cosine to insightface's path {worst:.6f}")
    assert compared >= 40
    assert worst >= 0.999


def test_a_face_gets_the_same_embedding_whatever_shares_its_batch(full_size_engine):
    images = [cv2.imread(str(p)) for p in parity_images()[:6]]
    detections = [(img, face) for img in images for face in full_size_engine.detect(img)]
    together = full_size_engine.embed(detections)
    alone = full_size_engine.embed(detections[:1])
    assert len(together) >= 6
    np.testing.assert_array_equal(together[0].embedding, alone[0].embedding)


def test_embeddings_are_unit_float32_and_match_the_pack(full_size_engine, test_pack):
    image = cv2.imread(str(parity_images()[0]))
    face = full_size_engine.analyze([image])[0][0]
    assert face.embedding.dtype == np.float32 and face.embedding.shape == (512,)
    assert abs(float(np.linalg.norm(face.embedding)) - 1.0) < 1e-5
    assert full_size_engine.model_hashes == test_pack.manifest.model_hashes
    assert full_size_engine.providers[0] == "CPUExecutionProvider"


def test_same_person_scores_higher_than_strangers(test_pack):
    engine = FaceEngine(test_pack, EngineOptions(provider="cpu"))
    root = FACEDATA / "face_recognition"
    def embed(rel: str) -> np.ndarray:
        return engine.analyze([cv2.imread(str(root / rel))])[0][0].embedding
    obama_a, obama_b = embed("Barack_Obama/obama.jpg"), embed("Barack_Obama/obama2.jpg")
    biden = embed("Joseph_Biden/biden.jpg")
    assert float(obama_a @ obama_b) > test_pack.manifest.match_threshold > float(obama_a @ biden)


def test_detection_size_keeps_aspect_and_never_exceeds_the_pack_size():
    assert detection_size(250, 250, 320, 640) == (320, 320)
    assert detection_size(4000, 3000, 320, 640) == (640, 480)
    assert detection_size(3000, 4000, 320, 640) == (480, 640)
    assert detection_size(1, 1, 320, 640) == (320, 320)
    assert detection_size(640, 100, 320, 640) == (640, 128)


def test_small_and_blurred_faces_are_flagged_not_dropped(test_pack):
    engine = FaceEngine(test_pack, EngineOptions(provider="cpu", det_min_side=0))
    image = cv2.imread(str(FACEDATA / "face_recognition" / "Barack_Obama" / "obama.jpg"))
    sharp = engine.analyze([image])[0][0]
    blurred = engine.analyze([cv2.GaussianBlur(image, (0, 0), 6)])[0]
    tiny_image = cv2.resize(image, None, fx=0.08, fy=0.08, interpolation=cv2.INTER_AREA)
    tiny = engine.analyze([tiny_image])[0]
    assert sharp.quality.ok, sharp.quality
    assert blurred and "blurry" in blurred[0].quality.flags
    assert blurred[0].quality.blur < sharp.quality.blur / 4
    assert tiny and "small" in tiny[0].quality.flags
    assert tiny[0].embedding.shape == (512,)


def test_pose_from_landmarks_reads_roll_and_yaw():
    from insightface.utils.face_align import arcface_dst

    yaw, pitch, roll = pose_from_landmarks(arcface_dst, "arcface5")
    assert abs(yaw) < 2 and abs(pitch) < 2 and abs(roll) < 1
    angle = np.radians(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    _, _, rolled = pose_from_landmarks(arcface_dst @ rotation.T, "arcface5")
    assert abs(rolled - 30) < 0.5
    turned = arcface_dst.copy()
    turned[2, 0] += 15  # nose far towards one eye: a turned head
    assert pose_from_landmarks(turned, "arcface5")[0] > 45


def test_exif_rotated_photo_faces_are_found_upright(test_pack, tmp_path):
    from PIL import Image

    from desktop.media.decode import load_image

    source = FACEDATA / "face_recognition" / "Barack_Obama" / "obama.jpg"
    upright = Image.open(source)
    sideways = upright.transpose(Image.Transpose.ROTATE_90)  # pixels stored sideways...
    exif = sideways.getexif()
    exif[0x0112] = 6  # ...and EXIF tells viewers to turn them back
    rotated = tmp_path / "rotated.jpg"
    sideways.save(rotated, exif=exif, quality=95)
    engine = FaceEngine(test_pack, EngineOptions(provider="cpu"))
    decoded = load_image(rotated)
    assert (decoded.width, decoded.height) == upright.size
    faces = engine.analyze([decoded.bgr])[0]
    stored = cv2.imread(str(rotated), cv2.IMREAD_IGNORE_ORIENTATION | cv2.IMREAD_COLOR)
    raw_faces = engine.analyze([stored])[0]
    assert len(faces) == 1 and faces[0].quality.ok
    assert abs(faces[0].quality.roll) < 15
    assert not raw_faces or abs(abs(raw_faces[0].quality.roll) - 90) < 30
