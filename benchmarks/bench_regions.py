"""Benchmark: myocardium division and all pixel metrics per 256x256 frame (CAMUS subset).

Masks are resized to 256x256 with nearest neighbour, images with area interpolation; the
sector mask is found once per image (outside the timed loop, as the fan does not move).
Prints median and p95 in milliseconds over all runs, and over each frame's best run (the
frame's own cost when other processes preempt this one). Target: division + metrics <= 2 ms.

    .venv/bin/python -m benchmarks.bench_regions [--data ../shared/data/camus_subset] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from echoquality.core.pixel_metrics import regional_metrics
from echoquality.core.regions import divide_myocardium
from echoquality.core.sector import sector_mask

SIZE = 256


def load(data: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, label map, image) at 256x256 for every mask of the data set."""
    frames = []
    for mask_path in sorted((data / "masks").glob("*.png")):
        labels = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        image = cv2.imread(str(data / "images" / mask_path.name), cv2.IMREAD_GRAYSCALE)
        if labels is None or image is None:
            continue
        frames.append((mask_path.stem, cv2.resize(labels, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST),
                       cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA)))
    return frames


def summary(name: str, ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"{name:28s} median {np.median(a):6.3f} ms   p95 {np.percentile(a, 95):6.3f} ms   (n={a.size})"


def main() -> int:
    default = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "camus_subset"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    frames = load(args.data)
    if not frames:
        print(f"{args.data}: no masks found", file=sys.stderr)
        return 1
    sectors = [sector_mask(image) for _, _, image in frames]
    division, metrics, total, sector_ms = [], [], [], []
    for _ in range(args.repeats):
        for (_, labels, image), sector in zip(frames, sectors):
            t0 = time.perf_counter()
            regions = divide_myocardium(labels, sector=sector)
            t1 = time.perf_counter()
            regional_metrics(image, regions, sector)
            t2 = time.perf_counter()
            sector_mask(image)
            t3 = time.perf_counter()
            division.append((t1 - t0) * 1e3)
            metrics.append((t2 - t1) * 1e3)
            total.append((t2 - t0) * 1e3)
            sector_ms.append((t3 - t2) * 1e3)
    load_average = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(frames)} frames x {args.repeats} repeats, {SIZE}x{SIZE}, OpenCV threads {cv2.getNumThreads()}, "
          f"{os.cpu_count()} cores, load average {load_average:.1f}")
    print(summary("division", division))
    print(summary("metrics (all six)", metrics))
    print(summary("division + metrics", total))
    print(summary("sector mask (256x256)", sector_ms))
    # Best of the repeats per frame: the frame's own cost, without other processes' preemptions.
    best = np.asarray(total).reshape(args.repeats, len(frames)).min(axis=0)
    print(summary("division + metrics, best", list(best)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
