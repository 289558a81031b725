"""Ultrasound-appropriate augmentation of (image, labels) pairs at network size.

Geometry: left-right mirroring (the other display convention), rotation and scaling about the sector
apex, aspect (sector width vs depth) change, shifts, and narrower/shallower sectors. Intensity: gain,
gamma, depth-gain ramps (TGC), multiplicative speckle-like noise, additive noise, blur and resolution loss.
All randomness comes from the numpy Generator passed in, so a seed reproduces a run.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of each augmentation."""
    p_mirror: float = 0.5
    p_affine: float = 0.9
    rotation_deg: float = 15.0
    scale: tuple[float, float] = (0.75, 1.25)
    aspect: tuple[float, float] = (0.8, 1.25)       # x-scale / y-scale
    shift: float = 0.08                             # fraction of the image size
    p_sector: float = 0.3
    sector_keep: tuple[float, float] = (0.65, 1.0)  # fraction of each half-angle kept
    depth_keep: tuple[float, float] = (0.75, 1.0)   # fraction of the depth kept
    gain: tuple[float, float] = (0.45, 1.5)
    gamma: tuple[float, float] = (0.6, 1.7)
    p_tgc: float = 0.3
    tgc: float = 0.6
    p_speckle: float = 0.5
    speckle: tuple[float, float] = (0.05, 0.4)
    p_noise: float = 0.3
    noise: float = 0.04
    p_blur: float = 0.3
    blur_sigma: tuple[float, float] = (0.4, 1.5)
    p_lowres: float = 0.2
    lowres: tuple[float, float] = (0.4, 0.8)


def sector_apex(image: np.ndarray) -> tuple[float, float]:
    """(x, y) of the sector apex: the top of the non-black area, centred on its width."""
    rows = np.flatnonzero((image > 8).any(axis=1))
    cols = np.flatnonzero((image > 8).any(axis=0))
    if rows.size == 0:
        return image.shape[1] / 2.0, 0.0
    return (cols[0] + cols[-1]) / 2.0, float(rows[0])


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))


def random_affine(rng: np.random.Generator, apex: tuple[float, float], size: int, cfg: AugmentConfig) -> np.ndarray:
    """A 2x3 matrix: rotate, scale and stretch about the apex, then shift."""
    angle = np.deg2rad(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
    scale = _log_uniform(rng, cfg.scale)
    aspect = _log_uniform(rng, cfg.aspect)
    sx, sy = scale * np.sqrt(aspect), scale / np.sqrt(aspect)
    c, s = np.cos(angle), np.sin(angle)
    linear = np.array([[c, -s], [s, c]]) @ np.diag([sx, sy])
    shift = rng.uniform(-cfg.shift, cfg.shift, 2) * size
    a = np.asarray(apex)
    offset = a + shift - linear @ a
    return np.hstack([linear, offset[:, None]]).astype(np.float64)


def sector_cut(image: np.ndarray, mask: np.ndarray, apex: tuple[float, float], rng: np.random.Generator,
               cfg: AugmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """Narrow and/or shorten the imaged sector; what falls outside becomes black background."""
    h, w = image.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xs - apex[0], ys - apex[1]
    angle = np.arctan2(dx, dy)          # 0 straight down from the apex
    radius = np.hypot(dx, dy)
    inside = image > 8
    if inside.sum() < 100:
        return image, mask
    lo, hi = np.percentile(angle[inside], [1, 99])
    mid = (lo + hi) / 2
    keep = np.ones_like(inside)
    if rng.random() < 0.7:
        left = mid - (mid - lo) * rng.uniform(*cfg.sector_keep)
        right = mid + (hi - mid) * rng.uniform(*cfg.sector_keep)
        keep &= (angle >= left) & (angle <= right)
    if rng.random() < 0.5:
        keep &= radius <= np.percentile(radius[inside], 99.5) * rng.uniform(*cfg.depth_keep)
    return np.where(keep, image, 0).astype(image.dtype), np.where(keep, mask, 0).astype(mask.dtype)


def intensity(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Gain, gamma, TGC ramp, speckle, noise, blur and resolution loss inside the sector (0-255 float)."""
    size = image.shape[0]
    support = (image > 0).astype(np.float32)
    x = image.astype(np.float32) / 255.0
    x = np.power(x, _log_uniform(rng, cfg.gamma)) * rng.uniform(*cfg.gain)
    if rng.random() < cfg.p_tgc:
        ramp = 1.0 + rng.uniform(-cfg.tgc, cfg.tgc) * (np.linspace(-0.5, 0.5, size, dtype=np.float32)[:, None])
        x = x * ramp
    if rng.random() < cfg.p_speckle:
        grain = int(rng.choice([1, 2, 3]))
        field = rng.standard_normal((size // grain + 1, size // grain + 1)).astype(np.float32)
        field = cv2.resize(field, (size, size), interpolation=cv2.INTER_LINEAR) if grain > 1 else field[:size, :size]
        x = x * np.clip(1.0 + rng.uniform(*cfg.speckle) * field, 0.0, None)
    if rng.random() < cfg.p_noise:
        x = x + rng.normal(0.0, rng.uniform(0, cfg.noise), x.shape).astype(np.float32)
    if rng.random() < cfg.p_blur:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(*cfg.blur_sigma))
    if rng.random() < cfg.p_lowres:
        small = max(16, int(size * rng.uniform(*cfg.lowres)))
        x = cv2.resize(cv2.resize(x, (small, small), interpolation=cv2.INTER_AREA), (size, size),
                       interpolation=cv2.INTER_LINEAR)
    return np.round(np.clip(x, 0.0, 1.0) * 255.0 * support)


def augment(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
            cfg: AugmentConfig = AugmentConfig()) -> tuple[np.ndarray, np.ndarray]:
    """A randomly augmented copy of a (size, size) uint8 image and its labels: (float32 0-255, uint8)."""
    size = image.shape[0]
    if rng.random() < cfg.p_mirror:
        image, mask = image[:, ::-1], mask[:, ::-1]
    apex = sector_apex(image)
    if rng.random() < cfg.p_affine:
        matrix = random_affine(rng, apex, size, cfg)
        image = cv2.warpAffine(np.ascontiguousarray(image), matrix, (size, size), flags=cv2.INTER_LINEAR,
                               borderValue=0)
        mask = cv2.warpAffine(np.ascontiguousarray(mask), matrix, (size, size), flags=cv2.INTER_NEAREST,
                              borderValue=0)
        apex = tuple(matrix[:, :2] @ np.asarray(apex) + matrix[:, 2])
    if rng.random() < cfg.p_sector:
        image, mask = sector_cut(image, mask, apex, rng, cfg)
    return intensity(image, rng, cfg).astype(np.float32), np.ascontiguousarray(mask, dtype=np.uint8)
