"""LV volumes and ejection fraction by the method of disks (modified Simpson's rule). Research use only.

From a label map (1 LV, 2 MYO, 3 LA) or a plain LV mask, with its pixel spacing (sy, sx) in mm:

1. Base: the LV pixels touching the LA; without an LA, the LV pixels touching neither MYO nor LV
   in the lower half of the LV (the opening of the myocardium); with a plain mask, the lowest
   LV pixels along its principal axis. The annulus points are the two ends of the base (its
   extremes along the base's own direction); the base point is their middle.
2. Apex: the LV pixel furthest from the base point. The long axis runs from the base point to it.
3. N_DISKS disks of equal height along the long axis; each diameter is the length of the LV along
   the line perpendicular to the axis through the disk's middle (sampled every quarter pixel).
4. Single plane: V = sum(pi/4 d_i^2) L/N. Biplane (A4C and A2C of one patient at the same phase):
   V = sum(pi/4 a_i b_i) L/N with L the longer of the two long axes.
EF = (EDV - ESV) / EDV in percent. Not a clinical measurement: the segmentation is a research
model (see its card) and the spacing is assumed when the file stores none.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LV, MYO, LA = 1, 2, 3
N_DISKS = 20
MIN_BASE_PIXELS = 3      # fewer base pixels: the base is taken from the mask's shape
MIN_LV_PIXELS = 50       # smaller LVs give no volume


@dataclass(frozen=True)
class LongAxis:
    """The LV long axis in mm, (y, x) from the image's top left."""
    base: np.ndarray        # (2,) middle of the annulus
    apex: np.ndarray        # (2,)
    annulus: np.ndarray     # (2, 2) the two ends of the base

    @property
    def length_mm(self) -> float:
        return float(np.linalg.norm(self.apex - self.base))


def _lv(labels_or_mask: np.ndarray) -> np.ndarray:
    a = np.asarray(labels_or_mask)
    return a.astype(bool) if a.dtype == bool else a == LV


def _touching(mask: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Pixels of mask with a 4-neighbour in other."""
    p = np.pad(other, 1)
    near = p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:]
    return mask & near


def _principal(points: np.ndarray) -> np.ndarray:
    """Unit direction of largest spread of (n, 2) points."""
    centred = points - points.mean(axis=0)
    _, vecs = np.linalg.eigh(centred.T @ centred)
    return vecs[:, -1]


def long_axis(labels_or_mask: np.ndarray, spacing: tuple[float, float]) -> LongAxis | None:
    """Base, apex and annulus of the LV (module docstring, steps 1-2); None without an LV."""
    lv = _lv(labels_or_mask)
    if lv.sum() < MIN_LV_PIXELS:
        return None
    scale = np.asarray(spacing, dtype=np.float64)
    pts = np.argwhere(lv) * scale
    base_px = np.zeros_like(lv)
    labels = np.asarray(labels_or_mask)
    if labels.dtype != bool:
        base_px = _touching(lv, labels == LA)
        if base_px.sum() < MIN_BASE_PIXELS and (labels == MYO).any():
            opening = _touching(lv, (labels != MYO) & (labels != LV))
            centre_y = np.argwhere(lv)[:, 0].mean()
            opening[: int(math.ceil(centre_y))] = False
            base_px = opening
    if base_px.sum() >= MIN_BASE_PIXELS:
        base_pts = np.argwhere(base_px) * scale
    else:   # plain mask: the lowest pixels along the principal axis
        axis = _principal(pts)
        axis = axis if axis[0] > 0 else -axis        # pointing down the image
        proj = pts @ axis
        base_pts = pts[proj >= proj.max() - 2 * scale.max()]
    direction = _principal(base_pts) if len(base_pts) > 1 else np.array([0.0, 1.0])
    proj = base_pts @ direction
    annulus = np.stack([base_pts[proj.argmin()], base_pts[proj.argmax()]])
    base = annulus.mean(axis=0)
    apex = pts[np.argmax(np.linalg.norm(pts - base, axis=1))]
    return LongAxis(base, apex, annulus)


def disk_diameters(labels_or_mask: np.ndarray, spacing: tuple[float, float], axis: LongAxis,
                   n_disks: int = N_DISKS) -> np.ndarray:
    """(n_disks,) LV diameter in mm at the middle of each disk along the long axis."""
    lv = _lv(labels_or_mask)
    sy, sx = spacing
    u = (axis.apex - axis.base) / max(axis.length_mm, 1e-9)
    perp = np.array([-u[1], u[0]])
    centres = axis.base + ((np.arange(n_disks) + 0.5) * axis.length_mm / n_disks)[:, None] * u
    step = min(sy, sx) / 4
    half = math.hypot(lv.shape[0] * sy, lv.shape[1] * sx)
    s = np.arange(-half, half, step)
    pts = centres[:, None, :] + s[None, :, None] * perp        # (n, m, 2) mm
    r = np.round(pts[..., 0] / sy).astype(np.int64)
    c = np.round(pts[..., 1] / sx).astype(np.int64)
    inside = (r >= 0) & (r < lv.shape[0]) & (c >= 0) & (c < lv.shape[1])
    hit = np.zeros(inside.shape, bool)
    hit[inside] = lv[r[inside], c[inside]]
    return hit.sum(axis=1) * step


def volume_ml(labels_or_mask: np.ndarray, spacing: tuple[float, float], n_disks: int = N_DISKS) -> float:
    """Single-plane LV volume in ml (NaN without an LV)."""
    axis = long_axis(labels_or_mask, spacing)
    if axis is None:
        return math.nan
    d = disk_diameters(labels_or_mask, spacing, axis, n_disks)
    return float(np.sum(math.pi / 4 * d ** 2) * axis.length_mm / n_disks / 1000.0)


def biplane_volume_ml(a4c: np.ndarray, spacing_a4c: tuple[float, float], a2c: np.ndarray,
                      spacing_a2c: tuple[float, float], n_disks: int = N_DISKS) -> float:
    """Biplane LV volume in ml from A4C and A2C of the same phase (NaN when either has no LV)."""
    ax4, ax2 = long_axis(a4c, spacing_a4c), long_axis(a2c, spacing_a2c)
    if ax4 is None or ax2 is None:
        return math.nan
    a = disk_diameters(a4c, spacing_a4c, ax4, n_disks)
    b = disk_diameters(a2c, spacing_a2c, ax2, n_disks)
    length = max(ax4.length_mm, ax2.length_mm)
    return float(np.sum(math.pi / 4 * a * b) * length / n_disks / 1000.0)


def ejection_fraction(edv_ml: float, esv_ml: float) -> float:
    """EF in percent; NaN when the volumes do not allow one (missing, EDV not above zero)."""
    if not (math.isfinite(edv_ml) and math.isfinite(esv_ml)) or edv_ml <= 0:
        return math.nan
    return 100.0 * (edv_ml - esv_ml) / edv_ml
