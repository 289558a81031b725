"""Live cardiac-cycle tracking: ED/ES marks as they are confirmed, each cycle's regional quality
when it completes, and the best cycle so far per measurement.

Feed one frame at a time (`push`); the work per frame is the online detector's (a few dozen
microseconds) plus, once per cycle, a median over that cycle's scores. Scores and times are kept
for KEEP_S only.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from echoquality.core.cycle_quality import MEASUREMENTS, CycleQuality, best_cycle, cycle_quality
from echoquality.core.cycles import ED, ES, Cycle, OnlineCycleDetector, Phase

KEEP_S = 6.0    # longest cycle kept in memory (10 bpm)


class CycleTracker:
    """Cycles of a live stream, with the best so far per measurement (MEASUREMENTS)."""

    def __init__(self, fps: float, n_regions: int = 8):
        self.fps = fps
        self.detector = OnlineCycleDetector(fps)
        self.n_regions = n_regions
        self.frames: deque[tuple[int, float, np.ndarray]] = deque(maxlen=max(8, int(KEEP_S * fps)))
        self.phases: list[Phase] = []
        self.cycles: list[CycleQuality] = []
        self.best: dict[str, CycleQuality] = {}

    def push(self, frame: int, time_s: float, lv_area: float, scores: np.ndarray) -> list[Phase]:
        """One analysed frame; returns the ED/ES marks it confirmed (for earlier frames)."""
        self.frames.append((frame, float(time_s), np.asarray(scores, dtype=np.float64)))
        return self._take(self.detector.push(frame, lv_area))

    def finish(self) -> list[Phase]:
        """The stream ended: a last mark, and a trailing partial cycle (ED, ES, no next ED)."""
        found = self._take(self.detector.finish())
        if len(self.phases) >= 2 and self.phases[-1].kind == ES and self.phases[-2].kind == ED:
            ed, es = self.phases[-2], self.phases[-1]
            if not self.cycles or self.cycles[-1].cycle.ed_frame != ed.frame:
                self._add(Cycle(len(self.cycles), ed.frame, es.frame, ed.frame, self.frames[-1][0], None, math.nan))
        return found

    def _take(self, new: list[Phase]) -> list[Phase]:
        for p in new:
            self.phases.append(p)
            if p.kind == ED and len(self.phases) >= 3:
                prev_ed, es = self.phases[-3], self.phases[-2]
                if prev_ed.kind == ED and es.kind == ES:
                    t0, t1 = self._time(prev_ed.frame), self._time(p.frame)
                    hr = 60.0 / (t1 - t0) if t1 > t0 else math.nan
                    self._add(Cycle(len(self.cycles), prev_ed.frame, es.frame, prev_ed.frame, p.frame - 1,
                                    p.frame, hr))
        del self.phases[:-4]
        return new

    def _time(self, frame: int) -> float:
        for f, t, _ in reversed(self.frames):
            if f <= frame:
                return t + (frame - f) / self.fps
        return frame / self.fps

    def _add(self, cycle: Cycle) -> None:
        kept = [(f, s) for f, _, s in self.frames if f >= cycle.start - self.fps]
        if not kept:
            return
        first = kept[0][0]
        scores = np.full((kept[-1][0] - first + 1, self.n_regions), np.nan)
        for f, s in kept:
            scores[f - first] = s
        quality = cycle_quality(cycle, scores, self.fps, first_frame=first)
        self.cycles.append(quality)
        for name in MEASUREMENTS:
            if best_cycle([self.best[name], quality] if name in self.best else [quality], name) is quality:
                self.best[name] = quality
