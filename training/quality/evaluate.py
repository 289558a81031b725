"""Validation report of a quality model: agreement with generator labels, stability under gain/gamma.

    .venv/bin/python -m training.quality.evaluate --model models/NAME --data ../shared/data/camus_subset

Numbers: Spearman rho and accuracy (rounded score == rounded label, core.vocabulary.quality_category) on
held-out degraded frames (patients never seen in training), and the mean absolute change of the scores when
the same frames are shown with gamma 0.9/1.1 and gain 0.8/1.2.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Callable

import numpy as np


from echoquality.core.vocabulary import N_REGIONS, quality_category

from .degrade import FrameGeometry, degrade

Predict = Callable[[np.ndarray], np.ndarray]   # (N,1,256,256) float32 raw 0-255 -> (N,8)
log = logging.getLogger(__name__)
MIN_SLOPE = 0.3


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (for Spearman's rho)."""
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x), np.float64)
    r[order] = np.arange(len(x), dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=r)
    return (sums / counts)[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.size < 3:
        return float("nan")
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def degraded_set(frames: list[FrameGeometry], per_frame: int, seed: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images (N,256,256) uint8, labels (N,8), valid (N,8)) of `per_frame` seeded degradations per frame."""
    rng = np.random.default_rng(seed)
    images, labels, valid = [], [], []
    for g in frames:
        for _ in range(per_frame):
            img, lab, _ = degrade(g, rng)
            images.append(img)
            labels.append(lab)
            valid.append(g.valid)
    return np.stack(images), np.stack(labels), np.stack(valid)


def predict_all(predict: Predict, images: np.ndarray, batch: int = 32) -> np.ndarray:
    out = [predict(images[i:i + batch, None].astype(np.float32)) for i in range(0, len(images), batch)]
    return np.concatenate(out).astype(np.float64)


def agreement(pred: np.ndarray, labels: np.ndarray, valid: np.ndarray) -> dict[str, float]:
    """Spearman rho, accuracy, MAE and MSE over the valid regions (pooled), plus rho per region."""
    p, t = pred[valid], labels[valid]
    per_region = [spearman(pred[valid[:, k], k], labels[valid[:, k], k]) for k in range(N_REGIONS)]
    return {"spearman": spearman(p, t), "accuracy": float(np.mean(quality_category(p) == quality_category(t))),
            "mae": float(np.mean(np.abs(p - t))), "mse": float(np.mean((p - t) ** 2)), "n": int(p.size),
            "spearman_per_region": [round(v, 3) for v in per_region]}


def fit_bias_correction(raw: np.ndarray, labels: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(slope, intercept) of raw = slope * label + intercept (least squares, validation data); the registry
    applies (raw - intercept) / slope."""
    slope, intercept = np.polyfit(labels[valid], raw[valid], 1)
    if slope < MIN_SLOPE:   # a nearly flat model: do not blow its scores up
        log.warning("bias correction slope %.3f below %.2f, clamped", slope, MIN_SLOPE)
        slope = MIN_SLOPE
        intercept = float(np.mean(raw[valid]) - slope * np.mean(labels[valid]))
    return np.array([slope, intercept], np.float64)


def stability(predict: Predict, images: np.ndarray, valid: np.ndarray) -> dict[str, float]:
    """Mean absolute score change under gamma 0.9 / 1.1 and gain 0.8 / 1.2 (display changes, same quality)."""
    base = predict_all(predict, images)
    x = images.astype(np.float32) / 255.0
    out = {}
    for name, changed in (("gamma_0.9", x ** 0.9), ("gamma_1.1", x ** 1.1),
                          ("gain_0.8", x * 0.8), ("gain_1.2", np.clip(x * 1.2, 0, 1))):
        pred = predict_all(predict, (changed * 255.0).round().astype(np.uint8))
        out[name] = float(np.mean(np.abs(pred - base)[valid]))
    out["mean"] = float(np.mean(list(out.values())))
    return out


def report(predict: Predict, frames: list[FrameGeometry], per_frame: int = 10, seed: int = 1234) -> dict:
    images, labels, valid = degraded_set(frames, per_frame, seed)
    pred = predict_all(predict, images)
    return {"agreement": agreement(pred, labels, valid), "stability": stability(predict, images, valid),
            "frames": len(frames), "degraded_per_frame": per_frame}


def main(argv: list[str] | None = None) -> int:
    from echoquality.inference.registry import load_quality_model

    from .dataset import DatasetError, load_frames, split_by_patient
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="quality model name or folder")
    p.add_argument("--data", required=True, help="CAMUS-style folder (images/ + masks/)")
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--per-frame", type=int, default=10)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from echoquality.inference.backends import ModelError
    try:
        model = load_quality_model(args.model, "onnxruntime-cpu")
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        _, _, test = split_by_patient(load_frames(args.data), (0.15, 0.15), args.split_seed)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report(model.predict, test, args.per_frame), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
