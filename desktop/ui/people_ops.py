"""The examiner's operations as the People page runs them: the people services' own calls
(as `desktop.people.operations` defines them, audited in the case record), each returning
what to tell the examiner. No Qt; each is one quick sealed write on the caller's connection.
"""

from __future__ import annotations

import sqlite_utils

from desktop.people import operations


def name(db: sqlite_utils.Database, examiner: str, cluster_id: int, text: str) -> str:
    operations.name_cluster(db, cluster_id, text, examiner)
    return f"Cluster {cluster_id} named."


def merge(db: sqlite_utils.Database, examiner: str, into: int, others: list[int]) -> str:
    """Every other cluster into `into`, one audited merge each."""
    for other in others:
        operations.merge_clusters(db, into, other, examiner)
    return f"{len(others) + 1} clusters merged into cluster {into}."


def split(db: sqlite_utils.Database, examiner: str, cluster_id: int, faces: list[int]) -> str:
    new = operations.split_faces(db, cluster_id, faces, examiner)
    return f"{len(faces)} face(s) split out of cluster {cluster_id} into cluster {new}."


def take_out(db: sqlite_utils.Database, examiner: str, cluster_id: int, faces: list[int]) -> str:
    operations.not_this_person(db, cluster_id, faces, examiner)
    return f"{len(faces)} face(s) taken out of cluster {cluster_id}, each alone."


def toggle_irrelevant(db: sqlite_utils.Database, examiner: str,
                      clusters: list[tuple[int, bool]]) -> str:
    """Each (cluster id, irrelevant now): irrelevant ones become relevant, the others not."""
    said = []
    for cluster_id, irrelevant in clusters:
        operations.mark_irrelevant(db, cluster_id, examiner, not irrelevant)
        said.append(f"cluster {cluster_id} {'relevant again' if irrelevant else 'marked irrelevant'}")
    return "; ".join(said).capitalize() + "."
