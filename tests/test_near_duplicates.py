"""Issue 14 point 6: images within a small PDQ distance of a confirmed hit's image are
linked to it in review. Real photos; the copies are made the way they arise on a phone
(resized, recompressed); a real scan records each image's PDQ hash."""

from __future__ import annotations

import shutil

import cv2
from conftest import FACEDATA, require_shared


def test_resized_and_recompressed_copies_are_named_beside_a_confirmed_hit(tmp_path, test_pack):
    from desktop.engine.engine import EngineOptions
    from desktop.gallery.fields import PersonFields
    from desktop.gallery.gallery import Gallery
    from desktop.gallery.imports import PackInfo, import_rows
    from desktop.gallery.sources import ImportRow
    from desktop.review.decisions import decide
    from desktop.review.queue import review_items
    from desktop.scan.analyze import analyze_paths
    from desktop.scan.case import Case, CaseInfo
    from desktop.scan.job import ScanJob

    require_shared()
    lfw = FACEDATA / "lfw"
    seized = tmp_path / "seized"
    (seized / "sent").mkdir(parents=True)
    original = lfw / "Abdullah" / "Abdullah_0001.jpg"
    shutil.copyfile(original, seized / "camera.jpg")
    image = cv2.imread(str(original))
    half = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(seized / "sent" / "small.jpg"), half, [cv2.IMWRITE_JPEG_QUALITY, 60])
    cv2.imwrite(str(seized / "sent" / "again.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 40])
    shutil.copyfile(lfw / "Abdullah" / "Abdullah_0002.jpg", seized / "another_photo.jpg")
    for stranger in sorted(lfw.glob("Aaron*/*.jpg"))[:2]:
        shutil.copyfile(stranger, seized / stranger.name)

    gallery = Gallery.create(tmp_path / "g.db")
    import_rows(gallery, [ImportRow("Abdullah", PersonFields(name="Abdullah"),
                                    lfw / "Abdullah" / "Abdullah_0003.jpg")],
                lambda p: analyze_paths(p, test_pack, EngineOptions(), 1),
                PackInfo(test_pack.id, test_pack.manifest.model_hashes), "t")
    case = Case.create(tmp_path / "case", CaseInfo(
        "ND-1", "Ada", str(seized), str(tmp_path / "g.db"), test_pack.id,
        test_pack.manifest.model_hashes, test_pack.manifest.match_threshold, 2.0, "",
        gallery_id=gallery.identity))
    try:
        ScanJob(case, test_pack, gallery, workers=1).run()
        items = review_items(case.db)
        assert all(item["near_duplicates"] == [] for item in items)  # nothing confirmed yet
        camera = next(i for i in items if i["path"] == "camera.jpg")
        decide(case.db, [camera["hit_id"]], "confirm", "Ada", "seen")
        confirmed = next(i for i in review_items(case.db) if i["hit_id"] == camera["hit_id"])
        copies = {c["paths"][0]: c["distance"] for c in confirmed["near_duplicates"]}
        assert set(copies) == {"seized : sent/small.jpg", "seized : sent/again.jpg"}, copies
        assert all(d <= 31 for d in copies.values())
        # Another photo of the same person is not a copy, however alike the faces.
        others = [i for i in review_items(case.db) if i["status"] == "pending"]
        assert all(i["near_duplicates"] == [] for i in others)
    finally:
        case.close()
        gallery.close()


def test_a_phone_size_photo_is_hashed_small_and_keeps_its_pdq_hash():
    """PDQ on a 12-megapixel photo costs about a second; the scan shrinks it first. The hash
    must stay the one PDQ gives the full image (within a few of the 31 bits that mean
    'the same picture'), and the same for a copy of another size."""
    import numpy as np
    import pdqhash

    from desktop.media.pdq import distances, hash_matrix, perceptual_hash

    require_shared()
    photo = cv2.imread(str(FACEDATA / "face_recognition" / "Barack_Obama" / "obama-1080p.jpg"))
    big = cv2.resize(photo, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    bits, _ = pdqhash.compute(np.ascontiguousarray(big[:, :, ::-1]))
    full = np.packbits(bits.astype(np.uint8)).tobytes().hex()
    small = perceptual_hash(big)
    assert small.quality >= 50
    assert distances(small.hex, hash_matrix([full]))[0] <= 16  # half the "same picture" bound
    assert distances(perceptual_hash(photo).hex, hash_matrix([small.hex]))[0] <= 16
