"""Regional quality per cardiac cycle, segment approval per measurement, the best cycle, and why.

The paper's uses of regional quality beyond guiding: pick the best cardiac cycle for a
measurement, and approve or reject each myocardial segment for it (EF and GLS need the whole
myocardium, MAPSE only the annulus).

Per cycle and region: the median score over the cycle, and the median in each phase: "ED" and
"ES" (frames within PHASE_WINDOW_S of the marked frame), "systole" (ED to ES) and "diastole" (ES
to the end of the cycle). A measurement needs its regions in its phases (MEASUREMENTS); a
region's quality for it is the worst of those phase medians:
- approved   at APPROVED_MIN_SCORE or more (its category is "ok" or better),
- borderline from BORDERLINE_MIN_SCORE (the upper half of "poor"),
- rejected   below, or when the region was not found (out of sector, no segmentation).
The measurement is feasible in a cycle when all its regions are approved. The best cycle of a
recording is the feasible one whose weakest region is best (ties: the best mean; then complete
before partial); without a feasible cycle, the one that comes closest.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from echoquality.core.cycles import Cycle

APPROVED_MIN_SCORE = 2.5     # category "ok" (3) or better: the score rounds to 3 or more
BORDERLINE_MIN_SCORE = 2.0   # the upper half of "poor"
PHASE_WINDOW_S = 0.05        # the ED and ES phases: frames within this of the marked frame
APPROVED, BORDERLINE, REJECTED = "approved", "borderline", "rejected"
PHASES = ("ED", "systole", "ES", "diastole")
CATEGORY_WORDS = ("not visible", "poor", "ok", "good", "excellent")   # scores 1..5
MAX_NAMED = 2                # an explanation names at most this many walls or regions
TRACE_POINTS = 20            # quality traces aligned to the cycle: this many points from its start to its end

MYOCARDIAL = (0, 1, 2, 3, 4, 5)   # basal/mid/apical left, apical/mid/basal right (REGION_NAMES order)
ANNULUS = (6, 7)
LEVELS = ("basal", "mid", "apical", "apical", "mid", "basal")


@dataclass(frozen=True)
class Measurement:
    """A measurement, the regions it needs (indices in REGION_NAMES order) and the phases it needs them in."""
    name: str
    regions: tuple[int, ...]
    phases: tuple[str, ...]


MEASUREMENTS: dict[str, Measurement] = {
    "EF": Measurement("EF", MYOCARDIAL, ("ED", "ES")),
    "GLS": Measurement("GLS", MYOCARDIAL, ("ED", "systole", "ES")),
    "MAPSE": Measurement("MAPSE", ANNULUS, ("ED", "ES")),
}


@dataclass
class Approval:
    """One measurement in one cycle."""
    measurement: str
    quality: np.ndarray          # (len(regions),) worst phase median per region (NaN: not found)
    worst_phase: list[str]       # the phase giving it
    status: list[str]            # approved / borderline / rejected per region

    @property
    def feasible(self) -> bool:
        return all(s == APPROVED for s in self.status)

    @property
    def rank_key(self) -> tuple[bool, float, float]:
        q = np.nan_to_num(self.quality, nan=0.0)
        return (self.feasible, float(q.min()) if q.size else 0.0, float(q.mean()) if q.size else 0.0)


@dataclass
class CycleQuality:
    """Regional quality over one cycle."""
    cycle: Cycle
    median: np.ndarray                   # (8,) median score over the cycle (NaN: not found)
    phase_median: dict[str, np.ndarray]  # phase → (8,) median in that phase
    approvals: dict[str, Approval]       # measurement → approval

    @property
    def feasible(self) -> dict[str, bool]:
        return {name: a.feasible for name, a in self.approvals.items()}


def status_of(score: float) -> str:
    """approved / borderline / rejected for one region quality (module docstring)."""
    if not math.isfinite(score) or score < BORDERLINE_MIN_SCORE:
        return REJECTED
    return APPROVED if score >= APPROVED_MIN_SCORE else BORDERLINE


def _nanmedian(scores: np.ndarray) -> np.ndarray:
    """Median over frames (axis 0) ignoring NaN; NaN where a region has no score."""
    if scores.shape[0] == 0:
        return np.full(scores.shape[1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(scores, axis=0)


def phase_frames(cycle: Cycle, fps: float, n_frames: int) -> dict[str, np.ndarray]:
    """Frame indices of each phase of a cycle (clipped to 0..n_frames-1)."""
    w = max(0, int(round(PHASE_WINDOW_S * fps)))

    def around(f: int) -> np.ndarray:
        return np.arange(max(0, f - w), min(n_frames, f + w + 1))

    ed, es = cycle.ed_frame, cycle.es_frame
    if ed < es:          # ED → ES → end
        systole, diastole = np.arange(ed, es + 1), np.arange(es, cycle.end + 1)
    else:                # a leading partial cycle: start → ES → ED
        systole, diastole = np.arange(cycle.start, es + 1), np.arange(es, ed + 1)
    frames = {"ED": around(ed), "systole": systole, "ES": around(es), "diastole": diastole}
    return {k: v[(v >= 0) & (v < n_frames)] for k, v in frames.items()}


def cycle_quality(cycle: Cycle, scores: np.ndarray, fps: float, first_frame: int = 0,
                  measurements: dict[str, Measurement] = MEASUREMENTS) -> CycleQuality:
    """Quality of one cycle from per-frame scores, (N, 8) with NaN where not scored; row k is
    frame first_frame + k."""
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[0]
    local = replace(cycle, ed_frame=cycle.ed_frame - first_frame, es_frame=cycle.es_frame - first_frame,
                    start=cycle.start - first_frame, end=cycle.end - first_frame)
    median = _nanmedian(scores[max(0, local.start):min(n, local.end + 1)])
    phases = {name: _nanmedian(scores[idx]) for name, idx in phase_frames(local, fps, n).items()}
    approvals = {}
    for m in measurements.values():
        table = np.stack([phases[p][list(m.regions)] for p in m.phases])   # (phases, regions)
        filled = np.where(np.isnan(table), -np.inf, table)
        worst = filled.argmin(axis=0)
        quality = table[worst, np.arange(len(m.regions))]
        approvals[m.name] = Approval(m.name, quality, [m.phases[k] for k in worst],
                                     [status_of(float(q)) for q in quality])
    return CycleQuality(cycle, median, phases, approvals)


def aligned_trace(cycle: Cycle, scores: np.ndarray, points: int = TRACE_POINTS) -> np.ndarray:
    """(points, 8) regional scores resampled evenly over a cycle (start to end, i.e. ED to the next
    ED for a complete cycle), linear between scored frames; NaN for a region never scored in it."""
    scores = np.asarray(scores, dtype=np.float64)
    frames = np.arange(max(0, cycle.start), min(len(scores), cycle.end + 1))
    at = np.linspace(frames[0], frames[-1], points) if frames.size else np.zeros(0)
    out = np.full((points, scores.shape[1]), np.nan)
    for r in range(scores.shape[1]):
        ok = np.isfinite(scores[frames, r]) if frames.size else np.zeros(0, bool)
        if ok.any():
            out[:, r] = np.interp(at, frames[ok], scores[frames[ok], r])
    return out


def best_cycle(qualities: Sequence[CycleQuality], measurement: str) -> CycleQuality | None:
    """The best cycle for a measurement (module docstring), None without cycles."""
    if not qualities:
        return None
    return max(qualities, key=lambda q: (*q.approvals[measurement].rank_key, q.cycle.complete))


def _word(score: float) -> str:
    if not math.isfinite(score):
        return "not found"
    if BORDERLINE_MIN_SCORE <= score < APPROVED_MIN_SCORE:
        return "borderline"
    return CATEGORY_WORDS[int(np.clip(np.floor(score + 0.5), 1, 5)) - 1]


def region_words(walls: tuple[str, str]) -> list[str]:
    """The clinician's names of the eight regions for a view's (left, right) wall names."""
    left, right = walls
    names = [f"{lvl} {left if k < 3 else right}" for k, lvl in enumerate(LEVELS)]
    return names + [f"{left} annulus", f"{right} annulus"]


def explain(qualities: Sequence[CycleQuality], measurement: str, walls: tuple[str, str]) -> str:
    """One sentence on a measurement over a recording, e.g.
    'EF: not feasible, anterolateral wall poor in 2 of 3 cycles.'"""
    n = len(qualities)
    if n == 0:
        return f"{measurement}: no cardiac cycle found."
    m = MEASUREMENTS[measurement]
    feasible = [q for q in qualities if q.approvals[measurement].feasible]
    # regions not approved: in how many cycles, and how (the median of their failing qualities)
    fails: dict[int, list[float]] = {}
    for q in qualities:
        a = q.approvals[measurement]
        for k, r in enumerate(m.regions):
            if a.status[k] != APPROVED:
                fails.setdefault(r, []).append(float(a.quality[k]))
    names = region_words(walls)
    items: list[tuple[int, str, float]] = []      # (cycles failing, name, typical quality)
    for side, wall in ((0, walls[0]), (1, walls[1])):
        segs = [r for r in MYOCARDIAL[3 * side:3 * side + 3] if r in m.regions]
        if len(segs) == 3 and all(r in fails for r in segs):
            count = sum(1 for q in qualities if any(
                q.approvals[measurement].status[m.regions.index(r)] != APPROVED for r in segs))
            worst = min((_typical(fails[r]) for r in segs), key=lambda v: v if math.isfinite(v) else -1)
            items.append((count, f"{wall} wall", worst))
            for r in segs:
                fails.pop(r)
    items += [(len(v), names[r], _typical(v)) for r, v in fails.items()]
    items.sort(key=lambda t: -t[0])
    reasons = [f"{name} {_word(score)} in {count} of {n} cycle{'s' if n > 1 else ''}"
               for count, name, score in items[:MAX_NAMED]]
    if len(items) > MAX_NAMED:
        reasons.append(f"{len(items) - MAX_NAMED} more not approved")
    if feasible:
        best = best_cycle(qualities, measurement)
        head = (f"{measurement}: feasible in {len(feasible)} of {n} cycle{'s' if n > 1 else ''}, best cycle "
                f"{best.cycle.index + 1} (ED frame {best.cycle.ed_frame}, ES frame {best.cycle.es_frame})")
        return head + (f"; {', '.join(reasons)}." if reasons else ".")
    return f"{measurement}: not feasible, {', '.join(reasons)}."


def _typical(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.median(finite)) if finite else math.nan
