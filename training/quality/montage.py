"""Montage of CAMUS frames scored out of fold: the experts' grade beside the network's regional scores."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .loop_check import tile
from .real_labels import global_scores


def camus_montage(frames, labels: list[str], scores: np.ndarray, path: Path, per_label: int = 4, seed: int = 0) -> Path:
    """PNG with one row per expert grade (Poor, Medium, Good): `per_label` frames drawn at random (seeded),
    regions coloured by their out-of-fold scores, the grade and the global score in each title."""
    rng = np.random.default_rng(seed)
    glob = global_scores(scores)
    rows = []
    for grade in ("Poor", "Medium", "Good"):
        idx = [i for i, y in enumerate(labels) if y == grade]
        if not idx:
            continue
        pick = sorted(rng.choice(idx, min(per_label, len(idx)), replace=False).tolist())
        tiles = [tile(frames[i].image, frames[i].region_map, scores[i], f"{grade}  global {glob[i]:.2f}") for i in pick]
        while len(tiles) < per_label:
            tiles.append(np.zeros_like(tiles[0]))
        rows.append(np.concatenate(tiles, axis=1))
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows), cv2.COLOR_RGB2BGR))
    return path
