"""Cost of the gate and view recognition per frame (median, p95).

    .venv/bin/python -m benchmarks.bench_gate_view [--source FILE ...] [--frames 200]

Per frame, as the chain does it: the colour map of the frame as it came (RGB sources, in the
reader), the canonical framing for the classifier from the fan Preprocess already found (with a
"fan"-framing segmentation model Preprocess's own view is reused and this costs nothing), the
content checks, and the view classifier (onnxruntime CPU, opened by the registry as the app
opens it) with its smoothing. Finding the fan is Preprocess's work, shown apart, not counted.
Target: 2 ms per frame in all on the project's 2-core machine.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

from echoquality.core import gate
from echoquality.core.fan import find_fan, grayscale
from echoquality.core.view import ViewSmoother, canonical_image, recognise
from echoquality.inference.registry import load_view_model
from echoquality.paths import PROJECT_ROOT as ROOT


def frames_of(path: Path, limit: int) -> list[np.ndarray]:
    """RGB (or grey) frames of a video or a DICOM, as a source reads them."""
    if path.suffix.lower() == ".dcm":
        import pydicom
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(str(path))
            pixels = ds.pixel_array
        frames = list(pixels) if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1 else [pixels]
        return (frames * limit)[:limit]
    capture, frames = cv2.VideoCapture(str(path)), []
    while len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(frame[..., ::-1]))
    return frames


def stats(name: str, values_ms: list[float]) -> None:
    v = np.asarray(values_ms)
    print(f"{name:<28} median {np.median(v):6.3f} ms   p95 {np.percentile(v, 95):6.3f} ms   (n={v.size})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", nargs="*", default=[str(ROOT / "data" / "samples" / "e95_a4c.mp4")])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--model", default="view_classifier", help="view model name or folder")
    args = parser.parse_args()
    model = load_view_model(args.model)
    for source in args.source:
        frames = frames_of(Path(source), args.frames)
        smoother = ViewSmoother()
        colour_ms, fan_ms, framing_ms, content_ms, view_ms, total_ms, reused_ms = [], [], [], [], [], [], []
        for i, frame in enumerate(frames):
            gray = grayscale(frame)
            t0 = time.perf_counter()
            fan = find_fan(gray)                           # Preprocess's work (not counted in the total)
            t1 = time.perf_counter()
            colour = gate.colour_map(frame)
            t2 = time.perf_counter()
            canonical = canonical_image(gray, fan)
            t3 = time.perf_counter()
            verdict = gate.content_verdict(gray, fan, colour)
            t4 = time.perf_counter()
            smoother.update(recognise(model, canonical), i / 30)
            t5 = time.perf_counter()
            if i >= 5:   # warm-up
                fan_ms.append((t1 - t0) * 1e3)
                colour_ms.append((t2 - t1) * 1e3)
                framing_ms.append((t3 - t2) * 1e3)
                content_ms.append((t4 - t3) * 1e3)
                view_ms.append((t5 - t4) * 1e3)
                total_ms.append((t5 - t1) * 1e3)
                reused_ms.append((t5 - t1 - (t3 - t2)) * 1e3)
        shape = "x".join(map(str, frames[0].shape))
        print(f"{Path(source).name} ({shape}, last verdict: {verdict.status})")
        stats("(fan finding, Preprocess's)", fan_ms)
        stats("colour map (colour only)", colour_ms)
        stats("canonical framing", framing_ms)
        stats("content checks", content_ms)
        stats("view classifier + smoothing", view_ms)
        stats("gate + view, total", total_ms)
        stats("total, framing reused", reused_ms)   # the default (fan-framing) model: Preprocess's view is reused
    return 0


if __name__ == "__main__":
    sys.exit(main())
