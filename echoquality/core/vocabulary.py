"""The vocabulary shared by every part: labels, regions, views, quality categories, default spacing."""
from __future__ import annotations

import numpy as np

# Label values of segmentation maps (the paper's convention; AO only in long-axis views).
BACKGROUND, LV, MYO, LA, AO = 0, 1, 2, 3, 4
LABEL_NAMES = ("background", "LV", "MYO", "LA", "AO")

# Canonical region order everywhere (CSV columns, region maps 1..8, model outputs).
REGION_NAMES = (
    "basal_left", "mid_left", "apical_left",
    "apical_right", "mid_right", "basal_right",
    "annulus_left", "annulus_right",
)
N_REGIONS = len(REGION_NAMES)
# Region order of a left-right mirrored frame (canonical order: basal, mid, apical left; apical, mid,
# basal right; annulus left, right): left and right swap.
MIRRORED_REGIONS = (5, 4, 3, 2, 1, 0, 7, 6)

QUALITY_CATEGORIES = ("not visible", "poor", "ok", "good", "excellent")  # scores 1..5

VIEWS = ("a4c", "a2c", "alax")

# (image-left wall, image-right wall) of each view as displayed, in the clinician's words.
WALLS: dict[str, tuple[str, str]] = {
    "a4c": ("inferoseptal", "anterolateral"),
    "a2c": ("inferior", "anterior"),
    "alax": ("inferolateral", "anteroseptal"),
}

# When a source carries no pixel spacing: the frame's height is taken to span this depth
# (a typical adult apical view), with square pixels.
DEFAULT_DEPTH_MM = 160.0


def default_spacing(height: int) -> tuple[float, float]:
    """Pixel spacing (sy, sx) in mm assumed for a frame of unknown spacing."""
    s = DEFAULT_DEPTH_MM / float(height)
    return (s, s)


def quality_category(score: float | np.ndarray) -> np.ndarray:
    """Category 1..5 of a score: nearest integer (halves round up), clipped; 0 where NaN."""
    s = np.asarray(score, dtype=np.float64)
    cat = np.clip(np.floor(s + 0.5), 1, 5)
    return np.where(np.isnan(s), 0, cat).astype(np.int64)
