"""Clean-up of network label maps: keep each structure's largest connected piece."""
from __future__ import annotations

import cv2
import numpy as np

from .types import BACKGROUND, LA, LV, MYO, AO


def largest_components(labels: np.ndarray, structures: tuple[int, ...] = (LV, MYO, LA, AO)) -> np.ndarray:
    """A copy of an (H, W) or (N, H, W) label map where every structure keeps only its largest 8-connected
    component; the smaller pieces become background."""
    labels = np.asarray(labels)
    if labels.ndim == 3:
        return np.stack([largest_components(frame, structures) for frame in labels])
    out = labels.copy()
    for label in structures:
        mask = (labels == label).astype(np.uint8)
        n, pieces, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        if n > 2:
            keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            out[(pieces != keep) & (mask > 0)] = BACKGROUND
    return out
