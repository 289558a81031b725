"""Division of the myocardium into the eight regions of the paper's Appendix A.

Steps (label map values: 0 background, 1 LV, 2 MYO, 3 LA, 4 AO):

1. The LV lumen is the largest LV blob after an opening that drops spurs up to about four
   pixels wide at 256x256 (mask noise along the MYO); its outer border is traced once.
2. Base (the mitral valve plane): the LV border touching the LA (and the AO in long-axis views),
   together with the border points from which a short walk towards the LA (LV centroid → LA
   centroid) leaves the LV without meeting MYO, where connected to the contact. So the base
   spans the whole valve even where the LA touches the LV only in its middle or the MYO is open
   next to the valve. The endocardial border is the longest stretch of the LV border outside the
   base; its two ends are the annulus points at the mitral hinges, where MYO meets LA (A, B).
   Without an LA, the stretch of LV border touching MYO is used (the opening of the MYO).
3. Apex (C): the endocardial point furthest, in millimetres, from the middle of the base (on a
   flat or round top, the middle of the stretch around it within APEX_TOLERANCE, 3 %, of the
   furthest distance).
4. Each side (annulus → apex) is cut into three parts of equal length in millimetres: points
   D, E (left) and F, G (right). H..L are the outer MYO border points closest to C..G.
5. The six myocardial regions are bounded by the endocardial border, the outer border and the
   straight cuts C-H, D-I, E-J, F-K, G-L, as in the paper. Computed as: every MYO pixel first
   joins the part of the endocardial border it is nearest to (a Voronoi split, OpenCV's labelled
   distance transform); then, near each cut, the pixels of its two regions go to the side of
   the straight line they lie on. A cut that runs along the border instead of across the wall
   (its closest outer point further down a ragged wall) is left to the Voronoi split, so the
   regions are always disjoint and cover the MYO.
6. Two annulus discs around A and B, drawn over the basal regions, with the paper's radius of
   2 mm by default (ANNULUS_RADIUS_MM; ellipses in pixels when spacing is anisotropic). The
   authors' arqee library draws 10-pixel discs at 256x256 instead (about 6 mm at the default
   spacing); we keep the paper's 2 mm (benchmarks/compare_arqee_regions.py compares both).
7. Parts outside the sector are removed; a region with more than half of its pixels outside,
   too few pixels, or (myocardial regions) MYO missing along most of its endocardial border
   (an open myocardium, or an LV cut by the image edge) is marked invalid.

Spacing is (sy, sx) mm per pixel of the label map; unknown (None) means
vocabulary.default_spacing: the map's height spans DEFAULT_DEPTH_MM (160 mm), square
pixels. At 256x256 the annulus discs then have a radius of 3.2 pixels.

"Left"/"right" are image left/right as displayed. MYO more than MAX_WALL_MM from the
endocardial border (stray blobs) is ignored.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from echoquality.core.vocabulary import AO, BACKGROUND, LA, LV, MYO, N_REGIONS, default_spacing

log = logging.getLogger(__name__)

Point = tuple[float, float]  # (y, x) in pixels of the label map

ANNULUS_RADIUS_MM = 2.0
# Endocardial points within this fraction of the furthest distance from the base count as the top.
APEX_TOLERANCE = 0.03
# MYO further than this from the endocardial border is not part of any region.
MAX_WALL_MM = 20.0
# Length (pixels per 256) of the walk towards the LA that tells base points from wall points.
BASE_WALK_256 = 3
# LV border with MYO alongside within this angle of the direction towards the LA is wall, not base.
WALL_ALONG_DEG = 30.0
# An annulus point up to this far along the border from the MYO moves onto it.
HINGE_SLIDE_MM = 3.0
# A region with more than this fraction of its pixels outside the sector is invalid.
MAX_OUT_OF_SECTOR = 0.5
# A myocardial region is invalid when MYO lies near less than this fraction of its border.
MIN_WALL_COVERAGE = 0.5
# Regions smaller than this many pixels per 256x256 image area are invalid (at least 4 pixels).
MIN_REGION_PIXELS_256 = 8
# A straight cut closer than this to the endocardial border's direction does not cross the wall.
MAX_CUT_SLANT_DEG = 45.0
# A straight cut settles the regions of pixels within this many half-lengths of its middle.
CUT_REACH = 1.3
# An LV smaller than this fraction of the image gives no regions.
MIN_LV_FRACTION = 0.001
# Endocardial borders shorter than this many contour points give no regions.
MIN_WALL_POINTS = 12


@dataclass
class Landmarks:
    """Landmarks of the division, (y, x) in label-map pixels; None where not found."""
    annulus_left: Point | None = None    # A: MYO meets LA, image left
    annulus_right: Point | None = None   # B: MYO meets LA, image right
    apex: Point | None = None            # C: LV apex on the endocardial border
    # D, E, F, G: endocardial cuts, from left base over the apex to right base:
    # basal/mid left, mid/apical left, apical/mid right, mid/basal right. (4, 2) array.
    endo_cuts: np.ndarray = field(default_factory=lambda: np.full((4, 2), np.nan))
    # H..L: outer MYO border points closest to C, D, E, F, G. (5, 2) array.
    epi_points: np.ndarray = field(default_factory=lambda: np.full((5, 2), np.nan))
    base_from: str = ""                  # "LA", "LA+AO" or "MYO" (no LA: the MYO opening)


@dataclass
class Regions:
    """The eight regions of one label map (canonical order of echoquality.core.vocabulary.REGION_NAMES)."""
    region_map: np.ndarray      # uint8 (H, W): 0 none, 1..8 canonical order, outside sector removed
    valid: np.ndarray           # bool (8,)
    pixels: np.ndarray          # int (8,) pixels kept (inside sector)
    out_of_sector: np.ndarray   # float (8,) fraction of the region's pixels outside the sector (NaN: empty)
    lv_lumen: np.ndarray        # bool (H, W) background region for the metrics (inside sector, no disc)
    landmarks: Landmarks | None
    sector: np.ndarray | None = None  # bool (H, W) the sector mask used (None: none was given)


def empty_regions(shape: tuple[int, int]) -> Regions:
    """Regions of a label map where nothing could be divided: all invalid."""
    return Regions(region_map=np.zeros(shape, np.uint8), valid=np.zeros(N_REGIONS, bool),
                   pixels=np.zeros(N_REGIONS, np.int64), out_of_sector=np.full(N_REGIONS, np.nan),
                   lv_lumen=np.zeros(shape, bool), landmarks=None)


def _largest_contour(mask: np.ndarray) -> np.ndarray | None:
    """Outer contour (N, 2) as x, y of the largest blob of a uint8 mask, or None."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    sizes = [cv2.contourArea(c) + len(c) for c in contours]
    return contours[int(np.argmax(sizes))][:, 0, :]


def _blob(mask: np.ndarray, contour: np.ndarray) -> np.ndarray:
    """The pixels of mask inside contour (one blob, its holes kept), uint8 0/1."""
    blob = np.zeros_like(mask)
    cv2.drawContours(blob, [contour[:, None, :]], 0, 1, thickness=-1)
    return blob & mask


# _first_beyond_lv results besides MYO: still inside the LV after all steps, or left it elsewhere.
INSIDE, BASE_SIDE = 254, 255
_WALK_RESULT = np.full(256, BASE_SIDE, np.uint8)
_WALK_RESULT[MYO], _WALK_RESULT[INSIDE] = MYO, INSIDE


def _direction(lv_contour: np.ndarray, atrium_contours: list[np.ndarray]) -> np.ndarray:
    """Unit vector (dy, dx) from the centroid of the LV outline to that of the atrium outlines
    (polygon moments; image down when degenerate)."""
    m_lv = cv2.moments(lv_contour)
    m_at = [cv2.moments(c) for c in atrium_contours]
    area = sum(m["m00"] for m in m_at)
    if m_lv["m00"] <= 0 or area <= 0:
        return np.array([1.0, 0.0])
    d = np.array([sum(m["m01"] for m in m_at) / area - m_lv["m01"] / m_lv["m00"],
                  sum(m["m10"] for m in m_at) / area - m_lv["m10"] / m_lv["m00"]])
    n = float(np.hypot(*d))
    return d / n if n > 1e-6 else np.array([1.0, 0.0])


def _first_beyond_lv(crop: np.ndarray, lv: np.ndarray, points_yx: np.ndarray, direction: np.ndarray,
                     steps: int) -> np.ndarray:
    """For each border point, what a walk of 1..steps pixels along direction meets first outside the LV
    (lv, 0/1): MYO, BASE_SIDE (anything else, or beyond the crop) or INSIDE (never left the LV). uint8 (N,)."""
    hh, ww = crop.shape
    k = np.arange(1, steps + 1, dtype=np.float64)
    ys = np.rint(points_yx[:, 0:1] + k * direction[0]).astype(np.int64)
    xs = np.rint(points_yx[:, 1:2] + k * direction[1]).astype(np.int64)
    outside = (ys < 0) | (ys >= hh) | (xs < 0) | (xs >= ww)
    flat = np.clip(ys, 0, hh - 1) * ww + np.clip(xs, 0, ww - 1)
    met = crop.ravel()[flat]
    met[lv.ravel()[flat] > 0] = INSIDE
    met[outside] = BACKGROUND
    first = met[np.arange(len(met)), np.argmax(met != INSIDE, axis=1)]
    return _WALK_RESULT[first]


def _runs_touching(flags: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """flags kept only on its circular runs of True that hold at least one seed."""
    if flags.all():
        return flags & seeds.any()
    starts = flags.copy()
    starts[1:] &= ~flags[:-1]
    run = np.cumsum(starts) * flags
    if flags[0] and flags[-1]:  # the run through the end continues at the start
        run[run == run[-1]] = 1
    keep = np.zeros(int(run.max()) + 1, bool)
    keep[run[seeds & flags]] = True
    keep[0] = False
    return keep[run]


def _cut_straight(regions: np.ndarray, endo: np.ndarray, epi: np.ndarray, tangent: np.ndarray) -> None:
    """Make the region borders the paper's straight cuts from the endocardial points to their outer points.

    regions holds the Voronoi split (1..6, in place). Cut i (D, E, C, F, G to their outer points,
    between regions i + 1 and i + 2) settles, near the cut (within a square around the segment a
    little larger than it), which of its two regions each of their pixels belongs to: the side
    of the straight line it lies on. Elsewhere, and for cuts running along the border rather
    than across the wall (within MAX_CUT_SLANT_DEG of the border direction `tangent`, where the
    closest outer point is further down the wall), the Voronoi split stays.
    """
    hh, ww = regions.shape
    cos_slant = math.cos(math.radians(MAX_CUT_SLANT_DEG))
    for i, ((py, px), (qy, qx), (ty, tx)) in enumerate(zip(endo.tolist(), epi.tolist(), tangent.tolist())):
        dy, dx = qy - py, qx - px
        n, nt = math.hypot(dy, dx), math.hypot(ty, tx)
        if n < 1.0 or abs(dy * ty + dx * tx) > n * nt * cos_slant:
            continue
        cy, cx, radius = (py + qy) / 2, (px + qx) / 2, CUT_REACH * n / 2 + 1
        y0, y1 = max(0, int(cy - radius)), min(hh, int(cy + radius) + 2)
        x0, x1 = max(0, int(cx - radius)), min(ww, int(cx + radius) + 2)
        if y1 <= y0 or x1 <= x0:
            continue
        first, second = i + 1, i + 2
        # The sign of the side `first` is on: that of the endocardial border behind the cut (-t).
        sign = 1.0 if (dx * ty - dy * tx) >= 0 or nt == 0 else -1.0
        box = regions[y0:y1, x0:x1]
        mine = (box == first) | (box == second)
        side = np.add.outer((np.arange(y0, y1) - py) * (-dx * sign), (np.arange(x0, x1) - px) * (dy * sign))
        box[mine] = np.where(side[mine] >= 0, first, second)


def _longest_false_run(flags: np.ndarray) -> np.ndarray:
    """Indices of the longest circular run of False in flags (all indices if none is True)."""
    n = flags.size
    marks = np.flatnonzero(flags)
    if marks.size == 0:
        return np.arange(n)
    gaps = np.diff(marks, append=marks[0] + n) - 1
    k = int(np.argmax(gaps))
    return (marks[k] + 1 + np.arange(gaps[k])) % n


def _draw_disc(image: np.ndarray, centre: Point, radius_mm: float, spacing: tuple[float, float],
               value: int) -> None:
    """Set the pixels whose centre lies within radius_mm of centre (an ellipse in pixels), in place."""
    sy, sx = spacing
    cy, cx = centre
    ry, rx = radius_mm / sy, radius_mm / sx
    h, w = image.shape
    y0, y1 = max(0, math.ceil(cy - ry)), min(h - 1, math.floor(cy + ry))
    x0, x1 = max(0, math.ceil(cx - rx)), min(w - 1, math.floor(cx + rx))
    if y1 < y0 or x1 < x0:
        return
    dy = ((np.arange(y0, y1 + 1) - cy) * sy) ** 2
    dx = ((np.arange(x0, x1 + 1) - cx) * sx) ** 2
    window = image[y0:y1 + 1, x0:x1 + 1]
    window[dy[:, None] + dx[None, :] <= radius_mm ** 2] = value


def _counts(region_map: np.ndarray) -> np.ndarray:
    """Pixels of regions 1..8 in a uint8 region map, int (8,)."""
    hist = cv2.calcHist([region_map], [0], None, [N_REGIONS + 1], [0, N_REGIONS + 1]).ravel()
    return hist[1:].astype(np.int64)


def _smooth(current: Point, previous: Point | None, weight: float) -> Point:
    """Exponential smoothing of one landmark: weight on the previous value."""
    if previous is None or weight <= 0:
        return current
    return (weight * previous[0] + (1 - weight) * current[0], weight * previous[1] + (1 - weight) * current[1])


def _nearest_index(points_yx: np.ndarray, p: Point) -> int:
    """Index of the point nearest to p."""
    return int(np.argmin((points_yx[:, 0] - p[0]) ** 2 + (points_yx[:, 1] - p[1]) ** 2))


def divide_myocardium(labels: np.ndarray, spacing: tuple[float, float] | None = None,
                      sector: np.ndarray | None = None, view: str = "a4c",
                      previous: Landmarks | None = None, smoothing: float = 0.0,
                      annulus_radius_mm: float = ANNULUS_RADIUS_MM) -> Regions:
    """Divide the MYO of a label map into the eight regions; never raises on odd masks.

    spacing: (sy, sx) mm per pixel of the label map (None: default_spacing(H)).
    sector: bool mask of the scanned fan (any size; resized to the label map); None = all inside.
    view: "a4c", "a2c" or "alax" (the AO counts as base only in "alax").
    previous, smoothing: landmarks of the previous frame and the weight (0..1) given to them.
    annulus_radius_mm: radius of the two annulus discs; the paper's 2 mm by default (0: no discs).
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"label map must be 2-D, got shape {labels.shape}")
    h, w = labels.shape
    if h < 3 or w < 3:
        return empty_regions((h, w))
    if labels.dtype != np.uint8:
        labels = np.where((labels >= 0) & (labels <= 255), labels, 0).astype(np.uint8)
    sy, sx = spacing if spacing is not None else default_spacing(h)
    sy, sx = float(sy), float(sx)
    if not (math.isfinite(sy) and math.isfinite(sx) and sy > 0 and sx > 0):
        raise ValueError(f"spacing must be two positive numbers, got {spacing}")
    smoothing = min(max(float(smoothing), 0.0), 0.99)
    annulus_radius_mm = float(annulus_radius_mm)
    if not (math.isfinite(annulus_radius_mm) and annulus_radius_mm >= 0):
        raise ValueError(f"annulus radius must be a non-negative number of mm, got {annulus_radius_mm}")

    # 1. LV lumen border; work in a crop around the LV and its wall.
    lv_all = (labels == LV).view(np.uint8)
    # A closing fills pinholes, then an opening drops LV spurs up to four pixels wide at 256x256
    # (mask noise along the MYO): both would add length to the endocardial border and move the cuts.
    spur = max(1, round(2 * max(h, w) / 256))
    bx, by, bw, bh = cv2.boundingRect(lv_all)  # all LV pixels, padded: the morphology's window
    bx0, by0, bx1, by1 = max(0, bx - 3), max(0, by - 3), min(w, bx + bw + 3), min(h, by + bh + 3)
    smooth = cv2.morphologyEx(lv_all[by0:by1, bx0:bx1], cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    contour = _largest_contour(cv2.morphologyEx(
        smooth, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * spur + 1,) * 2)))
    if contour is not None:
        contour = contour + np.array([bx0, by0], dtype=contour.dtype)
    if contour is None or contour.shape[0] < MIN_WALL_POINTS or cv2.contourArea(contour) < MIN_LV_FRACTION * h * w:
        return empty_regions((h, w))
    x_min, y_min, lv_w, lv_h = cv2.boundingRect(contour)
    x_max, y_max = x_min + lv_w - 1, y_min + lv_h - 1
    margin_y, margin_x = int(np.ceil(MAX_WALL_MM / sy)) + 2, int(np.ceil(MAX_WALL_MM / sx)) + 2
    heart = cv2.boundingRect(lv_all | (labels == MYO).view(np.uint8))  # x, y, w, h of LV and MYO
    cy0, cy1 = max(0, y_min - margin_y, heart[1] - 2), min(h, y_max + margin_y + 1, heart[1] + heart[3] + 2)
    cx0, cx1 = max(0, x_min - margin_x, heart[0] - 2), min(w, x_max + margin_x + 1, heart[0] + heart[2] + 2)
    crop = labels[cy0:cy1, cx0:cx1]
    origin = np.array([cy0, cx0])
    cxy = contour - np.array([cx0, cy0], dtype=contour.dtype)
    lv = _blob((crop == LV).view(np.uint8), cxy)
    cyx = cxy[:, ::-1]  # (N, 2) y, x in the crop

    myo = (crop == MYO).view(np.uint8)
    near_radius = max(1, round(2 * max(h, w) / 256))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * near_radius + 1,) * 2)
    myo_near = cv2.dilate(myo, kernel)[cyx[:, 0], cyx[:, 1]].astype(bool)
    # LV border on the image edge is not endocardium: the wall there is unseen.
    myo_near &= (contour[:, 0] > 0) & (contour[:, 0] < w - 1) & (contour[:, 1] > 0) & (contour[:, 1] < h - 1)

    # 2. Base: the LV border facing the LA (and AO): border points touching it, and those from
    # which a short step towards it leaves the LV without crossing MYO (the valve plane, also
    # where the LA touches the LV only in the middle of the valve or the MYO is open there),
    # kept where connected to the contact. Without an LA: the opening of the MYO.
    touch = np.zeros(len(cyx), bool)
    atrium = []
    found = []
    for label in ((LA, AO) if view == "alax" else (LA,)):
        mask = (crop == label).view(np.uint8)
        other = _largest_contour(mask)
        if other is None:
            continue
        blob = _blob(mask, other)
        hit = cv2.dilate(blob, kernel)[cyx[:, 0], cyx[:, 1]].astype(bool)
        if hit.any():
            touch |= hit
            atrium.append(other)
            found.append("LA" if label == LA else "AO")
    base_from = "+".join(found)
    if touch.any():
        towards = _direction(cxy, atrium)
        first = _first_beyond_lv(crop, lv, cyx, towards, max(1, round(BASE_WALK_256 * max(h, w) / 256)))
        # A wall with MYO alongside that runs towards the LA (within WALL_ALONG_DEG of the walk) is
        # not base, even where the walk leaves the LV through the valve just below.
        k = max(1, round(2 * max(h, w) / 256))
        ring = np.arange(len(cyx))
        tangent = (cyx[(ring + k) % len(cyx)] - cyx[ring - k]).astype(np.float64)
        along = np.abs(tangent @ towards) > np.hypot(tangent[:, 0], tangent[:, 1]) * math.cos(
            math.radians(WALL_ALONG_DEG))
        base = _runs_touching(((first == BASE_SIDE) & ~(along & myo_near)) | (touch & (first != MYO)), touch)
    else:
        base, base_from = ~myo_near, "MYO"
    wall = _longest_false_run(base)
    # A hinge a little short of the MYO (a gap in the mask): move it along the border to the MYO.
    slide = max(1, round(HINGE_SLIDE_MM / math.sqrt(sy * sx)))
    lined = np.flatnonzero(myo_near[wall])
    if lined.size and base_from != "MYO":
        start, stop = lined[0], lined[-1]
        wall = wall[(start if start <= slide else 0):(stop + 1 if wall.size - 1 - stop <= slide else wall.size)]
    if wall.size < MIN_WALL_POINTS or base.all():
        log.debug("no endocardial border found (base from %s)", base_from)
        return empty_regions((h, w))

    # Orientation: walk the border from the image-left annulus over the apex to the right one.
    if cyx[wall[0], 1] > cyx[wall[-1], 1]:
        wall = wall[::-1]
    wall_yx = cyx[wall].astype(np.float64)
    base_mid = (wall_yx[0] + wall_yx[-1]) / 2
    # The furthest point; on a flat or round top, the middle of the stretch of border around it
    # that stays within APEX_TOLERANCE of the furthest distance.
    wy_mm, wx_mm = wall_yx[:, 0] * sy, wall_yx[:, 1] * sx
    reach = np.hypot(wy_mm - base_mid[0] * sy, wx_mm - base_mid[1] * sx)
    top = int(np.argmax(reach))
    below = np.flatnonzero(reach < (1.0 - APEX_TOLERANCE) * reach[top])
    first = below[below < top].max() + 1 if np.any(below < top) else 0
    last = below[below > top].min() - 1 if np.any(below > top) else len(reach) - 1
    apex_i = (first + last) // 2
    annulus_left, annulus_right = tuple(wall_yx[0] + origin), tuple(wall_yx[-1] + origin)
    apex = tuple(wall_yx[apex_i] + origin)

    # Optional temporal smoothing: smoothed points are snapped back onto this border.
    if previous is not None and smoothing > 0:
        annulus_left = _smooth(annulus_left, previous.annulus_left, smoothing)
        annulus_right = _smooth(annulus_right, previous.annulus_right, smoothing)
        apex = _smooth(apex, previous.apex, smoothing)
        i_l, i_r, i_c = (_nearest_index(wall_yx, tuple(np.subtract(p, origin)))
                         for p in (annulus_left, annulus_right, apex))
        if i_l < i_c < i_r and i_r - i_l >= MIN_WALL_POINTS:
            wall, wall_yx, apex_i = wall[i_l:i_r + 1], wall_yx[i_l:i_r + 1], i_c - i_l
    if apex_i < 3 or apex_i > len(wall) - 4:
        log.debug("apex at the end of the endocardial border")
        return empty_regions((h, w))
    annulus_left, annulus_right, apex = (tuple(map(float, p)) for p in (annulus_left, annulus_right, apex))

    # 3./4. Three parts of equal length (mm) on each side; cut points D..G.
    step = np.hypot(np.diff(wall_yx[:, 0]) * sy, np.diff(wall_yx[:, 1]) * sx)
    arc = np.concatenate(([0.0], np.cumsum(step)))
    left_len, right_len = arc[apex_i], arc[-1] - arc[apex_i]
    seed_region = np.empty(len(wall), np.uint8)
    seed_region[:apex_i + 1] = 1 + np.minimum((arc[:apex_i + 1] / max(left_len, 1e-9) * 3).astype(np.int64), 2)
    seed_region[apex_i + 1:] = 4 + np.minimum(
        ((arc[apex_i + 1:] - left_len) / max(right_len, 1e-9) * 3).astype(np.int64), 2)
    cuts = np.minimum(np.searchsorted(arc, [left_len / 3, 2 * left_len / 3, left_len + right_len / 3,
                                            left_len + 2 * right_len / 3]), len(wall) - 1)

    # 5. Voronoi split of the MYO by the nearest part of the endocardial border.
    seeds = np.full(crop.shape, 255, np.uint8)
    wy, wx = cyx[wall, 0], cyx[wall, 1]
    seeds[wy, wx] = 0
    seed_img = np.zeros(crop.shape, np.uint8)
    seed_img[wy, wx] = seed_region
    dist, nearest = cv2.distanceTransformWithLabels(seeds, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    lut = np.concatenate(([0], seed_img.ravel()[np.flatnonzero(seeds.ravel() == 0)])).astype(np.uint8)
    keep = myo.view(bool) & (dist <= MAX_WALL_MM / np.sqrt(sy * sx))
    regions = np.take(lut, nearest) * keep.view(np.uint8)

    # Share of each myocardial region's border with MYO alongside (an open MYO lacks it).
    coverage = np.bincount(seed_region, weights=myo_near[wall], minlength=7)[1:7] / \
        np.maximum(np.bincount(seed_region, minlength=7)[1:7], 1)

    # H..L: outer MYO border points closest to C..G.
    epi = np.full((5, 2), np.nan)
    outer = _largest_contour(myo | lv)
    if outer is not None:
        on_myo = myo[outer[:, 1], outer[:, 0]].view(bool)
        if on_myo.any():
            outer_yx = outer[on_myo][:, ::-1].astype(np.float64)
            endo = wall_yx[np.concatenate(([apex_i], cuts))]
            d2 = ((outer_yx[None, :, 0] - endo[:, 0:1]) * sy) ** 2 + ((outer_yx[None, :, 1] - endo[:, 1:2]) * sx) ** 2
            epi = outer_yx[np.argmin(d2, axis=1)] + origin
    landmarks = Landmarks(annulus_left=annulus_left, annulus_right=annulus_right, apex=apex,
                          endo_cuts=wall_yx[cuts] + origin, epi_points=epi, base_from=base_from)
    if np.all(np.isfinite(epi)):
        at = np.array([cuts[0], cuts[1], apex_i, cuts[2], cuts[3]])
        # Border direction at each cut point, over about 2 mm either side.
        half = max(1, round(2.0 / math.sqrt(sy * sx)))
        tangent = wall_yx[np.minimum(at + half, len(wall) - 1)] - wall_yx[np.maximum(at - half, 0)]
        _cut_straight(regions, wall_yx[at], epi[[1, 2, 0, 3, 4]] - origin, tangent)

    # 6. Annulus discs (2 mm), drawn over the basal regions; may reach beyond the crop.
    region_map = np.zeros((h, w), np.uint8)
    region_map[cy0:cy1, cx0:cx1] = regions
    for region, centre in ((7, annulus_left), (8, annulus_right)) if annulus_radius_mm > 0 else ():
        _draw_disc(region_map, centre, annulus_radius_mm, (sy, sx), region)
    ry, rx = int(np.ceil(annulus_radius_mm / sy)) + 1, int(np.ceil(annulus_radius_mm / sx)) + 1
    by0, by1, bx0, bx1 = max(0, cy0 - ry), min(h, cy1 + ry), max(0, cx0 - rx), min(w, cx1 + rx)
    box = region_map[by0:by1, bx0:bx1]  # holds every region pixel

    # 7. Sector: remove outside parts, count, validate.
    total = _counts(box)
    in_sector = _as_sector(sector, (h, w))
    if in_sector is not None:
        box *= in_sector[by0:by1, bx0:bx1]
        kept = _counts(box)
    else:
        kept = total
    out_of_sector = np.where(total > 0, 1.0 - kept / np.maximum(total, 1), np.nan)
    min_pixels = max(4, round(MIN_REGION_PIXELS_256 * h * w / 65536))
    valid = (kept >= min_pixels) & (out_of_sector <= MAX_OUT_OF_SECTOR)
    valid[:6] &= coverage >= MIN_WALL_COVERAGE

    lumen = lv.view(bool) & (region_map[cy0:cy1, cx0:cx1] == 0)
    if in_sector is not None:
        lumen &= in_sector[cy0:cy1, cx0:cx1].view(bool)
    lv_lumen = np.zeros((h, w), bool)
    lv_lumen[cy0:cy1, cx0:cx1] = lumen
    return Regions(region_map=region_map, valid=valid, pixels=kept.astype(np.int64),
                   out_of_sector=out_of_sector, lv_lumen=lv_lumen, landmarks=landmarks,
                   sector=None if in_sector is None else in_sector.view(bool))


def _as_sector(sector: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """The sector mask as uint8 0/1 at shape (nearest-neighbour resize), or None."""
    if sector is None:
        return None
    s = np.asarray(sector)
    if s.ndim != 2:
        raise ValueError(f"sector mask must be 2-D, got shape {s.shape}")
    s = s.view(np.uint8) if s.dtype == bool else (s > 0).view(np.uint8)
    if s.shape != shape:
        s = cv2.resize(s, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return s
