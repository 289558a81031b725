"""Segmentation: network-size B-mode image → label map (0 bg, 1 LV, 2 MYO, 3 LA, 4 AO).

The model is any object with `predict(batch) -> labels`, where batch is (N, 1, 256, 256) float32
with raw 0–255 values and labels is (N, 256, 256) uint8 (see `echoquality.inference.registry`).
"""
from __future__ import annotations

from typing import Protocol

import numpy as np


class SegmentationModel(Protocol):
    name: str

    def predict(self, batch: np.ndarray, mirror: bool | None = None) -> np.ndarray: ...


def labels_from_scores(scores: np.ndarray) -> np.ndarray:
    """(N, C, H, W) class scores → (N, H, W) uint8 labels: the argmax over C (the first class on ties), by C - 1
    pairwise comparisons, 7x faster than numpy's argmax over the class axis (0.09 against 0.6 ms a frame)."""
    best = scores[:, 0].copy()
    labels = np.zeros(best.shape, np.uint8)
    for k in range(1, scores.shape[1]):
        higher = scores[:, k] > best
        labels[higher] = k
        np.maximum(best, scores[:, k], out=best)
    return labels


def segment(model: SegmentationModel, image: np.ndarray, mirror: bool | None = None) -> np.ndarray:
    """(H, W) label map of one network-size image (`mirror`: averaged with the mirrored image's;
    None: the model's default)."""
    if mirror is None:
        return model.predict(image[None, None].astype(np.float32))[0]
    return model.predict(image[None, None].astype(np.float32), mirror)[0]
