"""Live cardiac-cycle tracking: ED/ES marks as they are confirmed, each cycle's regional quality
when it completes, and the best cycle so far per measurement (with what the caller attached to
its frames, e.g. thumbnails to replay it).

Feed one frame at a time (`push`); the work per frame is the online detector's (about 0.1 ms)
plus, once per cycle, medians over that cycle's scores. Frames are kept for KEEP_S only.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from echoquality.core.cycle_quality import MEASUREMENTS, CycleQuality, best_cycle, cycle_quality
from echoquality.core.cycles import ED, ES, Cycle, OnlineCycleDetector, Phase
from echoquality.core.records import FrameResult
from echoquality.core.vocabulary import LV

KEEP_S = 4.0    # frames kept: the longest cycle that can become "best" (15 beats/min)
RECENT_CYCLES = 30   # cycles kept (and explained) besides the best ones


def label_spacing(result: FrameResult) -> tuple[float, float]:
    """(sy, sx) mm per pixel of a result's network-size label map (the one place that knows how)."""
    return result.network_spacing


def lv_area_mm2(result: FrameResult) -> float:
    """LV area of a frame's segmentation at network size in mm² (NaN: no segmentation, or no LV)."""
    labels = result.labels
    if labels is None or result.error is not None:
        return math.nan
    sy, sx = label_spacing(result)
    pixels = int(np.count_nonzero(labels == LV))
    return pixels * sy * sx if pixels else math.nan


class CycleTracker:
    """Cycles of a live stream, with the best so far per measurement (MEASUREMENTS)."""

    def __init__(self, fps: float, n_regions: int = 8):
        self.fps = fps
        self.detector = OnlineCycleDetector(fps)
        self.n_regions = n_regions
        self.frames: deque[tuple[int, float, np.ndarray, Any]] = deque(maxlen=max(8, int(KEEP_S * fps)))
        self.phases: list[Phase] = []
        self.cycles: deque[CycleQuality] = deque(maxlen=RECENT_CYCLES)
        self.n_cycles = 0
        self.best: dict[str, CycleQuality] = {}
        self.best_payloads: dict[str, list[Any]] = {}   # measurement → payloads of its best cycle's frames

    def push(self, frame: int, time_s: float, lv_area: float, scores: np.ndarray, payload: Any = None) -> list[Phase]:
        """One analysed frame (payload: anything to keep with it); returns the ED/ES marks it
        confirmed (for earlier frames)."""
        self.frames.append((frame, float(time_s), np.asarray(scores, dtype=np.float64), payload))
        return self._take(self.detector.push(frame, lv_area))

    def finish(self) -> list[Phase]:
        """The stream ended: a last mark, and a trailing partial cycle (ED, ES, no next ED)."""
        found = self._take(self.detector.finish())
        if len(self.phases) >= 2 and self.phases[-1].kind == ES and self.phases[-2].kind == ED:
            ed, es = self.phases[-2], self.phases[-1]
            if not self.cycles or self.cycles[-1].cycle.ed_frame != ed.frame:
                self._add(Cycle(self.n_cycles, ed.frame, es.frame, ed.frame, self.frames[-1][0], None, math.nan))
        return found

    def _take(self, new: list[Phase]) -> list[Phase]:
        for p in new:
            self.phases.append(p)
            if p.kind == ED and len(self.phases) >= 3:
                prev_ed, es = self.phases[-3], self.phases[-2]
                if prev_ed.kind == ED and es.kind == ES:
                    t0, t1 = self.time_of(prev_ed.frame), self.time_of(p.frame)
                    hr = 60.0 / (t1 - t0) if t1 > t0 else math.nan
                    self._add(Cycle(self.n_cycles, prev_ed.frame, es.frame, prev_ed.frame, p.frame - 1,
                                    p.frame, hr))
        del self.phases[:-4]
        return new

    def time_of(self, frame: int) -> float:
        """Time of a recent frame in seconds (frames not kept: from the frame rate)."""
        for f, t, _, _ in reversed(self.frames):
            if f <= frame:
                return t + (frame - f) / self.fps
        return frame / self.fps

    def _add(self, cycle: Cycle) -> None:
        kept = [(f, s) for f, _, s, _ in self.frames if f >= cycle.start - self.fps]
        if not kept:
            return
        first = kept[0][0]
        scores = np.full((kept[-1][0] - first + 1, self.n_regions), np.nan)
        for f, s in kept:
            scores[f - first] = s
        quality = cycle_quality(cycle, scores, self.fps, first_frame=first)
        self.cycles.append(quality)
        self.n_cycles += 1
        for name in MEASUREMENTS:
            if best_cycle([self.best[name], quality] if name in self.best else [quality], name) is quality:
                self.best[name] = quality
                self.best_payloads[name] = [p for f, _, _, p in self.frames if cycle.start <= f <= cycle.end]
