"""Fitting the region-pooled quality network on real frames with expert labels and synthetic degradations.

Each step takes B labelled frames (Poor and Medium drawn more often, `sampling_weights`) and shows each twice,
with the same random geometry (the paper's rotation, scaling, mirroring):
- as it is, with a random gain, time-gain compensation, gamma and dynamic range (`invariance_augment`);
- degraded by the regional generator (`degrade.degrade_with_drop`), with another random gain and TGC.

Losses, over valid regions:
- expert: (global - target)^2, global = mean regional score of the first view, target Good 4, Medium 3,
  Poor 2 (`labels.LABEL_TARGET`);
- visibility (weak, from CAMUS' definition): a Poor frame has a region that is not well visible
  (relu(min score - 2)^2); in a Good frame every region is visible (relu(2.5 - score)^2);
- synthetic: the degraded region's score should fall by what the generator took away, from the score the
  network gives the same region of the intact frame: (s_degraded - clip(s_intact - drop, 1, 5))^2, with
  s_intact held fixed (no gradient). This carries within-frame contrast (a dropped-out wall scores lower
  than its neighbours), invariance to gain and TGC (drop 0 on undegraded regions), and needs no guess of
  the intact frame's quality: the expert loss sets that level.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .degrade import FrameGeometry, degrade_with_drop, geometric_augment, invariance_augment
from .labels import LABEL_TARGET
from .region_net import RegionPooledQuality

log = logging.getLogger(__name__)
CLASS_WEIGHT = {"Poor": 3.0, "Medium": 1.5, "Good": 1.0}    # sampling weights (77 / 57 / 15 frames)


@dataclass
class FitConfig:
    steps: int = 1500
    batch: int = 8
    lr: float = 2e-3
    weak_weight: float = 0.5
    synthetic_weight: float = 1.0
    width: float = 0.5
    seed: int = 0
    log_every: int = 100
    max_minutes: float = 0.0
    anisotropy: tuple[float, float] | None = None    # stretch of width against height (None: none)
    consistency_weight: float = 0.0    # > 0: the intact frame also moved a little must score the same (see small_move)


def sampling_weights(labels: list[str]) -> np.ndarray:
    w = np.array([CLASS_WEIGHT[x] for x in labels], np.float64)
    return w / w.sum()


def views(g: FrameGeometry, rng: np.random.Generator, anisotropy: tuple[float, float] | None = None):
    """(intact image, degraded image, region map, valid (8,), drop (8,)) with one shared geometry."""
    degraded, drop, _ = degrade_with_drop(g, rng)
    intact = invariance_augment(g.image, rng, g.radius)
    degraded = invariance_augment(degraded, rng, g.radius)
    geo = int(rng.integers(2 ** 31))
    a, drop_m, valid, rmap = geometric_augment(intact, drop, g.valid, np.random.default_rng(geo), region_map=g.region_map,
                                               anisotropy=anisotropy)
    b, _, _, _ = geometric_augment(degraded, drop, g.valid, np.random.default_rng(geo), region_map=g.region_map,
                                   anisotropy=anisotropy)
    present = np.bincount(rmap.ravel(), minlength=9)[1:] > 0
    return a, b, rmap, valid & present, drop_m


def small_move(image: np.ndarray, region_map: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The frame and its region map moved as another export or probe position would: shifted up to 8 px,
    zoomed 0.9-1.1 and stretched 0.87-1.15 (width against height), together."""
    zoom, stretch = rng.uniform(0.9, 1.1), math.exp(rng.uniform(math.log(0.87), math.log(1.15)))
    sx, sy = zoom * math.sqrt(stretch), zoom / math.sqrt(stretch)
    dx, dy = rng.uniform(-8, 8, 2)
    return warp_together(image, region_map, np.array([[sx, 0.0, (1 - sx) * 128 + dx], [0.0, sy, (1 - sy) * 128 + dy]]))


def warp_together(image: np.ndarray, region_map: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A frame (linear) and its region map (nearest neighbour) through the same 2x3 affine matrix, black outside."""
    size = (image.shape[1], image.shape[0])
    return (cv2.warpAffine(np.ascontiguousarray(image), matrix, size, flags=cv2.INTER_LINEAR, borderValue=0),
            cv2.warpAffine(np.ascontiguousarray(region_map), matrix, size, flags=cv2.INTER_NEAREST, borderValue=0))


def make_batch(frames: list[FrameGeometry], labels: list[str], size: int, rng: np.random.Generator,
               anisotropy: tuple[float, float] | None = None, moved: bool = False):
    """(images, region maps, valid, drop, target, kind): the intact views, then the degraded ones, then (`moved`)
    the intact views moved a little (`small_move`)."""
    idx = rng.choice(len(frames), size, p=sampling_weights(labels))
    items = [views(frames[i], rng, anisotropy) for i in idx]
    intact = np.stack([it[0] for it in items]).astype(np.float32)
    degraded = np.stack([it[1] for it in items]).astype(np.float32)
    rmap = np.stack([it[2] for it in items]).astype(np.float32)
    images, maps = [intact, degraded], [rmap, rmap]
    if moved:
        pairs = [small_move(it[0], it[2], rng) for it in items]
        images.append(np.stack([p[0] for p in pairs]).astype(np.float32))
        maps.append(np.stack([p[1] for p in pairs]).astype(np.float32))
    x = torch.from_numpy(np.concatenate(images))[:, None].contiguous(memory_format=torch.channels_last)
    r = torch.from_numpy(np.concatenate(maps))[:, None]
    valid = torch.from_numpy(np.stack([it[3] for it in items])).float()
    drop = torch.from_numpy(np.stack([it[4] for it in items])).float()
    target = torch.tensor([LABEL_TARGET[labels[i]] for i in idx], dtype=torch.float32)
    kind = [labels[i] for i in idx]
    return x, r, valid, drop, target, kind


def losses(model: torch.nn.Module, batch, cfg: FitConfig) -> dict[str, torch.Tensor]:
    x, r, valid, drop, target, kind = batch
    n = len(target)
    scores = model(x, r)
    s0, s1 = scores[:n], scores[n:2 * n]
    count = valid.sum(dim=1).clamp(min=1)
    global0 = (s0 * valid).sum(dim=1) / count
    has = valid.sum(dim=1) > 0
    expert = ((global0 - target) ** 2)[has].mean()
    poor = torch.tensor([k == "Poor" for k in kind])
    good = torch.tensor([k == "Good" for k in kind])
    lowest = torch.where(valid > 0, s0, torch.full_like(s0, 9.0)).min(dim=1).values
    weak = torch.zeros(())
    if (poor & has).any():
        weak = weak + (torch.relu(lowest - 2.0) ** 2)[poor & has].mean()
    if good.any():
        weak = weak + ((torch.relu(2.5 - s0) ** 2) * valid)[good].sum() / valid[good].sum().clamp(min=1)
    want = (s0.detach() - drop).clamp(1.0, 5.0)
    synthetic = (((s1 - want) ** 2) * valid).sum() / valid.sum().clamp(min=1)
    total = expert + cfg.weak_weight * weak + cfg.synthetic_weight * synthetic
    terms = {"expert": expert, "weak": weak, "synthetic": synthetic}
    if len(scores) > 2 * n:          # the moved views: each region present in both scores the same
        s2 = scores[2 * n:]
        both = valid * (r[2 * n:, 0].flatten(1).long().unsqueeze(1) ==
                        torch.arange(1, 9).view(1, 8, 1)).any(dim=2).float()
        consistency = (((s2 - s0) ** 2) * both).sum() / both.sum().clamp(min=1)
        total = total + cfg.consistency_weight * consistency
        terms["consistency"] = consistency
    return {"total": total, **terms}


def fit(frames: list[FrameGeometry], labels: list[str], cfg: FitConfig) -> RegionPooledQuality:
    """A trained network (eval mode) from the given frames and labels; seeded by cfg.seed."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = RegionPooledQuality(width=cfg.width).to(memory_format=torch.channels_last)  # faster depthwise convs
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    warm = max(1, min(50, cfg.steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * s / max(cfg.steps, 1)))))
    start, running = time.time(), {}
    for step in range(1, cfg.steps + 1):
        model.train()
        terms = losses(model, make_batch(frames, labels, cfg.batch, rng, cfg.anisotropy, cfg.consistency_weight > 0), cfg)
        opt.zero_grad()
        terms["total"].backward()
        opt.step()
        sched.step()
        for k, v in terms.items():
            running[k] = 0.9 * running.get(k, float(v.detach())) + 0.1 * float(v.detach())
        if step % cfg.log_every == 0 or step == cfg.steps:
            log.info("step %d/%d  %s  %.1f min", step, cfg.steps,
                     " ".join(f"{k} {v:.3f}" for k, v in running.items()), (time.time() - start) / 60)
        if cfg.max_minutes and (time.time() - start) / 60 > cfg.max_minutes:
            log.info("stopping at step %d: %.1f min reached", step, cfg.max_minutes)
            break
    return model.to(memory_format=torch.contiguous_format).eval()


def predict(model: torch.nn.Module, images: np.ndarray, region_maps: np.ndarray, batch: int = 32) -> np.ndarray:
    """(N, 8) scores of (N, 256, 256) images with their region maps."""
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i:i + batch].astype(np.float32))[:, None]
            r = torch.from_numpy(region_maps[i:i + batch].astype(np.float32))[:, None]
            out.append(model(x, r).numpy())
    return np.concatenate(out).astype(np.float64)


MIN_SLOPE = 0.3


def frame_means(raw: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(N,) mean raw score of each frame's valid regions (the global score before correction)."""
    v = valid.astype(np.float64)
    return (raw * v).sum(axis=1) / np.maximum(v.sum(axis=1), 1)


def bias_correction(model: torch.nn.Module, frames: list[FrameGeometry], labels: list[str]) -> np.ndarray:
    """(slope, intercept) of the paper's linear bias correction, here of the global score: raw global = slope *
    frame target + intercept, least squares over the model's own training frames (undegraded, as they are).
    Applied as a shift of the whole frame (`apply_correction`)."""
    raw = predict(model, np.stack([g.image for g in frames]), np.stack([g.region_map for g in frames]))
    glob = frame_means(raw, np.stack([g.valid for g in frames]))
    target = np.array([LABEL_TARGET[x] for x in labels])
    slope, intercept = np.polyfit(target, glob, 1)
    if slope < MIN_SLOPE:
        log.warning("bias correction slope %.3f below %.2f, clamped", slope, MIN_SLOPE)
        slope = MIN_SLOPE
        intercept = float(glob.mean() - slope * target.mean())
    return np.array([slope, intercept], np.float64)


def apply_correction(raw: np.ndarray, correction: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Scores on the 1-5 scale: every region of a frame moved by the same amount, so that the frame's global
    score G becomes (G - intercept) / slope, while the differences between its regions stay as trained (in
    categories, from the synthetic degradations); clipped to 1-5. Same as the exported graph."""
    glob = frame_means(raw, valid)
    shift = (glob - correction[1]) / correction[0] - glob
    return np.clip(raw + shift[:, None], 1.0, 5.0)
