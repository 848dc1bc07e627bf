"""Near-duplicates of a confirmed hit's image: the same picture resized, recompressed or
lightly edited, found by the PDQ hashes the scan records (desktop.media.pdq). An examiner
who confirms one image wants its copies named beside it ("12 resized or recompressed
copies"): each is a place the same picture was kept."""

from __future__ import annotations

import numpy as np
import sqlite_utils

from desktop.media.pdq import MIN_QUALITY, NEAR_DUPLICATE_BITS, distances, hash_matrix


def near_duplicates(db: sqlite_utils.Database, content_ids: set[int],
                    max_bits: int = NEAR_DUPLICATE_BITS) -> dict[int, list[dict]]:
    """For each content asked for, the other image contents within `max_bits` of its PDQ
    hash, nearest first: {content_id, sha256, distance, paths}. Hashes of low quality (flat
    or tiny images, which collide) neither ask nor answer."""
    rows = list(db.query("SELECT id, sha256, pdq FROM contents WHERE pdq IS NOT NULL AND "
                         "pdq_quality >= ?", [MIN_QUALITY]))
    if not rows or not content_ids:
        return {}
    matrix = hash_matrix([r["pdq"] for r in rows])
    paths: dict[int, list[str]] = {}
    found: dict[int, list[dict]] = {}
    for row in rows:
        if row["id"] not in content_ids:
            continue
        bits = distances(row["pdq"], matrix)
        near = [int(i) for i in np.argsort(bits, kind="stable")
                if bits[i] <= max_bits and rows[i]["id"] != row["id"]]
        if not near:
            continue
        if not paths:
            for f in db.query("SELECT f.content_id, s.label, f.rel_path FROM files f JOIN sources s "
                              "ON s.id = f.source_id WHERE f.content_id IS NOT NULL ORDER BY f.id"):
                paths.setdefault(f["content_id"], []).append(f"{f['label']} : {f['rel_path']}")
        found[row["id"]] = [{"content_id": rows[i]["id"], "sha256": rows[i]["sha256"],
                             "distance": int(bits[i]), "paths": paths.get(rows[i]["id"], [])}
                            for i in near]
    return found
