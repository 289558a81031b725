"""Cardiac cycles (end-diastole, end-systole, heart rate) from the LV area over time.

End-diastole (ED) is a maximum of the LV area (or volume), end-systole (ES) a minimum. Both are
found by the same steps offline (`find_phases`, the whole recording) and live
(`OnlineCycleDetector`, causal, confirming each extreme a short delay after it):

1. Frames without an area (missing, or the segmentation found no LV) are filled by linear
   interpolation across gaps up to MAX_GAP_S; a longer gap splits the recording into segments
   that are analysed apart (no cycle spans a gap).
2. The area is despiked (median of 3 frames) and smoothed (centred moving average over SMOOTH_S).
3. Hysteresis ("zigzag"): a maximum is confirmed as ED once the smoothed area has fallen from it
   by the threshold h, a minimum as ES once it has risen by h; ED and ES therefore alternate.
   h = max(HYSTERESIS x the area's range (5th-95th percentile), NOISE_FACTOR x the frame-to-frame
   noise, MIN_CHANGE x the median area). Offline the range is the whole segment's; live it is the
   last RANGE_WINDOW_S, and nothing is confirmed before WARMUP_S of signal.
4. A flat top or trough is common (diastasis, isovolumic relaxation): each extreme is placed at
   the centre of the frames within PLATEAU x h of it (at most PLATEAU_MAX_S either side). Within
   the smoothing half-width of a segment's end, where the average is one-sided, it is placed on
   the raw extreme of the frames the average spans.
5. An extreme at the very start or end of a segment (within EDGE_S) may lie outside the
   recording; it is kept only when its level is within EDGE_LEVEL x range of the other extremes
   of its kind (or, with none to compare, when the excursion to its neighbour is at least
   (1 - EDGE_LEVEL) x range). Live, the leading one is dropped.

A cycle runs from one ED to the next (complete, with a heart rate); a recording that ends after
an ES gives a trailing partial cycle (ED, ES, no heart rate) and one that starts with an ES
before its first ED a leading partial cycle (ES of one beat, ED of the next).

Quality per cycle, approval and the best cycle: `cycle_quality`.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

ED, ES = "ED", "ES"

# --- Detection (seconds are converted to frames with the frame rate)
SMOOTH_S = 0.1          # width of the centred moving average
MAX_GAP_S = 0.2         # longer runs of missing frames split the recording
HYSTERESIS = 0.4        # fraction of the area's range the curve must turn back to confirm an extreme
NOISE_FACTOR = 4.0      # ... and at least this many times the frame-to-frame noise (robust SD)
MIN_CHANGE = 0.04       # ... and at least this fraction of the median area
PLATEAU = 0.1           # an extreme is placed at the centre of the frames within PLATEAU x h of it
PLATEAU_MAX_S = 0.1     # ... looking at most this far either side
EDGE_S = 0.05           # extremes this close to a segment's ends may lie outside the recording
EDGE_LEVEL = 0.25       # how close (fraction of range) an edge extreme must come to its kind's level
RANGE_WINDOW_S = 3.0    # live: range and noise from this much recent signal
WARMUP_S = 1.0          # live: no extreme is confirmed before this much signal
MIN_SEGMENT_S = 0.3     # shorter segments give no extremes


@dataclass(frozen=True)
class Phase:
    """An ED (area maximum) or ES (minimum) at a frame."""
    frame: int
    kind: str            # ED or ES
    area: float          # the smoothed area there
    edge: bool = False   # at the start or end of a segment: the true extreme may lie outside


@dataclass(frozen=True)
class Cycle:
    """One cardiac cycle: frames start..end (inclusive), its ED and ES."""
    index: int
    ed_frame: int
    es_frame: int
    start: int
    end: int
    next_ed_frame: int | None    # None: partial cycle
    heart_rate_bpm: float        # NaN for a partial cycle

    @property
    def complete(self) -> bool:
        return self.next_ed_frame is not None


def _frames(seconds: float, fps: float, minimum: int = 1) -> int:
    return max(minimum, int(round(seconds * fps)))


def _half_width(fps: float) -> int:
    """Half width D of the moving average: 2D+1 frames ≈ SMOOTH_S (at least 3 frames)."""
    return max(1, int(round(SMOOTH_S * fps / 2)))


def _despike(x: np.ndarray) -> np.ndarray:
    """Median of each frame and its two neighbours (ends repeated)."""
    if len(x) < 3:
        return x.copy()
    p = np.concatenate([x[:1], x, x[-1:]])
    return np.median(np.stack([p[:-2], p[1:-1], p[2:]]), axis=0)


def _moving_average(x: np.ndarray, d: int) -> np.ndarray:
    """Centred mean over 2d+1 frames, the ends repeated."""
    p = np.concatenate([np.full(d, x[0]), x, np.full(d, x[-1])])
    c = np.concatenate([[0.0], np.cumsum(p)])
    return (c[2 * d + 1:] - c[:-2 * d - 1]) / (2 * d + 1)


def _noise_sd(x: np.ndarray, smooth: np.ndarray) -> float:
    """Robust SD of the area around its smoothed curve."""
    r = x - smooth
    return float(1.4826 * np.median(np.abs(r - np.median(r)))) if len(r) else 0.0


def threshold(smooth: np.ndarray, despiked: np.ndarray) -> float:
    """Hysteresis h of a stretch of signal (module docstring, step 3)."""
    lo, hi = np.percentile(smooth, [5, 95])
    return max(HYSTERESIS * (hi - lo), NOISE_FACTOR * _noise_sd(despiked, smooth),
               MIN_CHANGE * float(np.median(np.abs(despiked))), 1e-9)


class Zigzag:
    """Hysteresis extreme finder over a stream of values; `step` returns a confirmed extreme."""

    def __init__(self) -> None:
        self.direction = 0           # 0 unknown, -1 falling (seeking ES), +1 rising (seeking ED)
        self.hi: tuple[int, float] | None = None
        self.lo: tuple[int, float] | None = None

    def step(self, i: int, v: float, h: float) -> tuple[int, str] | None:
        if self.hi is None or self.lo is None:
            self.hi = self.lo = (i, v)
        if self.direction >= 0 and v > self.hi[1]:
            self.hi = (i, v)
        if self.direction <= 0 and v < self.lo[1]:
            self.lo = (i, v)
        if self.direction >= 0 and v <= self.hi[1] - h:
            found = (self.hi[0], ED)
            self.direction, self.lo = -1, (i, v)
            return found
        if self.direction <= 0 and v >= self.lo[1] + h:
            found = (self.lo[0], ES)
            self.direction, self.hi = 1, (i, v)
            return found
        return None

    def pending(self) -> tuple[int, str] | None:
        """The extreme being tracked, not yet confirmed."""
        if self.direction > 0 and self.hi is not None:
            return self.hi[0], ED
        if self.direction < 0 and self.lo is not None:
            return self.lo[0], ES
        return None


def _place(smooth: np.ndarray, i: int, kind: str, tol: float, max_half: int) -> int:
    """Centre of the run of frames around i within tol of the extreme (a flat top or trough)."""
    v = smooth[i]
    near = smooth >= v - tol if kind == ED else smooth <= v + tol
    a = b = i
    while a - 1 >= max(0, i - max_half) and near[a - 1]:
        a -= 1
    while b + 1 <= min(len(smooth) - 1, i + max_half) and near[b + 1]:
        b += 1
    return (a + b + 1) // 2


def _at_end(raw: np.ndarray, j: int, kind: str, d: int) -> int:
    """Near a segment's end the centred average is one-sided and pulls an extreme to the end: there
    the extreme is the raw one among the frames that average spans (j ± d)."""
    n = len(raw)
    if d < j < n - 1 - d:
        return j
    a, b = max(0, j - d), min(n, j + d + 1)
    window = raw[a:b]
    return a + int(np.argmax(window) if kind == ED else np.argmin(window))

def _edge_ok(phase: Phase, neighbour: Phase | None, interior: list[Phase], rng: float) -> bool:
    """Whether an extreme at a segment's edge is kept (module docstring, step 5)."""
    same = [p.area for p in interior if p.kind == phase.kind]
    if same:
        level = float(np.median(same))
        gap = level - phase.area if phase.kind == ED else phase.area - level
        return gap <= EDGE_LEVEL * rng
    if neighbour is None:
        return False
    return abs(phase.area - neighbour.area) >= (1 - EDGE_LEVEL) * rng


def fill_gaps(area: np.ndarray, max_gap: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Area with gaps up to max_gap frames interpolated, and the finite segments [a, b)."""
    a = np.asarray(area, dtype=np.float64).copy()
    ok = np.isfinite(a)
    segments: list[tuple[int, int]] = []
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return a, segments
    start = prev = idx[0]
    for i in idx[1:]:
        if i - prev - 1 > max_gap:
            segments.append((start, prev + 1))
            start = i
        elif i - prev > 1:
            a[prev + 1:i] = np.interp(np.arange(prev + 1, i), [prev, i], [a[prev], a[i]])
        prev = i
    segments.append((start, prev + 1))
    return a, segments


def _segment_phases(x: np.ndarray, fps: float, offset: int) -> list[Phase]:
    """Offline extremes of one finite segment."""
    d = _half_width(fps)
    despiked = _despike(x)
    smooth = _moving_average(despiked, d)
    h = threshold(smooth, despiked)
    rng = float(np.subtract(*np.percentile(smooth, [95, 5])))
    zig = Zigzag()
    found = [f for i, v in enumerate(smooth) if (f := zig.step(i, float(v), h))]
    tail = zig.pending()
    if tail is not None:
        found.append(tail)
    r = _frames(PLATEAU_MAX_S, fps, 0)
    edge = _frames(EDGE_S, fps)
    phases = []
    for k, (i, kind) in enumerate(found):
        j = _at_end(x, _place(smooth, i, kind, PLATEAU * h, r), kind, d)
        at_edge = i < edge or i >= len(x) - edge or (tail is not None and k == len(found) - 1)
        phases.append(Phase(int(offset + j), kind, float(smooth[j]), bool(at_edge)))
    interior = [p for p in phases if not p.edge]
    kept = []
    for k, p in enumerate(phases):
        if p.edge:
            neighbour = phases[k + 1] if k == 0 and len(phases) > 1 else (phases[k - 1] if k > 0 else None)
            if not _edge_ok(p, neighbour, interior, rng):
                continue
        kept.append(p)
    return kept


def find_phases(area: Sequence[float], fps: float) -> list[Phase]:
    """ED and ES of a whole recording from its LV area per frame (NaN: missing), frame order."""
    if not fps or fps <= 0:
        raise ValueError(f"frame rate must be positive, got {fps}")
    filled, segments = fill_gaps(np.asarray(area, dtype=np.float64), _frames(MAX_GAP_S, fps))
    phases: list[Phase] = []
    for a, b in segments:
        if b - a >= _frames(MIN_SEGMENT_S, fps, 3):
            phases += _segment_phases(filled[a:b], fps, a)
    return phases


def _segment_of(frame: int, segments: list[tuple[int, int]]) -> tuple[int, int]:
    for a, b in segments:
        if a <= frame < b:
            return a, b
    return frame, frame + 1


def cycles_from_phases(phases: Sequence[Phase], n_frames: int, fps: float,
                       times_s: Sequence[float] | None = None,
                       segments: list[tuple[int, int]] | None = None) -> list[Cycle]:
    """Cycles (module docstring) from alternating phases; heart rate from times_s (else frame/fps)."""
    segments = segments or [(0, n_frames)]

    def t(frame: int) -> float:
        if times_s is not None and math.isfinite(times_s[frame]):
            return float(times_s[frame])
        return frame / fps

    cycles: list[Cycle] = []
    for a, b in segments:
        ps = [p for p in phases if a <= p.frame < b]
        for k, p in enumerate(ps):
            nxt = ps[k + 1] if k + 1 < len(ps) else None
            if p.kind == ES and k == 0 and nxt is not None and nxt.kind == ED:
                cycles.append(Cycle(len(cycles), nxt.frame, p.frame, int(a), nxt.frame, None, math.nan))
            if p.kind != ED or nxt is None or nxt.kind != ES:
                continue
            after = ps[k + 2] if k + 2 < len(ps) else None
            if after is not None and after.kind == ED and not after.edge:
                hr = 60.0 / (t(after.frame) - t(p.frame)) if t(after.frame) > t(p.frame) else math.nan
                cycles.append(Cycle(len(cycles), p.frame, nxt.frame, p.frame, after.frame - 1, after.frame, hr))
            else:
                cycles.append(Cycle(len(cycles), p.frame, nxt.frame, p.frame, int(b) - 1, None, math.nan))
    return cycles


def find_cycles(area: Sequence[float], fps: float, times_s: Sequence[float] | None = None) -> list[Cycle]:
    """Cycles of a whole recording from its LV area per frame (NaN: missing)."""
    area = np.asarray(area, dtype=np.float64)
    _, segments = fill_gaps(area, _frames(MAX_GAP_S, fps))
    return cycles_from_phases(find_phases(area, fps), len(area), fps, times_s, segments)


def _quantile_sorted(a: np.ndarray, q: float) -> float:
    """The q-quantile (0..1) of an ascending array, as `np.quantile`'s default (linear) method computes it."""
    n = len(a)
    if n == 0:
        return math.nan
    pos = q * (n - 1)
    k = int(math.floor(pos))
    t = pos - k
    if k + 1 >= n:
        return float(a[n - 1])
    lo, hi = float(a[k]), float(a[k + 1])
    return hi - (hi - lo) * (1 - t) if t >= 0.5 else lo + (hi - lo) * t


class OnlineCycleDetector:
    """Live ED/ES: `push` one frame's area at a time; returns the extremes confirmed by it.

    Same steps as `find_phases`; the range and noise come from the last RANGE_WINDOW_S, an
    extreme is confirmed once the smoothed area has turned back by h (typically 0.1-0.2 s after
    it, plus SMOOTH_S / 2 for the centred average). Missing frames (a frame index skipped, or NaN)
    are bridged up to MAX_GAP_S; a longer gap starts afresh. Memory and time per frame are bounded
    (the buffers keep RANGE_WINDOW_S).
    """

    def __init__(self, fps: float):
        if not fps or fps <= 0:
            raise ValueError(f"frame rate must be positive, got {fps}")
        self.fps = fps
        self.d = _half_width(fps)
        self.r = _frames(PLATEAU_MAX_S, fps, 0)
        self.edge = _frames(EDGE_S, fps)
        self.max_gap = _frames(MAX_GAP_S, fps)
        self.warmup = _frames(WARMUP_S, fps)
        self.window = _frames(RANGE_WINDOW_S, fps)
        self._reset(None)

    def _reset(self, start: int | None) -> None:
        self.start = start                        # frame index of the segment's first frame
        self.raw: dict[int, float] = {}           # segment index → area (recent frames only)
        self.n_raw = 0                            # segment indices received (or skipped) so far
        self.despiked: dict[int, float] = {}      # segment index → despiked area (recent frames only)
        self.n_despiked = 0
        self.kept_from = 0                        # older indices are forgotten
        self.smooth: deque[float] = deque(maxlen=self.window)
        self.resid: deque[float] = deque(maxlen=self.window)
        self.n_smoothed = 0
        self.zig = Zigzag()
        self.last_finite: int | None = None
        self.backlog: list[tuple[int, float]] = []    # smoothed values during warm-up
        self.recent: deque[Phase] = deque(maxlen=6)   # the last confirmed extremes

    def push(self, frame: int, area: float) -> list[Phase]:
        """Add the area of frame `frame` (increasing indices; NaN when unknown)."""
        area = float(area)
        if self.start is None:
            if not math.isfinite(area):
                return []
            self._reset(frame)
        i = frame - self.start
        if i < self.n_raw:
            raise ValueError(f"frame {frame} comes after frame {self.start + self.n_raw - 1}")
        gap = i - self.last_finite - 1 if self.last_finite is not None else 0
        if gap > self.max_gap:
            self._reset(None)
            return self.push(frame, area)
        self.n_raw = i + 1
        if not math.isfinite(area):
            return []
        if gap > 0:
            lf = self.last_finite
            for k, v in zip(range(lf + 1, i), np.interp(np.arange(lf + 1, i), [lf, i], [self.raw[lf], area])):
                self.raw[k] = float(v)
        self.raw[i] = area
        self.last_finite = i
        return self._advance(i - self.d - 1, last=i - 1)

    def finish(self) -> list[Phase]:
        """The end of the stream: smooth the last frames and place a trailing extreme if it holds."""
        if self.start is None or self.last_finite is None:
            return []
        self.n_raw = self.last_finite + 1
        found = self._advance(self.last_finite, last=self.last_finite)
        if self.backlog:                       # a stream shorter than the warm-up
            h = self._threshold()
            for k, v in self.backlog:
                hit = self.zig.step(k, v, h)
                if hit is not None and hit[0] >= self.edge:
                    self.recent.append(self._phase(hit, edge=False))
                    found.append(self.recent[-1])
        tail = self.zig.pending()
        if tail is not None and self.n_smoothed >= _frames(MIN_SEGMENT_S, self.fps, 3):
            p = self._phase(tail, edge=True)
            first = self.last_finite - len(self.smooth) + 1
            raw = np.array([self.raw.get(k, np.nan) for k in range(first, self.last_finite + 1)])
            j = _at_end(np.nan_to_num(raw, nan=float(np.nanmedian(raw))), p.frame - self.start - first, p.kind, self.d)
            p = Phase(self.start + first + j, p.kind, p.area, True)
            rng = float(np.subtract(*np.percentile(np.asarray(self.smooth), [95, 5])))
            neighbour = self.recent[-1] if self.recent else None
            if _edge_ok(p, neighbour, list(self.recent), rng):
                found.append(p)
        self._reset(None)
        return found

    def _advance(self, upto: int, last: int) -> list[Phase]:
        """Despike up to index `last`, smooth up to `upto` (complete windows), step the zigzag."""
        end = self.n_raw - 1
        while self.n_despiked <= last:
            j = self.n_despiked
            self.despiked[j] = sorted((self.raw[max(0, j - 1)], self.raw[j], self.raw[min(end, j + 1)]))[1]
            self.n_despiked += 1
        found: list[Phase] = []
        while self.n_smoothed <= upto:
            j = self.n_smoothed
            top = self.n_despiked - 1
            s = sum(self.despiked[min(max(k, 0), top)] for k in range(j - self.d, j + self.d + 1)) / (2 * self.d + 1)
            self.smooth.append(s)
            self.resid.append(self.despiked[j] - s)
            self.n_smoothed += 1
            self._forget(j)
            if self.n_smoothed < self.warmup:
                self.backlog.append((j, s))
                continue
            h = self._threshold()
            steps, self.backlog = self.backlog + [(j, s)], []
            for k, v in steps:
                hit = self.zig.step(k, v, h)
                if hit is not None and hit[0] >= self.edge:
                    p = self._phase(hit, edge=False)
                    self.recent.append(p)
                    found.append(p)
        return found

    def _forget(self, j: int) -> None:
        """Drop values older than the window and than the extreme being tracked."""
        limit = j - self.window - self.d - self.r - 2
        pending = self.zig.pending()
        if pending is not None:
            limit = min(limit, pending[0] - self.r)
        while self.kept_from < limit:
            self.raw.pop(self.kept_from, None)
            self.despiked.pop(self.kept_from, None)
            self.kept_from += 1

    def _threshold(self) -> float:
        # Every frame in a live view: quantiles of sorted arrays (numpy's median and percentile cost ~40 µs a
        # call on a few hundred values, most of it overhead, on the UI thread).
        sm = np.sort(np.fromiter(self.smooth, float, len(self.smooth)))
        lo, hi = _quantile_sorted(sm, 0.05), _quantile_sorted(sm, 0.95)
        r = np.sort(np.fromiter(self.resid, float, len(self.resid)))
        noise = 1.4826 * _quantile_sorted(np.sort(np.abs(r - _quantile_sorted(r, 0.5))), 0.5)
        size = _quantile_sorted(np.sort(np.abs(sm)), 0.5)
        return max(HYSTERESIS * (hi - lo), NOISE_FACTOR * noise, MIN_CHANGE * size, 1e-9)

    def _phase(self, hit: tuple[int, str], edge: bool) -> Phase:
        i, kind = hit
        first = self.n_smoothed - len(self.smooth)          # segment index of smooth[0]
        sm = np.fromiter(self.smooth, float, len(self.smooth))
        if i < first:                                       # an extreme older than the window
            return Phase(self.start + i, kind, math.nan, edge)
        j = _place(sm, i - first, kind, PLATEAU * self._threshold(), self.r) + first
        return Phase(self.start + j, kind, float(sm[j - first]), edge)
