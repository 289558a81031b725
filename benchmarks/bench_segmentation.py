"""Segmentation speed per backend through the app's inference path (median and p95 ms per frame).

    .venv/bin/python -m benchmarks.bench_segmentation [--model NAME_OR_FOLDER] [--frames 200] [--json OUT]

Frames are the real E95 demo loop, resized as the app does; each timing covers
`SegmentationModel.predict` on one (1, 1, 256, 256) frame: input checks, inference and argmax.
Backends take turns in blocks of frames (fair on a shared machine); the load average is printed with the results.
"""
from __future__ import annotations

import argparse
import json
import os
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import fast  # noqa: F401  (FAST before anything that may load Qt)
import numpy as np

from echoquality.inference.backends import ModelError, available_backends
from echoquality.inference.registry import DEFAULT_SEGMENTATION, load_segmentation_model
from echoquality.core.framing import network_batch
from echoquality.sources.playback import open_source

DEMO_LOOP = ROOT / "data" / "samples" / "e95_a4c.mp4"


def loop_frames(path: Path = DEMO_LOOP, size: int = 256) -> np.ndarray:
    """(N, 1, size, size) float32 network inputs of every frame of a loop, as the app makes them."""
    return network_batch((frame.image for frame in open_source(str(path))), size=size)


def time_in_turns(models: dict, frames: np.ndarray, repeats: int, block: int = 25, settle: int = 3) -> dict[str, dict]:
    """Median and p95 ms of `predict` on single frames per model. The models take turns in blocks of `block`
    frames (the first `settle` of each block untimed, so one engine's idle worker threads do not slow the
    next), which spreads load changes on a shared machine evenly over the backends."""
    times: dict[str, list[float]] = {name: [] for name in models}
    i = 0
    while min((len(t) for t in times.values()), default=repeats) < repeats:
        for name, model in models.items():
            for k in range(block):
                batch = frames[i % len(frames)][None]
                i += 1
                start = time.perf_counter()
                model.predict(batch)
                if k >= settle:
                    times[name].append((time.perf_counter() - start) * 1000.0)
    return {name: {"median_ms": float(np.median(t)), "p95_ms": float(np.percentile(t, 95)), "frames": len(t)}
            for name, t in times.items()}


def machine_description() -> str:
    """CPU model and core count, with the inference library versions."""
    import platform

    import onnxruntime

    cpu = platform.processor() or "CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}, shared machine); "
            f"onnxruntime {onnxruntime.__version__}, FAST {getattr(fast, '__version__', '4.18')}")


def benchmark(model_name: str, repeats: int, backends: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Timings of every available (or given) backend for one model."""
    frames = loop_frames()
    results: dict[str, dict] = {}
    models = {}
    for backend in backends or available_backends():
        try:
            models[backend] = load_segmentation_model(model_name, backend)
        except ModelError as error:
            results[backend] = {"error": str(error)}
    results.update(time_in_turns(models, frames, repeats))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_SEGMENTATION, help="model name under models/ or a model folder")
    parser.add_argument("--frames", type=int, default=300, help="timed single-frame calls per backend")
    parser.add_argument("--backend", action="append", help="only this backend (repeatable)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    load_before = os.getloadavg()[0]
    try:
        results = benchmark(args.model, args.frames, tuple(args.backend) if args.backend else None)
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"segmentation model {args.model}, one 256x256 frame per call, {args.frames} calls per backend; "
          f"{machine_description()}; load average before {load_before:.2f}")
    for backend, r in results.items():
        if "error" in r:
            print(f"  {backend:16s} unavailable: {r['error']}")
        else:
            print(f"  {backend:16s} median {r['median_ms']:6.2f} ms   p95 {r['p95_ms']:6.2f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "machine": machine_description(),
                                               "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
