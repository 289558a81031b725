"""Sanity of a quality model on the real E95 loop: score stability over the cardiac cycle and a montage.

    .venv/bin/python -m training.quality.e95_sanity --model NAME [--loop data/samples/e95_a4c.mp4]
        [--montage docs/quality_e95_montage.png]

Every frame goes through the app's path (preprocess.network_input -> model_registry quality model).
Prints the per-region mean and standard deviation of the scores over all frames (JSON). The montage shows
six frames over the loop with the regions colour-coded by score (regions from the project's segmentation
model; without one, the scores are only listed).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import cv2
import numpy as np


from echoquality.inference.registry import DEFAULT_SEGMENTATION, load_quality_model, load_segmentation_model
from echoquality.core.preprocess import network_input
from echoquality.sources.playback import SourceError, open_source
from echoquality.core.regions import divide_myocardium
from echoquality.core.sector import sector_mask
from echoquality.core.render import colour_regions
from echoquality.core.vocabulary import REGION_NAMES

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]


def read_loop(path: Path) -> np.ndarray:
    """(F, 256, 256) uint8 network inputs of every frame of a loop, as the app makes them."""
    try:
        return np.stack([network_input(frame.image) for frame in open_source(str(path))])
    except SourceError as error:
        raise SystemExit(f"error: {error}") from None


def loop_scores(model, images: np.ndarray) -> np.ndarray:
    return np.concatenate([model.predict(images[i:i + 32, None].astype(np.float32))
                           for i in range(0, len(images), 32)]).astype(np.float64)


def montage(images: np.ndarray, scores: np.ndarray, picks: list[int], segmentation) -> np.ndarray:
    """RGB montage: one tile per picked frame, regions coloured by score (invalid hatched)."""
    tiles = []
    for i in picks:
        image = images[i]
        s = np.clip(scores[i], 1, 5)
        if segmentation is not None:
            labels = segmentation.predict(image[None, None].astype(np.float32))[0]
            regions = divide_myocardium(labels, None, sector_mask(image), "a4c")
            s = np.where(regions.valid, s, np.nan)
            tile = colour_regions(image, regions.region_map, s)
        else:
            tile = np.repeat(image[..., None], 3, axis=2)
        tile = cv2.resize(tile, (384, 384), interpolation=cv2.INTER_NEAREST)
        cv2.putText(tile, f"frame {i}", (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        for k, name in enumerate(REGION_NAMES):
            text = f"{name} {s[k]:.1f}" if np.isfinite(s[k]) else f"{name} -"
            cv2.putText(tile, text, (6, 300 + 10 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.32, (255, 255, 255), 1,
                        cv2.LINE_AA)
        tiles.append(tile)
    return np.concatenate(tiles, axis=1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--loop", default=str(ROOT / "data" / "samples" / "e95_a4c.mp4"))
    p.add_argument("--montage", default="")
    p.add_argument("--segmentation", default=DEFAULT_SEGMENTATION)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from echoquality.inference.backends import ModelError
    try:
        model = load_quality_model(args.model, "onnxruntime-cpu")
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    images = read_loop(Path(args.loop))
    scores = loop_scores(model, images)
    result = {"frames": len(images), "mean": dict(zip(REGION_NAMES, np.round(scores.mean(0), 3).tolist())),
              "std": dict(zip(REGION_NAMES, np.round(scores.std(0), 3).tolist())),
              "mean_std": round(float(scores.std(0).mean()), 3)}
    print(json.dumps(result, indent=1))
    if args.montage:
        try:
            segmentation = load_segmentation_model(args.segmentation)
        except Exception as error:  # noqa: BLE001 - no segmentation model yet: montage without regions
            log.warning("no segmentation model (%s): montage without regions", error)
            segmentation = None
        picks = np.linspace(0, len(images) - 1, 6).round().astype(int).tolist()
        rgb = montage(images, scores, picks, segmentation)
        cv2.imwrite(args.montage, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        print(f"montage: {args.montage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
