"""Clustering and search thresholds per pack, and which faces may seed a cluster.

Embedding spaces differ: the same cosine means different things for an ArcFace 512-D
recognizer (strangers near 0) and dlib's 128-D ResNet (strangers near 0.85), so every
threshold is chosen per pack, on labelled faces disjoint from those the benchmark reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Flags (desktop/engine/quality.py) that make an embedding unreliable: such a face may join
# a cluster it is clearly close to, but never starts one or joins two.
UNRELIABLE_FLAGS = frozenset({"small", "blurry", "profile", "low_score"})


def is_good(quality: Mapping[str, object]) -> bool:
    """True when a face (its stored `quality` JSON) is good enough to seed or bridge clusters."""
    flags = quality.get("flags") or ()
    return not UNRELIABLE_FLAGS.intersection(flags)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ClusterParams:
    """Cosine thresholds of one embedding space (see bench/clustering.py for how each was tuned)."""

    link: float  # two groups of good faces are one person when their mean cosine is >= this
    attach: float  # a low-quality face joins the cluster of a good face at least this close
    search: float  # search by face: default lowest cosine shown
    # Two clusters' templates are one person across cases at or above this. Templates are
    # means, so same-person pairs score higher than single faces and `link` is too lenient:
    # on the LFW/CelebA faces of bench/clustering.py split into two "cases" (~880 x 880
    # clusters, 235 people in both), ArcFace at 0.33 keeps recall 1.0 with ~19 false links
    # (precision 0.93), at 0.40 recall 0.996 with 1-4 (0.99); dlib at 0.95 recall 0.95,
    # precision 0.91 (0.94: 0.63).
    template_link: float


# Tuned on the LFW/CelebA identities of even index, reported on the odd ones (bench/clustering.py).
BY_FAMILY = {
    "arcface": ClusterParams(link=0.33, attach=0.40, search=0.32, template_link=0.40),
    "dlib_resnet": ClusterParams(link=0.94, attach=0.95, search=0.94, template_link=0.95),
}
BY_DIM = {512: "arcface", 128: "dlib_resnet"}


def params_for(pack_id: str, recognizer: str | int) -> ClusterParams:
    """A pack's thresholds, from its recognizer family ("arcface", "dlib_resnet") or dimension."""
    family = BY_DIM.get(recognizer, "arcface") if isinstance(recognizer, int) else recognizer
    if family not in BY_FAMILY:
        raise ValueError(f"no clustering thresholds for pack {pack_id!r} (recognizer {recognizer!r})")
    return BY_FAMILY[family]
