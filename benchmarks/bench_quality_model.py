"""Speed of the end-to-end quality model through the app's inference path (registry, each CPU backend).

    .venv/bin/python -m benchmarks.bench_quality_model [--model NAME] [--frames 200]

Frames of the E95 demo loop, framed like the app (framing.network_view; regions from the segmentation model
when the quality model takes the region map); prints median and p95 ms per frame of the quality model alone.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from echoquality.core.cleanup import clean_labels
from echoquality.core.framing import NetworkView, network_view
from echoquality.core.quality import DEFAULT_QUALITY_MODEL
from echoquality.core.regions import divide_myocardium
from echoquality.inference.backends import ModelError
from echoquality.inference.registry import load_quality_model, load_segmentation_model

ROOT = Path(__file__).resolve().parents[1]

DEMO_LOOP = ROOT / "data" / "samples" / "e95_a4c.mp4"


def views(path: Path, n: int) -> list[NetworkView]:
    """Network views of the first n frames of a loop."""
    cap, out = cv2.VideoCapture(str(path)), []
    while len(out) < n:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(network_view(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)))
    return out


def region_maps(views: list[NetworkView]) -> list[np.ndarray]:
    """Region maps of the frames, as the app computes them before quality."""
    segmentation = load_segmentation_model(backend="onnxruntime-cpu")
    maps = []
    for v in views:
        labels = clean_labels(segmentation.predict(v.image[None, None].astype(np.float32))[0], v.sector)
        maps.append(divide_myocardium(labels, v.framing.network_spacing, v.sector, "a4c").region_map)
    return maps


def time_backend(model, images: list[np.ndarray], maps: list[np.ndarray] | None, n: int) -> tuple[float, float]:
    """(median, p95) ms per frame of model.predict, one frame at a time."""
    def run(i: int) -> None:
        batch = images[i % len(images)][None, None].astype(np.float32)
        if maps is None:
            model.predict(batch)
        else:
            model.predict(batch, maps[i % len(maps)][None, None].astype(np.float32))
    for i in range(10):
        run(i)
    times = []
    for i in range(n):
        start = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times)), float(np.percentile(times, 95))


def time_model(model_name: str | Path, n: int = 200, backends: tuple[str, ...] = ("onnxruntime-cpu",)) -> dict:
    """{backend: (median, p95) ms} of a quality model on E95 frames."""
    framed = views(DEMO_LOOP, 195)
    images = [v.image for v in framed]
    maps = None
    out = {}
    for backend in backends:
        try:
            model = load_quality_model(model_name, backend)
        except ModelError:
            continue
        if model.uses_regions and maps is None:
            maps = region_maps(framed)
        out[model.backend] = time_backend(model, images, maps if model.uses_regions else None, n)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default=DEFAULT_QUALITY_MODEL)
    p.add_argument("--frames", type=int, default=200)
    args = p.parse_args()
    for backend in ("auto", "openvino", "onnxruntime-cpu"):
        result = time_model(args.model, args.frames, (backend,))
        if not result:
            print(f"{backend}: unavailable")
        for used, (median, p95) in result.items():
            print(f"{args.model} [{backend} -> {used}]: median {median:.2f} ms, p95 {p95:.2f} ms per frame "
                  f"({args.frames} frames)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
