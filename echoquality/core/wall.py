"""Wall completion: the myocardium placed where the network left the LV border bare.

Experts draw the whole myocardium around the LV, faint walls included (a wall the beam misses is
"not visible", quality 1, on the paper's scale); a network trained on a hundred frames sometimes
stops the LV at the fan's noise instead and draws no wall there, and the region then gets no score
at all. Where the cleaned label map leaves a stretch of the LV border with neither MYO nor LA next
to it, a band of the wall's own measured thickness is laid outside that stretch (inside the fan,
never over the LA or the valve). The quality stage then scores what the image shows there.

Canonical framing (apex at the top); label values from `echoquality.core.vocabulary`.
"""
from __future__ import annotations

import cv2
import numpy as np

from .vocabulary import LA, LV, MYO

# A bare stretch shorter than this share of the LV border is left alone (a notch, not a missing wall).
MIN_BARE_SHARE = 0.08
# Only a wall that already lines at least this share of the LV border is completed (a faint wall missing from
# a heart, not a blob with a sliver of wall; the reference walls of the CAMUS frames line 0.70-0.90 of it).
MIN_WALL_SHARE = 0.4
# Border pixels this close (pixels) to MYO or LA are covered.
COVERED_PX = 2
# Border facing the base (outward normal within acos(0.7) = 45 degrees of straight down) is the valve plane.
BASE_FACING = 0.7
# Wall thickness (pixels) used when the existing wall is too short to measure.
THICKNESS_BOUNDS = (3.0, 14.0)


_COVER = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * COVERED_PX + 1, 2 * COVERED_PX + 1))


def _border(mask: np.ndarray) -> np.ndarray:
    return mask & ~cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def _covered(mask: np.ndarray) -> np.ndarray:
    """Pixels within COVERED_PX of `mask` (a small dilation: cheap enough for every frame)."""
    return cv2.dilate(mask.astype(np.uint8), _COVER).astype(bool)


def _near(mask: np.ndarray, px: float) -> np.ndarray:
    """Pixels within `px` (Euclidean) of `mask`."""
    if not mask.any():
        return np.zeros(mask.shape, bool)
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3) <= px


def facing_base(lv: np.ndarray) -> np.ndarray:
    """Where the LV's outward normal points down, towards the base (more than BASE_FACING): the valve plane."""
    smooth = cv2.GaussianBlur(lv.astype(np.float32), (0, 0), 3.0)
    gy, gx = cv2.Sobel(smooth, cv2.CV_32F, 0, 1), cv2.Sobel(smooth, cv2.CV_32F, 1, 0)
    return -gy > BASE_FACING * np.hypot(gx, gy) + 1e-6


def wall_thickness_px(labels: np.ndarray) -> float:
    """The existing wall's mean thickness in pixels: its area over the length of LV border it covers."""
    myo = labels == MYO
    covered = _border(labels == LV) & _covered(myo)
    if covered.sum() < 10:
        return THICKNESS_BOUNDS[0] * 2
    return float(np.clip(myo.sum() / covered.sum(), *THICKNESS_BOUNDS))


def complete_wall(labels: np.ndarray, sector: np.ndarray | None = None) -> np.ndarray:
    """`labels` with MYO laid along bare stretches of the LV border (see the module docstring).

    Returns the input unchanged when there is no LV, a wall lining less than MIN_WALL_SHARE of its
    border, or no bare stretch worth completing. The band stays inside `sector`, off the LV and LA, and away from the LA by the wall's
    thickness (the mitral valve plane is not a wall).
    """
    lab = np.asarray(labels)
    lv, myo, la = lab == LV, lab == MYO, lab == LA
    if not lv.any() or not myo.any():
        return lab
    border = _border(lv)
    length = int(border.sum())
    if int((border & _covered(myo)).sum()) < MIN_WALL_SHARE * length:
        return lab
    bare = border & ~_covered(myo | la)
    if bare.sum() < MIN_BARE_SHARE * length:      # most frames end here, after three small morphologies
        return lab
    thickness = wall_thickness_px(lab)
    bare &= ~facing_base(lv) & ~_near(la, 2 * thickness)
    if bare.sum() < MIN_BARE_SHARE * length:
        return lab
    band = _near(bare, thickness) & _near(lv, thickness) & ~lv & ~la & (lab != MYO)
    if sector is not None:
        band &= np.asarray(sector, bool)
    out = lab.copy()
    out[band & (lab == 0)] = MYO
    return out
