"""Face tracks on real video with the real models, plus the association rules on made-up faces."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import FACEDATA, require_shared

from desktop.engine.engine import EngineOptions, FaceEngine
from desktop.engine.types import DetectedFace, Face, FaceQuality
from desktop.scan.tracks import NON_OVERLAP_STRICTNESS, FrameFaces, Track, Tracker

VIDEOS = FACEDATA / "videos"
BOB = "WDA_BobMenendez_000.mp4"  # one talking head, 25 fps, 8 s
HAMILTON = "short_hamilton_clip.mp4"  # stage and audience, with cuts
CROWD = "facenet_pytorch_video.mp4"  # pedestrians, many faces per frame, 4.2 s
SAMPLES_PER_S = {BOB: 2.0, HAMILTON: 2.0, CROWD: 5.0}  # the short crowd clip denser, to make tracks


def sample_frames(name: str, per_s: float) -> list[tuple[int, float, np.ndarray]]:
    """(frame index, timestamp, BGR image) every 1/per_s seconds, decoded in order as a scan would."""
    require_shared()
    capture = cv2.VideoCapture(str(VIDEOS / name))
    assert capture.isOpened(), name
    fps = capture.get(cv2.CAP_PROP_FPS)
    step = max(1, round(fps / per_s))
    frames, index = [], 0
    while capture.grab():
        if index % step == 0:
            ok, image = capture.retrieve()
            assert ok, (name, index)
            frames.append((index, index / fps, image))
        index += 1
    capture.release()
    return frames


@pytest.fixture(scope="module")
def engine(test_pack) -> FaceEngine:
    return FaceEngine(test_pack, EngineOptions(provider="cpu"))


@pytest.fixture(scope="module")
def video_faces(engine) -> Callable[[str], list[FrameFaces]]:
    """Each video analysed once per module: the engine is the slow part."""
    cache: dict[str, list[FrameFaces]] = {}

    def faces_of(name: str) -> list[FrameFaces]:
        if name not in cache:
            frames = sample_frames(name, SAMPLES_PER_S[name])
            found = engine.analyze([image for _, _, image in frames])
            cache[name] = [FrameFaces(i, ts, faces) for (i, ts, _), faces in zip(frames, found, strict=True)]
        return cache[name]

    return faces_of


def build_tracks(frames: list[FrameFaces], threshold: float) -> list[Track]:
    tracker = Tracker(min_similarity=threshold)
    for frame in frames:
        tracker.update(frame)
    return tracker.finish()


def largest_face(engine: FaceEngine, path: Path) -> Face:
    faces = engine.analyze([cv2.imread(str(path))])[0]
    assert faces, path
    return max(faces, key=lambda f: float(np.prod(f.detection.box[2:] - f.detection.box[:2])))


@pytest.mark.parametrize("name", [BOB, HAMILTON, CROWD])
def test_every_face_lands_in_exactly_one_track_in_time_order(name, video_faces, test_pack):
    frames = video_faces(name)
    tracks = build_tracks(frames, test_pack.manifest.match_threshold)
    n_faces = sum(len(f.faces) for f in frames)
    print(f"\n{name}: {len(frames)} frames sampled, {n_faces} faces, {len(tracks)} tracks, "
          f"sizes {sorted((len(t) for t in tracks), reverse=True)}")
    assert n_faces > 0
    placed = [id(face) for track in tracks for _, _, face in track.members]
    assert sorted(placed) == sorted(id(face) for f in frames for face in f.faces)
    for track in tracks:
        indices = [i for i, _, _ in track.members]
        times = [t for _, t, _ in track.members]
        assert len(set(indices)) == len(indices), f"track {track.track_id} holds two faces of one frame"
        assert indices == sorted(indices) and times == sorted(times)
        assert track.first_s == times[0] and track.last_s == times[-1]


def test_one_talking_head_is_one_track(video_faces, test_pack):
    frames = video_faces(BOB)
    tracks = build_tracks(frames, test_pack.manifest.match_threshold)
    assert len(tracks) == 1, [len(t) for t in tracks]
    assert len(tracks[0]) >= 0.9 * len(frames)
    assert tracks[0].last_s - tracks[0].first_s >= 7.0  # the clip lasts 8 s


def test_track_template_is_closest_to_the_same_person_in_lfw(engine, video_faces, test_pack):
    template = build_tracks(video_faces(BOB), test_pack.manifest.match_threshold)[0].embedding()
    assert abs(float(np.linalg.norm(template)) - 1.0) < 1e-5
    lfw = FACEDATA / "lfw"
    same = float(np.dot(template, largest_face(engine, lfw / "Bob_Menendez" / "Bob_Menendez_0001.jpg")
                        .embedding))
    others = [p for p in sorted(lfw.iterdir()) if p.is_dir() and p.name != "Bob_Menendez"][:20]
    other_scores = {p.name: float(np.dot(template, largest_face(engine, sorted(p.glob("*.jpg"))[0])
                                         .embedding)) for p in others}
    closest = max(other_scores, key=other_scores.__getitem__)
    print(f"\ntemplate vs LFW Bob_Menendez {same:.3f}; best of 20 others {other_scores[closest]:.3f} "
          f"({closest})")
    assert same > max(other_scores.values())
    assert same >= test_pack.manifest.match_threshold


def test_best_ranks_a_blurred_copy_of_a_real_face_below_the_sharp_one(engine):
    index, _, image = sample_frames(BOB, SAMPLES_PER_S[BOB])[0]
    sharp, blurred = (engine.analyze([img])[0][0] for img in (image, cv2.GaussianBlur(image, (0, 0), 3)))
    assert blurred.quality.blur < sharp.quality.blur
    track = Track(0, [(index, 0.0, blurred), (index + 1, 0.04, sharp)])
    assert track.best(2)[0][2] is sharp


# Made-up faces: the association and ranking rules, one at a time.

THRESHOLD = 0.4


def fake_face(box=(100, 100, 200, 200), cosine: float = 1.0, *, det: float = 0.8, size: float = 100,
              blur: float = 300, yaw: float = 0.0, flags: tuple[str, ...] = ()) -> Face:
    """A face whose embedding has exactly `cosine` with the reference direction e0."""
    embedding = np.zeros(8, np.float32)
    embedding[0], embedding[1] = cosine, np.sqrt(max(0.0, 1 - cosine**2))
    detection = DetectedFace(np.asarray(box, np.float32), np.zeros((5, 2), np.float32), det)
    return Face(detection, FaceQuality(size, det, blur, yaw, 0.0, 0.0, flags), embedding)


def run(*frames: list[Face], step_s: float = 0.5) -> list[list[int]]:
    """Frame indices of each track."""
    tracker = Tracker(min_similarity=THRESHOLD)
    for i, faces in enumerate(frames):
        tracker.update(FrameFaces(i, i * step_s, faces))
    return [[i for i, _, _ in t.members] for t in tracker.finish()]


def test_overlapping_boxes_join_at_a_relaxed_similarity_and_distant_ones_need_the_full_one():
    relaxed = THRESHOLD * 0.9  # between 0.8 x and 1 x the threshold
    assert run([fake_face()], [fake_face(cosine=relaxed)]) == [[0, 1]]
    assert run([fake_face()], [fake_face((400, 100, 500, 200), relaxed)]) == [[0], [1]]
    # Without overlap, identity alone must carry the join: clearly above the threshold.
    strict = 1.0 - (1.0 - THRESHOLD) * NON_OVERLAP_STRICTNESS
    assert run([fake_face()], [fake_face((400, 100, 500, 200), THRESHOLD + 0.01)]) == [[0], [1]]
    assert run([fake_face()], [fake_face((400, 100, 500, 200), strict + 0.01)]) == [[0, 1]]
    assert run([fake_face()], [fake_face(cosine=THRESHOLD * 0.7)]) == [[0], [1]]


def test_a_long_gap_closes_a_track():
    assert run([fake_face()], [], [fake_face()], step_s=0.9) == [[0, 2]]
    assert run([fake_face()], [], [fake_face()], step_s=1.1) == [[0], [2]]


def test_two_faces_of_one_frame_never_share_a_track_and_the_better_fit_wins():
    near = fake_face((110, 100, 210, 200), 0.95)
    twin = fake_face((400, 100, 500, 200), 0.99)  # more alike, but far away: overlap adds to the score
    tracks = run([fake_face()], [twin, near])
    assert sorted(tracks) == [[0, 1], [1]]
    tracker = Tracker(min_similarity=THRESHOLD)
    tracker.update(FrameFaces(0, 0.0, [fake_face()]))
    tracker.update(FrameFaces(1, 0.5, [twin, near]))
    assert tracker.finish()[0].members[-1][2] is near


def test_frames_must_come_in_time_order():
    tracker = Tracker(min_similarity=THRESHOLD)
    tracker.update(FrameFaces(5, 1.0, []))
    with pytest.raises(ValueError):
        tracker.update(FrameFaces(5, 1.0, []))
    with pytest.raises(ValueError):
        tracker.update(FrameFaces(6, 0.5, []))


def test_best_prefers_sharp_large_confident_frontal_faces_and_puts_flagged_ones_last():
    sharp = fake_face(det=0.80, blur=400)
    blurred = fake_face(det=0.82, blur=40)  # a blurred copy may score higher on detection
    small = fake_face(size=30, blur=400)
    profile = fake_face(yaw=60, blur=400)
    flagged = fake_face(det=0.99, size=300, blur=2000, flags=("tilted",))
    track = Track(0, [(i, i * 0.5, f) for i, f in enumerate([flagged, profile, small, blurred, sharp])])
    ranked = [m[2] for m in track.best(5)]
    assert ranked[0] is sharp and ranked[-1] is flagged
    assert {id(f) for f in ranked[1:4]} == {id(blurred), id(small), id(profile)}
    assert len(track.best()) == 3 and len(track) == 5


def test_template_is_the_normalised_mean_of_the_best_members():
    a, b, c = fake_face(cosine=1.0, blur=900), fake_face(cosine=0.0, blur=800), fake_face(cosine=0.5, blur=1)
    template = Track(0, [(0, 0.0, c), (1, 0.5, a), (2, 1.0, b)]).embedding(n=2)
    expected = (a.embedding + b.embedding) / np.linalg.norm(a.embedding + b.embedding)
    np.testing.assert_allclose(template, expected, atol=1e-6)
