"""Speed of the end-to-end quality model through the app's inference path (registry, each CPU backend).

    .venv/bin/python -m benchmarks.bench_quality_model [--model NAME] [--frames 200]

Frames of the E95 demo loop, preprocessed like the app (network_input); prints median and p95 ms per frame.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
from echoquality.inference.backends import ModelError
from echoquality.inference.registry import load_quality_model
from echoquality.core.preprocess import network_input
from echoquality.core.quality import DEFAULT_QUALITY_MODEL


def frames(path: Path, n: int) -> list[np.ndarray]:
    cap, out = cv2.VideoCapture(str(path)), []
    while len(out) < n:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(network_input(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default=DEFAULT_QUALITY_MODEL)
    p.add_argument("--frames", type=int, default=200)
    args = p.parse_args()
    images = frames(ROOT / "data" / "samples" / "e95_a4c.mp4", 195)
    for backend in ("auto", "openvino", "onnxruntime-cpu"):
        try:
            model = load_quality_model(args.model, backend)
        except ModelError as error:
            print(f"{backend}: unavailable ({error})")
            continue
        for image in images[:10]:
            model.predict(image[None, None].astype(np.float32))
        times = []
        for i in range(args.frames):
            batch = images[i % len(images)][None, None].astype(np.float32)
            start = time.perf_counter()
            model.predict(batch)
            times.append((time.perf_counter() - start) * 1000)
        print(f"{args.model} [{backend} -> {model.backend}]: median {np.median(times):.2f} ms, "
              f"p95 {np.percentile(times, 95):.2f} ms per frame ({args.frames} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
