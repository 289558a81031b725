"""Benchmark: the live cycle work per frame (online ED/ES detector, cycle tracker with per-cycle
quality, and the analyze report's recorder with its LV area from the label map), and the
method-of-disks volume per ED/ES frame.

A synthetic 60 frames/s recording of 60 s (about 75 beats, noise and outliers), 256x256 label maps
of a beating LV for the recorder and the volume. Prints median and p95 in microseconds per frame.

    .venv/bin/python -m benchmarks.bench_cycles [--seconds 60] [--fps 60]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from echoquality.core.cycle_tracker import CycleTracker
from echoquality.core.cycles import OnlineCycleDetector, find_phases
from echoquality.core.ejection_fraction import volume_ml
from echoquality.core.records import Frame, FrameResult
from echoquality.outputs.cycles_report import CycleRecorder
from tests.core.synthetic_cycles import area_curve, noisy
from tests.core.test_ejection_fraction import half_ellipse


def stats(name: str, seconds: list[float]) -> None:
    us = np.asarray(seconds) * 1e6
    print(f"{name:<34} median {np.median(us):8.1f} us   p95 {np.percentile(us, 95):8.1f} us   (n={len(us)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", type=float, default=60.0)
    args = parser.parse_args()
    fps = args.fps
    beats = int(args.seconds / 0.8) + 1
    area, _, _ = area_curve([0.8] * beats, fps, duration_s=args.seconds)
    area = noisy(area, 0.03, seed=1, spikes_every=37)
    rng = np.random.default_rng(2)
    scores = np.clip(3.5 + 0.4 * rng.normal(size=(len(area), 8)), 1, 5)

    det, times = OnlineCycleDetector(fps), []
    for i, a in enumerate(area):
        t0 = time.perf_counter()
        det.push(i, a)
        times.append(time.perf_counter() - t0)
    stats("online detector push", times)

    tracker, times = CycleTracker(fps), []
    for i, (a, s) in enumerate(zip(area, scores)):
        t0 = time.perf_counter()
        tracker.push(i, i / fps, a, s)
        times.append(time.perf_counter() - t0)
    stats("cycle tracker push (with quality)", times)
    print(f"  cycles completed live: {tracker.n_cycles}")

    t0 = time.perf_counter()
    find_phases(area, fps)
    print(f"offline find_phases, whole recording: {(time.perf_counter() - t0) * 1e3:.1f} ms for {len(area)} frames")

    frac = (area - area.min()) / np.ptp(area)
    shapes = [half_ellipse(60 + 20 * f, 15 + 8 * f, (0.6, 0.6)) for f in np.linspace(0, 1, 16)]
    rec, times = CycleRecorder("bench", "a4c", fps), []
    for i, (f, s) in enumerate(zip(frac, scores)):
        result = FrameResult(Frame(np.zeros((512, 512), np.uint8), i, i / fps, (0.3, 0.3), "bench"),
                             labels=shapes[int(np.clip(f, 0, 1) * 15)], scores=s)
        t0 = time.perf_counter()
        rec.add(result)
        times.append(time.perf_counter() - t0)
    stats("analyze recorder add (LV area)", times)
    t0 = time.perf_counter()
    found = rec.finish()
    print(f"analyze recorder finish: {(time.perf_counter() - t0) * 1e3:.1f} ms for {len(found.qualities)} cycles")

    times = []
    for labels in shapes * 4:
        t0 = time.perf_counter()
        volume_ml(labels, (0.6, 0.6))
        times.append(time.perf_counter() - t0)
    stats("method-of-disks volume (per ED/ES)", times)


if __name__ == "__main__":
    main()
