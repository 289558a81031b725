"""Cardiac cycles of one input from its per-frame results: cycles.csv rows, <stem>_summary.json and
the quality-traces picture (`cycle_plot`), part of the `analyze` output contract.

The LV area of each frame comes from its result record (the label map at network size, with the
network-size spacing of the frame). Label maps are kept only around the ED and ES frames (found
live by the online detector) plus the first and last RING_S, so memory stays bounded on long
recordings; the ED/ES of the report are then found over the whole recording (`find_phases`).
"""
from __future__ import annotations

import json
import math
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from echoquality.core.cycle_quality import (
    APPROVED_MIN_SCORE, BORDERLINE_MIN_SCORE, MEASUREMENTS, PHASE_WINDOW_S, TRACE_POINTS, CycleQuality,
    aligned_trace, best_cycle, cycle_quality, explain, region_words,
)
from echoquality.core.cycle_tracker import label_spacing, lv_area_mm2
from echoquality.core.cycles import OnlineCycleDetector, find_cycles
from echoquality.core.ejection_fraction import biplane_volume_ml, ejection_fraction, volume_ml
from echoquality.core.records import FrameResult
from echoquality.core.vocabulary import N_REGIONS, REGION_NAMES, WALLS
from echoquality.outputs.results_csv import RowFile, output_error

CYCLE_COLUMNS = (("source", "cycle", "ed_frame", "es_frame", "end_frame", "complete", "heart_rate")
                 + REGION_NAMES + tuple(f"{m.lower()}_feasible" for m in MEASUREMENTS))
RING_S = 2.0        # label maps kept for the last (and first) this many seconds
SLACK = 3           # ... and this many frames either side of each ED/ES found live
RESEARCH_NOTE = ("Research use only: LV volumes and EF by the method of disks on a research segmentation "
                 "model; not for clinical decisions.")


@dataclass
class SourceCycles:
    """What `CycleRecorder.finish` found for one input."""
    source: str
    view: str
    fps: float
    n_frames: int
    spacing_known: bool
    area: np.ndarray                     # (N,) LV area per frame, mm² (NaN: missing)
    scores: np.ndarray                   # (N, 8)
    qualities: list[CycleQuality]
    volumes: dict[int, float] = field(default_factory=dict)   # frame → single-plane LV volume, ml
    labels: dict[int, tuple[np.ndarray, tuple[float, float]]] = field(default_factory=dict)  # ED/ES frame → map, spacing

    @property
    def best(self) -> dict[str, CycleQuality | None]:
        return {m: best_cycle(self.qualities, m) for m in MEASUREMENTS}

    def sentences(self) -> dict[str, str]:
        return {m: explain(self.qualities, m, WALLS[self.view]) for m in MEASUREMENTS}

    def ef_percent(self, q: CycleQuality) -> float:
        return ejection_fraction(self.volumes.get(q.cycle.ed_frame, math.nan),
                                 self.volumes.get(q.cycle.es_frame, math.nan))


class CycleRecorder:
    """Collects one input's per-frame results (`add`), then finds and rates its cycles (`finish`)."""

    def __init__(self, source: str, view: str, fps: float):
        """`view` 'auto': the view recognised on most scored frames names the walls."""
        self.source, self.view, self.fps = source, view, fps
        self.views: dict[str, int] = {}
        self.area: dict[int, float] = {}
        self.scores: dict[int, np.ndarray] = {}
        self.times: dict[int, float] = {}
        self.spacing_known = True
        self.detector = OnlineCycleDetector(fps)
        self.last_pushed = -1
        ring = max(8, int(RING_S * fps))
        self.ring: deque[tuple[int, np.ndarray, tuple[float, float]]] = deque(maxlen=ring)
        self.kept: dict[int, tuple[np.ndarray, tuple[float, float]]] = {}
        self.head_frames = ring

    def add(self, result: FrameResult) -> None:
        frame = result.frame
        i = frame.index
        self.area[i] = lv_area_mm2(result)
        self.scores[i] = np.asarray(result.scores, dtype=np.float64)
        self.times[i] = frame.time_s
        self.spacing_known &= frame.spacing_known
        if result.status == "ok" and result.view in WALLS:
            self.views[result.view] = self.views.get(result.view, 0) + 1
        if result.labels is not None and result.error is None:
            spacing = label_spacing(result)
            self.ring.append((i, result.labels, spacing))
            if len(self.kept) < self.head_frames and i < self.head_frames:
                self.kept[i] = (result.labels, spacing)
        if i > self.last_pushed:
            self.last_pushed = i
            for phase in self.detector.push(i, self.area[i]):
                self._keep_around(phase.frame)

    def _keep_around(self, frame: int) -> None:
        for i, labels, spacing in self.ring:
            if abs(i - frame) <= SLACK:
                self.kept[i] = (labels, spacing)

    def _labels(self, frame: int) -> tuple[np.ndarray, tuple[float, float]] | None:
        if frame in self.kept:
            return self.kept[frame]
        return next(((lab, sp) for i, lab, sp in self.ring if i == frame), None)

    def finish(self) -> SourceCycles:
        n = max(self.area) + 1 if self.area else 0
        area = np.full(n, np.nan)
        scores = np.full((n, N_REGIONS), np.nan)
        times = np.full(n, np.nan)
        for i, a in self.area.items():
            area[i], scores[i], times[i] = a, self.scores[i], self.times[i]
        qualities: list[CycleQuality] = []
        volumes: dict[int, float] = {}
        labels: dict[int, tuple[np.ndarray, tuple[float, float]]] = {}
        if n:
            cycles = find_cycles(area, self.fps, times)
            qualities = [cycle_quality(c, scores, self.fps) for c in cycles]
            for c in cycles:
                for f in (c.ed_frame, c.es_frame):
                    kept = self._labels(f)
                    volumes[f] = volume_ml(*kept) if kept is not None else math.nan
                    if kept is not None:
                        labels[f] = kept
        view = self.view if self.view in WALLS else max(self.views, key=self.views.get, default="a4c")
        return SourceCycles(self.source, view, self.fps, n, self.spacing_known, area, scores, qualities,
                            volumes, labels)


def _num(value: float, digits: int = 3) -> float | None:
    return round(float(value), digits) if value is not None and math.isfinite(value) else None


def _cell(value: float, digits: int = 3) -> str:
    return "" if not math.isfinite(value) else f"{value:.{digits}f}"


class CyclesCsv(RowFile):
    """cycles.csv: one row per cycle of every input (cycles numbered from 1 within an input), each written whole."""

    def __init__(self, path: Path):
        super().__init__(path, CYCLE_COLUMNS)

    def write(self, found: SourceCycles) -> None:
        for q in found.qualities:
            c = q.cycle
            self.write_row([found.source, c.index + 1, c.ed_frame, c.es_frame, c.end, int(c.complete),
                            _cell(c.heart_rate_bpm, 1)] + [_cell(v) for v in q.median]
                           + [int(q.approvals[m].feasible) for m in MEASUREMENTS])


def summary(found: SourceCycles, method: str = "") -> dict:
    """The content of <stem>_summary.json (see README, output contract)."""
    names = region_words(WALLS[found.view])
    cycles = []
    for q in found.qualities:
        c = q.cycle
        trace = aligned_trace(c, found.scores, TRACE_POINTS)     # start (ED) to end, evenly
        cycles.append({
            "cycle": c.index + 1, "ed_frame": c.ed_frame, "es_frame": c.es_frame, "start_frame": c.start,
            "end_frame": c.end, "complete": c.complete, "heart_rate_bpm": _num(c.heart_rate_bpm, 1),
            "quality_median": {r: _num(v) for r, v in zip(REGION_NAMES, q.median)},
            "quality_by_phase": {p: {r: _num(v) for r, v in zip(REGION_NAMES, q.phase_median[p])}
                                 for p in q.phase_median},
            "quality_over_cycle": {r: [_num(v, 2) for v in trace[:, k]] for k, r in enumerate(REGION_NAMES)},
            "measurements": {m: {"feasible": a.feasible, "regions": {
                REGION_NAMES[r]: {"quality": _num(a.quality[k]), "worst_phase": a.worst_phase[k],
                                  "status": a.status[k]} for k, r in enumerate(MEASUREMENTS[m].regions)}}
                for m, a in q.approvals.items()},
            "lv_volume_ed_ml": _num(found.volumes.get(c.ed_frame, math.nan), 1) if found.spacing_known else None,
            "lv_volume_es_ml": _num(found.volumes.get(c.es_frame, math.nan), 1) if found.spacing_known else None,
        })
    sentences = found.sentences()
    measurements = {}
    for m, best in found.best.items():
        measurements[m] = {
            "feasible": bool(best is not None and best.approvals[m].feasible),
            "cycles_feasible": sum(q.approvals[m].feasible for q in found.qualities),
            "best_cycle": best.cycle.index + 1 if best else None,
            "ed_frame": best.cycle.ed_frame if best else None,
            "es_frame": best.cycle.es_frame if best else None,
            "regions": {REGION_NAMES[r]: best.approvals[m].status[k] for k, r in enumerate(MEASUREMENTS[m].regions)}
            if best else {},
            "explanation": sentences[m],
        }
    best_ef = found.best["EF"]
    ef_ok = best_ef is not None and best_ef.approvals["EF"].feasible
    ef = {
        "research_use_only": True, "note": RESEARCH_NOTE,
        "method": f"single-plane method of disks ({found.view.upper()}), 20 disks",
        "percent": _num(found.ef_percent(best_ef), 1) if ef_ok else None,
        "cycle": best_ef.cycle.index + 1 if ef_ok else None,
        "shown_because": sentences["EF"],
        "volumes_in_ml": found.spacing_known,
    }
    return {
        "source": found.source, "view": found.view, "method": method, "frames": found.n_frames,
        "frame_rate": _num(found.fps, 3), "region_names": dict(zip(REGION_NAMES, names)),
        "thresholds": {"approved_min_score": APPROVED_MIN_SCORE, "borderline_min_score": BORDERLINE_MIN_SCORE,
                       "phase_window_s": PHASE_WINDOW_S,
                       "phases_needed": {m: list(v.phases) for m, v in MEASUREMENTS.items()}},
        "cycles": cycles, "measurements": measurements, "ejection_fraction": ef,
    }


def write_summary(path: Path, found: SourceCycles, method: str = "") -> None:
    """Write the summary whole (to a temporary name, then renamed), or raise OutputError."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(json.dumps(summary(found, method), indent=2) + "\n")
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise output_error(path, error) from None


def biplane_summary(a4c: SourceCycles, a2c: SourceCycles) -> dict:
    """Biplane EF of one patient from the best EF cycle of its A4C and of its A2C input (research use);
    given only when EF is feasible in both."""
    views = {"a4c": a4c, "a2c": a2c}
    best = {v: f.best["EF"] for v, f in views.items()}
    feasible = {v: q is not None and q.approvals["EF"].feasible for v, q in best.items()}
    parts = {}
    for v, f in views.items():
        q = best[v]
        parts[v] = {"source": f.source, "cycle": q.cycle.index + 1 if q else None,
                    "ed_frame": q.cycle.ed_frame if q else None, "es_frame": q.cycle.es_frame if q else None,
                    "explanation": f.sentences()["EF"]}
    edv = esv = ef = math.nan
    if all(feasible.values()):
        q4, q2 = best["a4c"].cycle, best["a2c"].cycle
        try:
            edv = biplane_volume_ml(*a4c.labels[q4.ed_frame], *a2c.labels[q2.ed_frame])
            esv = biplane_volume_ml(*a4c.labels[q4.es_frame], *a2c.labels[q2.es_frame])
        except KeyError:      # a label map not kept (should not happen): no EF rather than a wrong one
            pass
        ef = ejection_fraction(edv, esv)
    if math.isfinite(ef):
        explanation = (f"Biplane EF {ef:.0f} % (research use only): A4C cycle {parts['a4c']['cycle']} and "
                       f"A2C cycle {parts['a2c']['cycle']}, every myocardial region approved in both.")
    else:
        failing = [f"{v.upper()} {views[v].sentences()['EF']}" for v in views if not feasible[v]]
        explanation = "Biplane EF not shown: " + (" ".join(failing) if failing else "no volume from the segmentation.")
    spacing_known = a4c.spacing_known and a2c.spacing_known
    return {
        "research_use_only": True, "note": RESEARCH_NOTE,
        "method": "biplane method of disks (A4C and A2C), 20 disks, the longer long axis",
        "percent": _num(ef, 1), "edv_ml": _num(edv, 1) if spacing_known else None,
        "esv_ml": _num(esv, 1) if spacing_known else None,
        "a4c": parts["a4c"], "a2c": parts["a2c"], "explanation": explanation,
    }
