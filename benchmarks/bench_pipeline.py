"""Per-stage and end-to-end speed of the analysis chain on the bundled E95 loop (median and p95, ms).

The chain end to end four ways: on one thread or as two halves on two threads, and with mirror averaging
and the split screen (what `analyze` does with a recording and --save-video) or with one segmentation pass
and no split screen (what live chains and the GUI do).

    .venv/bin/python -m benchmarks.bench_pipeline [--method M] [--frames N]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import fast  # noqa: F401  (FAST before anything that may load Qt)
import numpy as np

from echoquality.core.cleanup import clean_labels
from echoquality.core.framing import network_view
from echoquality.core.regions import divide_myocardium
from echoquality.core.render import compose_split_screen
from echoquality.inference.registry import DEFAULT_SEGMENTATION, load_segmentation_model, resolve_method
from echoquality.sources import open_source
from echoquality.streaming.graph import build

DEMO = ROOT / "data" / "samples" / "e95_a4c.mp4"


def stats(ms: list[float]) -> str:
    return f"median {np.median(ms):6.2f} ms  p95 {np.percentile(ms, 95):6.2f} ms  (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", default="")
    parser.add_argument("--frames", type=int, default=195)
    args = parser.parse_args()
    frames = list(open_source(str(DEMO)))[: args.frames]
    segmentation = load_segmentation_model(DEFAULT_SEGMENTATION)
    method, name = resolve_method(args.method)
    print(f"segmentation {segmentation.name} ({segmentation.backend}), method {name}, {len(frames)} frames")

    times: dict[str, list[float]] = {k: [] for k in ("preprocess", "segmentation", "mirror pass", "regions",
                                                       "quality", "split")}
    for frame in frames:
        t0 = time.perf_counter()
        view = network_view(frame.image, frame.spacing, framing=segmentation.framing)
        image, sector = view.image, view.sector
        t1 = time.perf_counter()
        labels = clean_labels(segmentation.predict(image[None, None].astype(np.float32), False)[0], sector)
        t2 = time.perf_counter()
        segmentation.predict(image[None, None, :, ::-1].astype(np.float32), False)   # what mirror averaging adds
        t2b = time.perf_counter()
        regions = divide_myocardium(labels, view.framing.network_spacing, sector)
        t3 = time.perf_counter()
        scores = method(image, regions)
        t4 = time.perf_counter()
        compose_split_screen(frame.image, view.framing.to_frame(regions.region_map), scores)
        t5 = time.perf_counter()
        for key, a, b in zip(times, (t0, t1, t2, t2b, t3, t4), (t1, t2, t2b, t3, t4, t5)):
            times[key].append((b - a) * 1e3)
    for key, ms in times.items():
        print(f"{key:13s} {stats(ms)}")
    print(f"{'sum':13s} {stats(list(np.sum([times[k] for k in times], axis=0)))}")

    # End to end through the FAST chain: time between consecutive results in steady state.
    for parallel, mirror, split in ((False, True, True), (True, True, True), (False, False, False),
                                    (True, False, False)):
        stamps: list[float] = []
        pipeline = build(iter(frames), segmentation, method, name, lambda result: stamps.append(time.perf_counter()),
                         parallel=parallel, mirror=mirror, split_screen=split)
        start = time.perf_counter()
        pipeline.run()
        total = time.perf_counter() - start
        gaps = list(np.diff(stamps[5:-1]) * 1e3)
        label = (f"FAST chain, {'two threads' if parallel else 'one thread '}, "
                 f"{'mirror averaging, split screen' if mirror else 'one pass, no split screen  '}")
        print(f"{label}: {stats(gaps)} per frame; {len(stamps)} frames in {total:.2f} s "
              f"= {len(stamps) / total:.1f} frames/s")


if __name__ == "__main__":
    main()
