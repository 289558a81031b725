"""Throughput of `analyze --batch-size N` on the bundled E95 loop: frames/s and per-chunk time (median, p95)
for the batched path at each batch size, and the FAST chain (what --batch-size 1 runs) for reference.

    .venv/bin/python -m benchmarks.bench_batch_frames [--frames 96] [--sizes 1 8 32] [--method e2e] [--view auto]

The default models, backend 'auto' (CUDA when a GPU is present, else the CPU engine); frames are read
into memory and the models opened and warmed up before the clock starts.
"""
from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import fast  # noqa: F401  (FAST before anything that may load Qt)
import numpy as np

from echoquality.inference.backends import cuda_available
from echoquality.inference.registry import load_segmentation_model, load_view_model, resolve_method
from echoquality.sources import open_source
from echoquality.streaming.batched import run_batched
from echoquality.streaming.graph import build

DEMO = Path(__file__).resolve().parents[1] / "data" / "samples" / "e95_a4c.mp4"


def stats(ms: list[float]) -> str:
    return f"median {np.median(ms):8.1f} ms  p95 {np.percentile(ms, 95):8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--method", default="e2e")
    parser.add_argument("--view", default="auto")
    args = parser.parse_args()
    loop = list(open_source(str(DEMO)))
    frames = list(itertools.islice(itertools.cycle(loop), args.frames))
    segmentation = load_segmentation_model()
    method, name = resolve_method(args.method)
    view_model = load_view_model() if args.view == "auto" else None
    print(f"{len(frames)} frames of {DEMO.name}; segmentation {segmentation.name} on {segmentation.backend} "
          f"(CUDA {'available' if cuda_available() else 'not available'}), method {name}, view {args.view}")
    run_batched(iter(frames[:8]), segmentation, method, name, lambda r: None, 8, args.view, view_model)  # warm-up

    stamps: list[float] = []
    start = time.perf_counter()
    build(iter(frames), segmentation, method, name, lambda r: stamps.append(time.perf_counter()), args.view,
          split_screen=False, view_model=view_model).run()
    seconds = time.perf_counter() - start
    per_frame = list(np.diff([start] + stamps) * 1e3)
    print(f"FAST chain (--batch-size 1)  {len(stamps) / seconds:6.1f} frames/s   per frame  {stats(per_frame)}")
    for size in args.sizes:
        start = time.perf_counter()
        run = run_batched(iter(frames), segmentation, method, name, lambda r: None, size, args.view, view_model)
        seconds = time.perf_counter() - start
        print(f"batched, batch size {size:3d}     {run.frames / seconds:6.1f} frames/s   per chunk  "
              f"{stats(run.chunk_ms)}  ({run.chunks} chunks)")


if __name__ == "__main__":
    main()
