"""Segmentation: network-size B-mode image → label map (0 bg, 1 LV, 2 MYO, 3 LA, 4 AO).

The model is any object with `predict(batch) -> labels`, where batch is (N, 1, 256, 256) float32
with raw 0–255 values and labels is (N, 256, 256) uint8 (see `echoquality.inference.registry`).

A model that knows how unsure it may be on an apical view (`max_uncertain_share`, calibrated by
`training.segmentation.unsure_check` and kept in its ONNX metadata) also gives `scores`: a frame
where a larger share of what it labelled was a close call (`uncertain_share`) gets no labels, so
that the gate stops it (`no_lv`). Parasternal views, hearts turned across the fan and small
thumbnails fall there; apical views from other scanners seldom do (numbers in the model's card).
"""
from __future__ import annotations

from typing import Protocol

import numpy as np


# A labelled pixel is a close call when its class has a probability below this.
UNCERTAIN_LEVEL = 0.7
# The share is taken on every UNCERTAIN_STEP-th pixel along each axis (the scores are smooth at 256x256).
UNCERTAIN_STEP = 4


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


def uncertain_share(scores: np.ndarray, sector: np.ndarray | None = None, level: float = UNCERTAIN_LEVEL,
                    step: int = UNCERTAIN_STEP) -> float:
    """Share of one frame's labelled pixels (inside `sector`) whose class wins with a probability below `level`.

    `scores` (C, H, W) class scores (logits) of one frame; `sector` bool (H, W) or None (everywhere). Taken on
    every `step`-th pixel. 1.0 when nothing is labelled (nothing the model is sure of).
    """
    grid = np.asarray(scores, np.float32)[:, ::step, ::step]
    top = grid.max(axis=0)
    probability_of_top = 1.0 / np.exp(grid - top).sum(axis=0)      # softmax of the winning class
    labelled = grid[0] < top                                         # a class other than background wins
    if sector is not None:
        labelled &= np.asarray(sector, bool)[::step, ::step]
    n = int(np.count_nonzero(labelled))
    return 1.0 if n == 0 else float(np.count_nonzero(probability_of_top[labelled] < level)) / n


def segment_batch(model: SegmentationModel, images: np.ndarray, sectors: np.ndarray | None = None,
                  mirror: bool | None = None) -> np.ndarray:
    """(N, H, W) label maps of (N, H, W) network-size images (`mirror`: averaged with the mirrored images';
    None: the model's default). With `sectors` (N, H, W) bool and a model that has a `max_uncertain_share`,
    a frame whose share of close calls inside its sector is larger gets an all-background map."""
    batch = np.asarray(images, np.float32)[:, None]
    limit = getattr(model, "max_uncertain_share", None)
    if limit is None or sectors is None:
        return model.predict(batch) if mirror is None else model.predict(batch, mirror)
    scores = model.scores(batch) if mirror is None else model.scores(batch, mirror)
    labels = labels_from_scores(scores)
    for k in range(len(labels)):
        if uncertain_share(scores[k], sectors[k]) > limit:
            labels[k] = 0
    return labels


def segment(model: SegmentationModel, image: np.ndarray, mirror: bool | None = None,
            sector: np.ndarray | None = None) -> np.ndarray:
    """(H, W) label map of one network-size image (see `segment_batch`; `sector` (H, W) bool)."""
    return segment_batch(model, image[None], None if sector is None else sector[None], mirror)[0]
