"""Rendering: regions coloured by quality, and the split screen (B-mode left, the coloured regions right)."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from echoquality.core.framing import Framing
from echoquality.core.vocabulary import N_REGIONS, QUALITY_CATEGORIES, quality_category

# RGB colours of categories 1..5 (the paper's scale: red, orange, yellow, light green, dark green).
CATEGORY_COLOURS = np.array([
    (220, 40, 40), (245, 140, 30), (240, 220, 40), (140, 210, 90), (30, 140, 60)], np.uint8)
INVALID_COLOUR = np.array((128, 128, 128), np.uint8)
FILL_ALPHA = 0.55


def region_colours(scores: np.ndarray) -> np.ndarray:
    """(8, 3) RGB colour per region: its category's colour, grey when invalid (NaN)."""
    categories = quality_category(scores)
    colours = np.tile(INVALID_COLOUR, (N_REGIONS, 1))
    valid = categories > 0
    colours[valid] = CATEGORY_COLOURS[categories[valid] - 1]
    return colours


@lru_cache(maxsize=8)
def _hatch(shape: tuple[int, int]) -> np.ndarray:
    """Diagonal stripes (uint8 0/1, flattened) used to mark invalid regions."""
    return (((np.arange(shape[0])[:, None] + np.arange(shape[1])[None, :]) // 4) % 2).astype(np.uint8).ravel()


def colour_regions(image: np.ndarray, region_map: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB: the grayscale frame with each region filled in its quality colour.

    Invalid regions are hatched grey so that they are seen as invalid, not hidden. Only the box around
    the regions is worked on (a live display colours every frame).
    """
    if region_map.shape != image.shape:
        raise ValueError(f"region map {region_map.shape} must be at the frame's size {image.shape}")
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.dtype == np.uint8 else np.repeat(image[..., None], 3, axis=2)
    inside = ((region_map >= 1) & (region_map <= N_REGIONS)).view(np.uint8)
    x, y, w, h = cv2.boundingRect(inside)
    if w == 0 or h == 0:
        return rgb
    y0, x0 = max(0, y - 1), max(0, x - 1)
    y1, x1 = min(image.shape[0], y + h + 1), min(image.shape[1], x + w + 1)
    crop_map = np.ascontiguousarray(region_map[y0:y1, x0:x1])
    if crop_map.dtype != np.uint8:   # other codes only matter as "not a region" (and for the edges)
        crop_map = np.where(inside[y0:y1, x0:x1] > 0, crop_map, np.where(crop_map == 0, 0, 255)).astype(np.uint8)
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    palette = np.zeros((256, 3), np.uint8)                             # region code -> its colour (others 0)
    palette[1:N_REGIONS + 1] = region_colours(scores)
    colour = cv2.LUT(cv2.merge([crop_map] * 3), palette.reshape(1, 256, 3))
    invalid = np.zeros(256, np.uint8)
    invalid[1:N_REGIONS + 1] = np.isnan(scores)
    hatched = cv2.LUT(crop_map, invalid) & _hatch(image.shape).reshape(image.shape)[y0:y1, x0:x1]
    region = inside[y0:y1, x0:x1]
    fill = region & (hatched ^ 1)
    alpha = int(FILL_ALPHA * 256)
    blended = ((crop.astype(np.uint16) * (256 - alpha) + colour.astype(np.uint16) * alpha) >> 8).astype(np.uint8)
    cv2.copyTo(blended, fill, crop)
    edges = region & (cv2.morphologyEx(crop_map, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0).view(np.uint8)
    cv2.copyTo(colour, edges, crop)
    rgb[y0:y1, x0:x1] = crop
    return rgb


def _caption(panel: np.ndarray, text: str, y: int) -> None:
    scale = max(0.4, panel.shape[0] / 900)
    cv2.putText(panel, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def draw_legend(panel: np.ndarray) -> None:
    """The five-colour scale as a column in the top-right corner of a panel, in place."""
    h, w = panel.shape[:2]
    box = max(8, h // 50)
    scale = max(0.35, h / 1500)
    names = QUALITY_CATEGORIES + ("invalid",)
    width = box + 6 + max(cv2.getTextSize(n, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for n in names)
    x, y = w - width - 8, 8
    for colour, name in zip(CATEGORY_COLOURS.tolist() + [INVALID_COLOUR.tolist()], names):
        cv2.rectangle(panel, (x, y), (x + box, y + box), colour, -1)
        cv2.putText(panel, name, (x + box + 6, y + box - 1), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (230, 230, 230), 1, cv2.LINE_AA)
        y += box + 5


def draw_message(panel: np.ndarray, message: str) -> None:
    """A short message centred on a panel (dimmed behind it), in place: why a frame has no scores."""
    h, w = panel.shape[:2]
    panel[...] = (panel.astype(np.uint16) * 2 // 5).astype(np.uint8)
    scale = max(0.5, min(1.4, w / 700))
    thickness = max(1, int(round(scale * 1.6)))
    (tw, th), _ = cv2.getTextSize(message, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    if tw > 0.94 * w:
        scale *= 0.94 * w / tw
        (tw, th), _ = cv2.getTextSize(message, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    cv2.putText(panel, message, ((w - tw) // 2, (h + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 210, 80),
                thickness, cv2.LINE_AA)


def compose_split_screen(image: np.ndarray, region_map: np.ndarray, scores: np.ndarray,
                         title: str = "", message: str = "") -> np.ndarray:
    """(H, 2W, 3) RGB: B-mode left, quality-coloured regions right, legend and global score.

    With a `message` (why the frame gets no scores, e.g. "No apical view: colour Doppler") the
    right panel shows it instead of coloured regions.
    """
    left = np.repeat(image[..., None], 3, axis=2)
    if message:
        right = left.copy()
        draw_message(right, message)
        _caption(left, title, max(16, image.shape[0] // 30))
        return np.concatenate([left, right], axis=1)
    right = colour_regions(image, region_map, scores)
    valid = scores[~np.isnan(scores)]
    if valid.size:
        g = float(valid.mean())
        summary = f"global {g:.1f} ({QUALITY_CATEGORIES[int(quality_category(g)) - 1]})"
    else:
        summary = "global: no valid region"
    _caption(left, title, max(16, image.shape[0] // 30))
    _caption(right, summary, max(16, image.shape[0] // 30))
    draw_legend(right)
    return np.concatenate([left, right], axis=1)


@lru_cache(maxsize=4)
def _pixel_centres(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """x + 0.5 and y + 0.5 of every pixel of an (h, w) map, flattened (kept: the live window asks every frame)."""
    ys, xs = np.divmod(np.arange(h * w), w)
    return xs + 0.5, ys + 0.5


def region_centres(region_map: np.ndarray, framing: Framing | None = None) -> np.ndarray:
    """(8, 2) centre (x, y) of each region 1..8 as fractions of the frame's width/height; NaN where absent.

    `framing`: where the (network-size) map sits in the frame; None: the map covers the whole frame.
    """
    h, w = region_map.shape
    flat = region_map.ravel()
    where = np.flatnonzero(flat)          # the regions cover a small part of the map: sum over their pixels only
    codes = flat[where]
    if codes.max(initial=0) > N_REGIONS:
        codes = np.where(codes <= N_REGIONS, codes, 0)
    xs, ys = _pixel_centres(h, w)
    counts = np.bincount(codes, minlength=N_REGIONS + 1)[1:N_REGIONS + 1].astype(np.float64)
    sx = np.bincount(codes, weights=xs[where], minlength=N_REGIONS + 1)[1:N_REGIONS + 1]
    sy = np.bincount(codes, weights=ys[where], minlength=N_REGIONS + 1)[1:N_REGIONS + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        centres = np.stack([sx / counts / w, sy / counts / h], axis=1)
    centres[counts == 0] = np.nan
    if framing is None:
        return centres
    fh, fw = framing.frame_shape
    yx = np.array([framing.point_to_frame((y * h - 0.5, x * w - 0.5)) for x, y in centres])
    return np.stack([(yx[:, 1] + 0.5) / fw, (yx[:, 0] + 0.5) / fh], axis=1)
