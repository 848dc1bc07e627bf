"""A score a reviewer can read whatever the pack: the false-match rate the pack's calibration
measured, beside the raw cosine (whose scale differs between packs: one pack's impostors
score 0.3, another's 0.9).

A calibration records one operating point: at its threshold, `measured_fmr` of its impostor
pairs scored as high. A hit scoring at or above that threshold would match an impostor at
most that often, so the estimate is that rate, an upper bound (with no false match among
the impostor pairs: 3 / pairs, the rule of three's 95 % bound, never zero). Below the
calibrated threshold, or with no calibration, nothing is estimated: the raw score stands
alone and says "uncalibrated".
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils


@dataclass(frozen=True)
class CalibrationPoint:
    """What a case recorded of its pack's calibration (see engine.manifest.Calibration)."""

    pack_id: str
    calibration_id: str
    threshold: float
    fmr: float  # at the threshold, an upper bound for any higher score

    def estimate(self, score: float, pack_id: str) -> float | None:
        """The false-match rate bound for a hit of `pack_id` scoring `score` (None: none)."""
        return self.fmr if pack_id == self.pack_id and score >= self.threshold else None


def case_calibration(db: sqlite_utils.Database) -> CalibrationPoint | None:
    """The calibration the case's threshold came from (None: the pack was uncalibrated)."""
    row = next(iter(db.query("SELECT value FROM case_info WHERE key = 'calibration'")), None)
    data = json.loads(row["value"]) if row else None
    if not data:
        return None
    fmr = data["measured_fmr"] or 3 / max(1, data["impostor_pairs"])
    return CalibrationPoint(data["pack_id"], data.get("id", ""), float(data["threshold"]),
                            float(fmr))


def fmr_text(fmr: float | None) -> str:
    """'FMR ≤ 1/1,000' or 'uncalibrated': what the table and the details show."""
    return "uncalibrated" if fmr is None else f"FMR ≤ 1/{round(1 / fmr):,}"
