"""The scanned fan of a B-mode frame: its mask, bounding box and sector geometry.

The fan is the largest imaged blob once thin overlays (text, ECG trace, depth ticks, grey-scale
bar, logos) are opened away, filled to its convex hull (dark blood pools inside it count). Its
geometry is read from the hull's width over depth: a sector widens linearly from its apex (which
may lie above the image when the top is cut), an M-mode or spectral strip does not widen at all.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# The fan is found on a copy whose longer side is at most this many pixels (speed).
WORK_SIZE = 192
# Grey level (0..255, after a light blur) above which a pixel counts as imaged.
THRESHOLD = 6
# Opening diameter as a fraction of the shrunk copy's longer side: overlays thinner than this
# (text lines, ECG traces, depth marks) are cut off the fan.
OPENING_FRACTION = 0.05
# A fan must cover at least this fraction of the frame; otherwise no fan is found.
MIN_FAN_FRACTION = 0.02


@dataclass(frozen=True)
class Fan:
    """The scanned fan of one frame, in frame pixels."""
    frame_shape: tuple[int, int]        # (H, W) of the frame
    hull: np.ndarray                    # (K, 2) float (x, y) corners of the fan's convex outline; empty when not found
    box: tuple[int, int, int, int]      # (y0, x0, y1, x1), end exclusive; (0, 0, 0, 0) when not found
    apex: tuple[float, float] | None    # (y, x) where the fan's edges meet (may lie above the image)
    angle_deg: float                    # opening angle between the two edges (0: parallel edges)
    fill: float                         # fraction of the hull that is imaged (a fan is mostly bright)

    @property
    def found(self) -> bool:
        return self.box[2] > self.box[0] and self.box[3] > self.box[1]

    @property
    def mask(self) -> np.ndarray:
        """bool (H, W) mask of the fan (all False when none was found)."""
        return polygon_mask(self.hull, self.frame_shape)


def polygon_mask(points_xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """bool mask of `shape` inside a convex polygon given as (K, 2) float (x, y) points."""
    mask = np.zeros(shape, np.uint8)
    if len(points_xy):
        cv2.fillConvexPoly(mask, np.round(np.asarray(points_xy) * 16).astype(np.int32), 1, cv2.LINE_8, 4)
    return mask.astype(bool)


def grayscale(image: np.ndarray) -> np.ndarray:
    """The frame as 2-D uint8 grey levels (RGB(A) frames are converted; wider types clipped)."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY if img.shape[2] == 3 else cv2.COLOR_RGBA2GRAY)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale frame, got shape {img.shape}")
    if img.dtype != np.uint8:
        img = np.clip(np.nan_to_num(img.astype(np.float32)), 0, 255).astype(np.uint8)
    return img


def _no_fan(shape: tuple[int, int]) -> Fan:
    return Fan(tuple(shape), np.zeros((0, 2)), (0, 0, 0, 0), None, 0.0, 0.0)


def _edge_lines(hull_mask: np.ndarray) -> tuple[tuple[float, float, float, float], tuple[float, float]] | None:
    """Straight lines x = a + b·y through the left and right edges of the upper fan, and its row span.

    Rows from 10 % to 60 % of the fan's height are used: below, the edges of a sector turn into
    its far arc; above, the apex may be rounded or cut.
    """
    rows = np.flatnonzero(hull_mask.any(axis=1))
    if rows.size < 8:
        return None
    top, bottom = rows[0], rows[-1]
    ys = np.arange(int(top + 0.1 * (bottom - top)), int(top + 0.6 * (bottom - top)) + 1)
    if ys.size < 4:
        return None
    band = hull_mask[ys]
    present = band.any(axis=1)
    ys, band = ys[present], band[present]
    if ys.size < 4:
        return None
    left = band.argmax(axis=1).astype(np.float64)
    right = (band.shape[1] - 1 - band[:, ::-1].argmax(axis=1)).astype(np.float64)
    bl, al = np.polyfit(ys, left, 1)
    br, ar = np.polyfit(ys, right, 1)
    return (al, bl, ar, br), (float(top), float(bottom))


def find_fan(image: np.ndarray) -> Fan:
    """The scanned fan of a frame (see the module docstring); a Fan with `found` False on a blank frame."""
    gray = grayscale(image)
    h, w = gray.shape
    if h < 8 or w < 8:
        return _no_fan((h, w))
    scale = min(1.0, WORK_SIZE / max(h, w))
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_AREA) if scale < 1.0 else gray
    small = cv2.medianBlur(small, 3)
    imaged = (small > THRESHOLD).astype(np.uint8)
    k = max(3, int(round(OPENING_FRACTION * max(sh, sw))) | 1)
    core = cv2.morphologyEx(imaged, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    # Close the dark gaps inside the fan (blood pools reach its edge in some views) before choosing the blob.
    closed = cv2.morphologyEx(core, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    n, comp, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    if n < 2:
        return _no_fan((h, w))
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[best, cv2.CC_STAT_AREA] < MIN_FAN_FRACTION * sh * sw:
        return _no_fan((h, w))
    blob = (comp == best).astype(np.uint8)
    # Give back the fan's tip and edges the opening rounded off: imaged pixels right next to the blob.
    blob = imaged & cv2.dilate(blob, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return _no_fan((h, w))
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    small_hull = np.zeros((sh, sw), np.uint8)
    cv2.fillConvexPoly(small_hull, hull, 1)
    fill = float((imaged & small_hull).sum() / max(1, small_hull.sum()))
    # The hull in frame pixels (small pixel centres mapped back).
    fy, fx = h / sh, w / sw
    pts = hull[:, 0, :].astype(np.float64)
    pts = np.stack([(pts[:, 0] + 0.5) * fx - 0.5, (pts[:, 1] + 0.5) * fy - 0.5], axis=1)
    pts[:, 0] = np.clip(pts[:, 0], 0, w - 1)
    pts[:, 1] = np.clip(pts[:, 1], 0, h - 1)
    box = (int(np.floor(pts[:, 1].min())), int(np.floor(pts[:, 0].min())),
           int(np.ceil(pts[:, 1].max())) + 1, int(np.ceil(pts[:, 0].max())) + 1)
    apex, angle = None, 0.0
    lines = _edge_lines(small_hull.astype(bool))
    if lines is not None:
        (al, bl, ar, br), _ = lines
        # Left edge slopes outwards (bl < 0), right edge too (br > 0); angle between the two lines.
        angle = math.degrees(math.atan(max(0.0, -bl) * fx / fy) + math.atan(max(0.0, br) * fx / fy))
        if br - bl > 1e-3:
            y_apex = (al - ar) / (br - bl)
            x_apex = al + bl * y_apex
            apex = ((y_apex + 0.5) * fy - 0.5, (x_apex + 0.5) * fx - 0.5)
    return Fan((h, w), pts, box, apex, angle, fill)


# The quick check that a fan still frames a new frame (`fan_still_fits`): samples this far inside and
# outside the fan's outline (fraction of the distance to its centre, at least 2 px), and the shares that must
# be imaged inside and dark outside.
# Measured: a loop's own fans give at least 0.84 imaged inside and 0.95 dark outside (E95, echotk, CAMUS);
# a sector 1/8 narrower 0.63-0.77 inside, 5 % less deep 0.52-0.62 inside, 5 % wider 0.83-0.87 outside.
FIT_OFFSET = 0.04
FIT_INSIDE_IMAGED = 0.8
FIT_OUTSIDE_DARK = 0.92


def fan_still_fits(fan: Fan, image: np.ndarray, samples: int = 128) -> bool:
    """Whether the previous frame's fan still frames this frame: just inside its outline the frame is
    imaged and just outside it is black. About 0.1 ms instead of a search: a live stream keeps its fan
    until the operator changes depth, width or zoom, which this notices (the outline then no longer fits)."""
    gray = grayscale(image)
    if not fan.found or gray.shape != tuple(fan.frame_shape) or len(fan.hull) < 3:
        return False
    h, w = gray.shape
    hull = np.asarray(fan.hull, np.float64)
    closed = np.vstack([hull, hull[:1]])
    steps = np.hypot(*np.diff(closed, axis=0).T)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    if along[-1] <= 0:
        return False
    at = np.linspace(0.0, along[-1], samples, endpoint=False)
    points = np.stack([np.interp(at, along, closed[:, 0]), np.interp(at, along, closed[:, 1])], axis=1)
    centre = hull.mean(axis=0)
    radial = points - centre
    length = np.maximum(np.hypot(radial[:, 0], radial[:, 1]), 1e-6)[:, None]
    offset = np.maximum(FIT_OFFSET * length, 2.0) / length * radial

    def grey_at(p: np.ndarray) -> np.ndarray:
        x, y = np.round(p[:, 0]).astype(int), np.round(p[:, 1]).astype(int)
        keep = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        return gray[y[keep], x[keep]]

    inside, outside = grey_at(points - offset), grey_at(points + offset)
    if inside.size < samples // 2:
        return False
    imaged_inside = float(np.mean(inside > THRESHOLD))
    dark_outside = float(np.mean(outside <= THRESHOLD)) if outside.size else 1.0
    return imaged_inside >= FIT_INSIDE_IMAGED and dark_outside >= FIT_OUTSIDE_DARK
