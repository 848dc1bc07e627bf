"""A score a reviewer can read whatever the pack: how often the pack's calibration saw an
impostor score as high, beside the raw cosine (whose scale differs between packs: one pack's
impostors score 0.3, another's 0.9).

A calibration made now keeps its highest impostor scores, so the estimate is read at the
hit's own score: the share of the calibration's impostor pairs that scored at least as
high (none did: 3 / pairs, the rule of three's 95 % bound, never zero). One made before
keeps a single operating point: at or above its threshold the estimate is its measured
rate there, an upper bound. Below that threshold, or with no calibration, nothing is
estimated: the raw score stands alone and says "uncalibrated".
"""

from __future__ import annotations

import json
from bisect import bisect_left
from dataclasses import dataclass, field

import sqlite_utils


@dataclass(frozen=True)
class CalibrationPoint:
    """What a case recorded of its pack's calibration (see engine.manifest.Calibration)."""

    pack_id: str
    calibration_id: str
    threshold: float
    fmr: float  # at the threshold, an upper bound for any higher score
    impostor_pairs: int = 0
    ascending_tail: tuple[float, ...] = field(default=(), repr=False)  # kept impostor scores

    def estimate(self, score: float, pack_id: str) -> float | None:
        """The false-match rate for a hit of `pack_id` scoring `score` (None: none)."""
        if pack_id != self.pack_id:
            return None
        tail = self.ascending_tail
        if not tail:
            return self.fmr if score >= self.threshold else None
        as_high = len(tail) - bisect_left(tail, score)
        if as_high == len(tail) < self.impostor_pairs and score < tail[0]:
            return None  # below every kept impostor score: too common to tell
        return (as_high or 3) / self.impostor_pairs


def case_calibration(db: sqlite_utils.Database) -> CalibrationPoint | None:
    """The calibration the case's threshold came from (None: the pack was uncalibrated)."""
    row = next(iter(db.query("SELECT value FROM case_info WHERE key = 'calibration'")), None)
    data = json.loads(row["value"]) if row else None
    if not data:
        return None
    fmr = data["measured_fmr"] or 3 / max(1, data["impostor_pairs"])
    return CalibrationPoint(data["pack_id"], data.get("id", ""), float(data["threshold"]),
                            float(fmr), int(data["impostor_pairs"]),
                            tuple(sorted(data.get("impostor_tail") or ())))


def fmr_text(fmr: float | None) -> str:
    """'FMR 1/1,000' (an impostor scores this high once in a thousand pairs) or
    'uncalibrated': what the table and the details show."""
    return "uncalibrated" if fmr is None else f"FMR 1/{round(1 / fmr):,}"
