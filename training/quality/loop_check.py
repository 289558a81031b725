"""Quality scores of a quality method on a real loop, through the app's steps: network view, segmentation,
regions, scores. Per-region mean and spread over the loop, and a montage of scored frames.

    .venv/bin/python -m training.quality.loop_check --method models/NAME --loop ../shared/data/loops/e95_a4c.mp4
        [--montage docs/quality_loops.png]

Loops: anything the app opens (video, DICOM, NIfTI, ...).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import cv2
import numpy as np


from echoquality.core.cleanup import clean_labels
from echoquality.core.framing import network_view
from echoquality.inference.registry import DEFAULT_SEGMENTATION, load_segmentation_model
from echoquality.inference.registry import resolve_method
from echoquality.core.regions import divide_myocardium
from echoquality.core.render import colour_regions
from echoquality.core.vocabulary import REGION_NAMES, default_spacing

log = logging.getLogger(__name__)
SHORT = ("bL", "mL", "aL", "aR", "mR", "bR", "anL", "anR")


def read_loop(path: str | Path) -> list[tuple[np.ndarray, tuple[float, float]]]:
    """The loop's frames (H, W) uint8 with their spacing (sy, sx) mm, as the app reads them."""
    from echoquality.sources.playback import open_source
    return [(frame.image, frame.spacing) for frame in open_source(str(path))]


def score_loop(frames: list[tuple[np.ndarray, tuple[float, float]]], method, segmentation, view: str = "a4c"):
    """(network images (F,256,256), region maps (F,256,256), scores (F,8) NaN where invalid), through the app's
    steps: canonical framing (steady over the loop), segmentation, clean-up, regions, quality."""
    images, maps, scores = [], [], []
    box = None
    for frame, spacing in frames:
        nv = network_view(frame, spacing or default_spacing(frame.shape[0]), previous_box=box)
        box = nv.framing.box
        raw = segmentation.predict(nv.image[None, None].astype(np.float32))[0]
        labels = clean_labels(raw, nv.sector)
        regions = divide_myocardium(labels, nv.framing.network_spacing, nv.sector, view)
        regions.sector = nv.sector
        images.append(nv.image)
        maps.append(regions.region_map)
        scores.append(method(nv.image, regions))
    return np.stack(images), np.stack(maps), np.stack(scores)


def summary(scores: np.ndarray) -> dict:
    with np.errstate(all="ignore"):
        mean, std = np.nanmean(scores, axis=0), np.nanstd(scores, axis=0)
        glob = np.nanmean(scores, axis=1)
    return {"frames": len(scores), "mean": dict(zip(REGION_NAMES, np.round(mean, 2).tolist())),
            "std": dict(zip(REGION_NAMES, np.round(std, 2).tolist())),
            "valid_share": dict(zip(REGION_NAMES, np.round(np.isfinite(scores).mean(0), 2).tolist())),
            "global_mean": round(float(np.nanmean(glob)), 2), "global_std": round(float(np.nanstd(glob)), 2)}


def tile(image: np.ndarray, region_map: np.ndarray, scores: np.ndarray, title: str, size: int = 320) -> np.ndarray:
    rgb = cv2.resize(colour_regions(image, region_map, np.clip(scores, 1, 5)), (size, size),
                     interpolation=cv2.INTER_NEAREST)
    cv2.putText(rgb, title, (5, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    for k, name in enumerate(SHORT):
        text = f"{name} {scores[k]:.1f}" if np.isfinite(scores[k]) else f"{name} -"
        cv2.putText(rgb, text, (5 + 78 * (k // 4) if k < 8 else 5, size - 52 + 12 * (k % 4)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.36, (255, 255, 255), 1, cv2.LINE_AA)
    return rgb


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", default="e2e", help="e2e, a pixel metric or a quality model folder")
    p.add_argument("--loop", action="append", required=True, help="a loop (may be repeated)")
    p.add_argument("--montage", default="", help="PNG: four scored frames of each loop, one row per loop")
    p.add_argument("--segmentation", default=DEFAULT_SEGMENTATION)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    method, name = resolve_method(args.method, "onnxruntime-cpu")
    segmentation = load_segmentation_model(args.segmentation, "onnxruntime-cpu")
    rows, result = [], {}
    for loop in args.loop:
        images, maps, scores = score_loop(read_loop(loop), method, segmentation)
        result[Path(loop).name] = summary(scores)
        picks = np.linspace(0, len(images) - 1, 4).round().astype(int)
        rows.append(np.concatenate([tile(images[i], maps[i], scores[i], f"{Path(loop).name} #{i}") for i in picks],
                                   axis=1))
    print(json.dumps({"method": name, **result}, indent=1))
    if args.montage:
        cv2.imwrite(args.montage, cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
        print(f"montage: {args.montage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
