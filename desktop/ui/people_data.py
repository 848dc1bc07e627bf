"""The People page's background work: plain functions over the people services, run by
`TaskRunner` on worker threads, each on its own case connection (SQLite connections belong
to one thread). No Qt here.

These are the reads `homeward clusters`, `homeward search` and `homeward lab links` make,
plus what the page needs to draw them: each face's crop, context image and the width its box
is measured in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop.engine.pack_store import resolve_pack
from desktop.engine.types import ImageResult
from desktop.errors import ModelPackError
from desktop.people.case_people import Cluster, ClusterFace, SearchHit, list_clusters, pack_params
from desktop.people.case_people import search_faces as search_case
from desktop.people.lab_index import CaseEntry, CaseLinks, registered_links
from desktop.people.params import params_for
from desktop.scan.case import Case
from desktop.ui.gallery_work import Engine, analyze_photos
from desktop.ui.tasks import TaskControl


@dataclass(frozen=True)
class FaceImages:
    """Where a face is drawn from: file names under crops/ and thumbs/ (None: not made) and
    the width of the picture its box is measured in (the context image is scaled)."""

    crop: str | None
    thumbnail: str | None
    width: int | None
    det_score: float


@dataclass(frozen=True)
class People:
    clusters: list[Cluster]
    images: dict[int, FaceImages]  # face id -> its pictures
    cluster_of: dict[int, int | None]  # face id -> its cluster
    search_threshold: float  # the case's pack's default for search by face


def best_face(cluster: Cluster, images: dict[int, FaceImages]) -> ClusterFace:
    """The face a cluster is shown by: the detector's surest one with a crop."""
    def rank(face: ClusterFace) -> tuple[bool, float]:
        found = images.get(face.face_id)
        return (found is not None and found.crop is not None,
                found.det_score if found is not None else 0.0)
    return max(cluster.faces, key=rank)


def read_people(folder: Path) -> People:
    case = Case.open(folder)
    try:
        clusters = list_clusters(case.db)
        images = {r["id"]: FaceImages(r["crop"], r["thumbnail"], r["width"], r["det_score"])
                  for r in case.db.query(
                      "SELECT f.id, f.crop, f.thumbnail, f.det_score, c.width FROM faces f "
                      "JOIN contents c ON c.id = f.content_id")}
        threshold = _search_threshold(case)
    finally:
        case.close()
    cluster_of = {face.face_id: cluster.cluster_id for cluster in clusters for face in cluster.faces}
    return People(clusters, images, cluster_of, threshold)


def _search_threshold(case: Case) -> float:
    """The pack's default; a case opened where its pack is not installed still shows its people,
    with the default of its embeddings' kind (the dimension tells: see people/params.py)."""
    pack_id = case.info.pack_id
    try:
        return pack_params(resolve_pack(pack_id)).search
    except ModelPackError:
        row = next(case.db.query("SELECT length(embedding) / 4 AS dim FROM faces LIMIT 1"), None)
        return params_for(pack_id, int(row["dim"]) if row else 512).search


def search(folder: Path, query: np.ndarray, threshold: float) -> list[SearchHit]:
    """Every face of the case at or above `threshold` to the query, best first."""
    case = Case.open(folder)
    try:
        return search_case(case.db, query, threshold)
    finally:
        case.close()


def photo_faces(pack_id: str, provider: str, photo: Path, control: TaskControl) -> ImageResult:
    """The faces of a photo the investigator brings, embedded with the case's pack."""
    return analyze_photos(Engine(pack_id, provider, 1), [photo], control).results[Path(photo)]


def read_links(folder: Path) -> CaseLinks | None:
    """The case's cross-case links in the lab index it is registered in, each with its
    decision (None: not registered); the index may be on a slow shared volume."""
    case = Case.open(folder)
    try:
        info = case.info
        return registered_links(case.db, CaseEntry(info.case_id, info.case_number,
                                                   str(case.folder.resolve()), info.pack_id,
                                                   info.model_hashes))
    finally:
        case.close()
