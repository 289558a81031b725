"""Within-frame checks on held-out frames: does a wall that was made to drop out score lower than the same
wall intact, and lower than the other regions of its frame?

For every held-out frame and every valid myocardial region: the wall's echo is sunk into the blood pool's
level (`degrade.apply_operation("dropout")`, 32 dB over the region, `wall_band`), the rest of the frame kept.
Reported: mean score of the wall intact and dropped out, the mean change of the other regions, the share of
cases where the dropped-out wall scores lowest of its frame, and Spearman rho between the predicted and the
generated quality loss over random degradations (`degrade_with_drop`) of the same frames.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .degrade import FrameGeometry, apply_operation, degrade_with_drop, region_means, wall_band
from training.common import spearman

Score = Callable[[np.ndarray, np.ndarray], np.ndarray]   # (images (N,256,256), region maps) -> (N, 8)


def erase_wall(g: FrameGeometry, region: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(image with the region's wall dropped out (uint8), share of the region covered by the dropout)."""
    w = wall_band(g, [region], rng)
    out, _ = apply_operation(g.image.astype(np.float32), "dropout", w, 1.0, g, rng)
    return np.clip(out, 0, 255).astype(np.uint8), float(region_means(g, w)[region])


def within_frame_check(score: Score, frames: list[FrameGeometry], seed: int = 0, random_per_frame: int = 4) -> dict:
    rng = np.random.default_rng(seed)
    intact = score(np.stack([g.image for g in frames]), np.stack([g.region_map for g in frames]))
    images, maps, cases = [], [], []
    for i, g in enumerate(frames):
        for k in np.flatnonzero(g.valid[:6]):
            image, _ = erase_wall(g, int(k), rng)
            images.append(image)
            maps.append(g.region_map)
            cases.append((i, int(k)))
    erased = score(np.stack(images), np.stack(maps)) if images else np.zeros((0, 8))
    wall_before, wall_after, others, lowest = [], [], [], []
    for (i, k), s in zip(cases, erased):
        valid = frames[i].valid
        rest = valid.copy()
        rest[k] = False
        wall_before.append(intact[i, k])
        wall_after.append(s[k])
        others.append(float(np.mean(s[rest] - intact[i, rest])) if rest.any() else 0.0)
        lowest.append(bool(rest.any() and s[k] < s[rest].min()))
    images, maps, drops = [], [], []
    for g in frames:
        for _ in range(random_per_frame):
            image, drop, _ = degrade_with_drop(g, rng, p_clean=0.0)
            images.append(image)
            maps.append(g.region_map)
            drops.append(np.where(g.valid, drop, np.nan))
    degraded = score(np.stack(images), np.stack(maps))
    before = np.repeat(intact, random_per_frame, axis=0)
    drops = np.stack(drops)
    ok = np.isfinite(drops)
    return {"n": len(cases), "wall_intact": float(np.mean(wall_before)), "wall_dropped_out": float(np.mean(wall_after)),
            "other_regions_change": float(np.mean(others)), "dropped_wall_lowest": float(np.mean(lowest)),
            "rho_predicted_vs_generated_loss": spearman((before - degraded)[ok], drops[ok])}
