"""The gate before any score: is this frame a grey-scale apical B-mode view with an LV and its wall?

A frame that fails gets no scores and one status from `STATUSES` (written to results.csv) with a
short reason for the screen (`REASONS`). The checks, in the order they are made:

1. What the file declares (DICOM ultrasound regions): an M-mode, spectral-Doppler or colour-flow
   region means the frame is not a B-mode view (`declared_mode`); a colour-flow velocity scale on
   the screen declares colour Doppler too, flow or not (`colour_evidence`).
2. Content, from the frame's pixels (`content_verdict`): blank; no fan; a strip with parallel
   edges (M-mode or spectral display, told apart by texture); a sparse hull (a spectral screen);
   colour-coded pixels inside the fan (colour Doppler, judged on the frame before grey
   conversion, `colour_map`).
3. The view (`view_verdict`): the view classifier says "other" (see `echoquality.core.view`).
4. After segmentation (`anatomy_verdict`): no LV, or too few myocardial regions found; a frame the
   segmentation model was unsure of (`echoquality.core.segmentation.uncertain_share` above the limit
   calibrated for the model) has no labels, so it ends here as `no_lv` too.

(`error` marks a frame whose analysis failed.)
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .fan import Fan
from .view import ViewEstimate, choose_view, view_confidence

OK, ERROR = "ok", "error"
STATUSES = ("ok", "blank", "no_fan", "colour_doppler", "m_mode", "spectral_doppler", "not_apical", "no_lv", "error")
REASONS = {
    "ok": "",
    "blank": "No image: blank frame",
    "no_fan": "No apical view: no B-mode fan",
    "colour_doppler": "No apical view: colour Doppler",
    "m_mode": "No apical view: M-mode",
    "spectral_doppler": "No apical view: spectral Doppler",
    "not_apical": "No apical view",
    "no_lv": "No LV wall found",
    "error": "Analysis failed on this frame",
}

# A frame with fewer than 1 % of its pixels at this grey level or above is blank.
BLANK_LEVEL = 12
# Colour: a pixel is colour-coded when max-min of its RGB values is at least CHROMA and at least
# SATURATION of its brightest channel (tinted grey maps stay below); the map is shrunk to
# COLOUR_SIZE pixels on its longer side, opened, and line-like parts are dropped so that coloured
# overlays (ECG trace, calipers, markers) do not count.
CHROMA = 50
SATURATION = 0.45
COLOUR_SIZE = 320
COLOUR_CELLS = 80
# Coloured parts thinner than this on average (pixels at COLOUR_SIZE) are overlay lines, not flow.
MIN_COLOUR_THICKNESS = 4.0
# Colour Doppler when at least this fraction of the fan is colour-coded.
COLOUR_FRACTION = 0.004
# A colour-flow velocity scale: coloured bars at least this share of the screen's height (at COLOUR_SIZE) and
# SCALE_ASPECT times taller than wide; warm hues up to WARM_HUE from red (OpenCV hue 0-180), cool within COOL_HUES.
SCALE_MIN_HEIGHT = 0.05
SCALE_ASPECT = 2.0
WARM_HUE = 35
COOL_HUES = (85, 130)
# A fan whose edges open by less than this is a strip (M-mode or spectral display), not a sector.
MIN_SECTOR_ANGLE_DEG = 25.0
# A B-mode fan is mostly imaged (apical frames: 0.95-0.99); spectral screens fill half their hull.
MIN_FILL = 0.8
# In a strip, grey levels change along x less than along y for M-mode (horizontal bands:
# ratio 0.4-0.5 on the iE33 screens) and about as much for spectral Doppler (vertical streaks: 0.9-1.4).
SPECTRAL_TEXTURE_RATIO = 0.7
# "An LV with its wall": at least this many of the six myocardial regions valid.
MIN_WALL_REGIONS = 4

# DICOM ultrasound region codes (PS3.3 C.8.5.5.1.1-2).
_SPATIAL_M_MODE, _SPATIAL_SPECTRAL = 2, 3
_DATA_COLOUR_FLOW, _DATA_COLOUR_M_MODE = 2, 8


@dataclass(frozen=True)
class Verdict:
    """The gate's answer for one frame: a status from STATUSES and the reason to show on screen."""
    status: str = OK
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK


def verdict(status: str) -> Verdict:
    """The Verdict of a status (ValueError for a status outside the vocabulary)."""
    if status not in STATUSES:
        raise ValueError(f"unknown gate status {status!r} (known: {', '.join(STATUSES)})")
    return Verdict(status, REASONS[status])


PASS = Verdict()


@dataclass(frozen=True)
class ColourEvidence:
    """What a colour frame shows of colour Doppler, judged before grey conversion (`colour_evidence`)."""
    map: np.ndarray | None = None      # colour-coded fraction per cell (`colour_map`); None for a grey frame
    mode: str | None = None            # "colour_doppler" when the screen draws a colour-flow velocity scale


def colour_map(image: np.ndarray) -> np.ndarray | None:
    """Colour-coded fraction (0-255) per cell of an RGB(A) frame, COLOUR_CELLS cells on its longer side; None for grey.

    Pixels are judged on a copy shrunk to COLOUR_SIZE (nearest), opened to drop thin coloured
    overlays, then averaged into cells: small enough to travel with the frame through the chain.
    """
    return colour_evidence(image).map


def _hue_kind(hues: np.ndarray) -> str | None:
    """'warm' (red to yellow), 'cool' (cyan to blue), 'both' (a bar through both) or None, of a part's hues."""
    warm = float(np.mean((hues <= WARM_HUE) | (hues >= 180 - WARM_HUE)))
    cool = float(np.mean((hues >= COOL_HUES[0]) & (hues <= COOL_HUES[1])))
    if warm >= 0.8:
        return "warm"
    if cool >= 0.8:
        return "cool"
    return "both" if warm >= 0.25 and cool >= 0.25 else None


def colour_scale_shown(labels: np.ndarray, stats: np.ndarray, hue: np.ndarray) -> bool:
    """Whether coloured parts (their `cv2.connectedComponentsWithStats` labels and stats; OpenCV hues 0-180 of the
    same pixels) draw a colour-flow velocity scale.

    The scale is a narrow upright bar, warm (towards the probe) and cool (away) stacked in one column,
    usually split by a grey zero line; it is on screen whenever colour Doppler is on, flow or not.
    Tinted grey maps (one hue, unsaturated), ECG traces and text do not make one.
    """
    bars: list[tuple[str, int, int, int, int]] = []
    for i in range(1, len(stats)):
        x, y, w, h, area = (int(v) for v in stats[i])
        if h < SCALE_MIN_HEIGHT * labels.shape[0] or h < SCALE_ASPECT * w or area < 0.6 * w * h:
            continue
        kind = _hue_kind(hue[y:y + h, x:x + w][labels[y:y + h, x:x + w] == i])
        if kind == "both":
            return True
        if kind is not None:
            bars.append((kind, x, y, w, h))
    for kind, x, y, w, h in bars:
        for other, x2, y2, w2, h2 in bars:
            if kind == "warm" and other == "cool":
                overlap = min(x + w, x2 + w2) - max(x, x2)
                gap = max(y2 - (y + h), y - (y2 + h2))
                if overlap >= 0.5 * min(w, w2) and gap <= max(h, h2):
                    return True
    return False


def colour_evidence(image: np.ndarray) -> ColourEvidence:
    """The colour map of an RGB(A) frame and whether its screen is in colour-flow mode (`ColourEvidence`).

    A colour-flow scale on screen marks colour Doppler even in frames whose colour box holds no flow
    (diastole, a box over still tissue): the mode is on and the B-mode under it is not scored.
    """
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] < 3:
        return ColourEvidence()
    a = a[:, :, :3]
    if a.dtype != np.uint8:
        a = np.clip(np.nan_to_num(a.astype(np.float32)), 0, 255).astype(np.uint8)
    h, w = a.shape[:2]
    scale = min(1.0, COLOUR_SIZE / max(h, w))
    small = cv2.resize(np.ascontiguousarray(a), (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_NEAREST) if scale < 1 else np.ascontiguousarray(a)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)      # S = 255·(max-min)/max, V = max
    saturation, value = hsv[:, :, 1], hsv[:, :, 2]
    coloured = ((saturation >= round(255 * SATURATION))
                & (saturation.astype(np.uint16) * value >= 255 * CHROMA)).astype(np.uint8) * 255
    scale = False
    if coloured.any():
        coloured = cv2.morphologyEx(coloured, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(coloured, connectivity=8)
        scale = colour_scale_shown(labels, stats, hsv[:, :, 0])
        if n > 1:   # drop line-like parts (an ECG trace, calipers): mean thickness = area / longer side
            long_side = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
            keep = np.concatenate([[False], stats[1:, cv2.CC_STAT_AREA] >= MIN_COLOUR_THICKNESS * long_side])
            coloured = np.where(keep[labels], coloured, 0).astype(np.uint8)
    cell = min(1.0, COLOUR_CELLS / max(coloured.shape))
    size = (max(1, round(coloured.shape[1] * cell)), max(1, round(coloured.shape[0] * cell)))
    cells = cv2.resize(coloured, size, interpolation=cv2.INTER_AREA) if cell < 1 else coloured
    return ColourEvidence(cells, "colour_doppler" if scale else None)


def declared_mode(regions: list[tuple[int, int]]) -> str | None:
    """The display mode a DICOM declares from its regions' (spatial format, data type) codes.

    'm_mode', 'spectral_doppler' or 'colour_doppler'; None when it declares only 2-D tissue (or nothing).
    """
    formats = {int(f) for f, _ in regions}
    types = {int(t) for _, t in regions}
    if _SPATIAL_SPECTRAL in formats:
        return "spectral_doppler"
    if _SPATIAL_M_MODE in formats:
        return "m_mode"
    if types & {_DATA_COLOUR_FLOW, _DATA_COLOUR_M_MODE}:
        return "colour_doppler"
    return None


def colour_fraction(colour: np.ndarray | None, fan: Fan) -> float:
    """Fraction of the fan's hull that is colour-coded (`colour` from `colour_map` of the same frame)."""
    if not fan.found or colour is None or not colour.any():
        return 0.0
    h, w = fan.frame_shape
    step_y, step_x = h / colour.shape[0], w / colour.shape[1]
    hull = (np.asarray(fan.hull, np.float64) + 0.5) / [step_x, step_y] - 0.5
    mask = np.zeros(colour.shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(hull * 16).astype(np.int32), 1, cv2.LINE_8, 4)
    inside = mask.astype(bool)
    return float(colour[inside].astype(np.float64).sum() / (255.0 * max(1, inside.sum())))


def texture_ratio(gray: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Mean |grey step| along x over that along y inside `box`, every k-th pixel (≤ 128 per side)."""
    y0, x0, y1, x1 = box
    step = max(1, int(np.ceil(max(y1 - y0, x1 - x0) / 128)))
    small = gray[y0:y1:step, x0:x1:step].astype(np.float32)
    if small.shape[0] < 4 or small.shape[1] < 4:
        return 1.0
    dx = float(np.abs(np.diff(small, axis=1)).mean())
    dy = float(np.abs(np.diff(small, axis=0)).mean())
    return dx / max(dy, 1e-6)


def content_verdict(gray: np.ndarray, fan: Fan, colour: np.ndarray | None = None,
                    declared: str | None = None) -> Verdict:
    """Checks 1-2 of the module docstring on one frame.

    `gray` (H, W) uint8 the frame, `fan` its `find_fan`, `colour` its `colour_map` (None: a grey
    source), `declared` its `declared_mode` or the mode its screen shows (`colour_evidence`; None:
    nothing declared). A declared M-mode or spectral display decides first; declared colour Doppler
    after the strip checks (a spectral screen with a small colour sector is a spectral display).
    """
    if declared in ("m_mode", "spectral_doppler"):
        return verdict(declared)
    sample = gray[::4, ::4]
    if sample.size == 0 or np.count_nonzero(sample >= BLANK_LEVEL) < 0.01 * sample.size:
        return verdict("blank")
    if not fan.found:
        return verdict("no_fan")
    strip = fan.angle_deg < MIN_SECTOR_ANGLE_DEG
    if strip or fan.fill < MIN_FILL:
        spectral = texture_ratio(gray, fan.box) >= SPECTRAL_TEXTURE_RATIO
        if strip:
            return verdict("spectral_doppler" if spectral else "m_mode")
        return verdict("spectral_doppler" if spectral else "no_fan")
    if declared == "colour_doppler" or (colour is not None and colour_fraction(colour, fan) >= COLOUR_FRACTION):
        return verdict("colour_doppler")
    return PASS


def view_verdict(view: str) -> Verdict:
    """not_apical unless the recognised view is an apical one (a4c, a2c, alax); given the classifier's view
    even when the user named the view (see `echoquality.core.view.checks_view`)."""
    return PASS if view in ("a4c", "a2c", "alax") else verdict("not_apical")


def judge_view(requested: str, recognised: ViewEstimate) -> tuple[str, float, Verdict]:
    """(view the walls are named after, its confidence, the verdict) of a frame whose view was recognised:
    the requested view names the walls (`choose_view`), the classifier's own view decides the verdict."""
    return (choose_view(requested, recognised), view_confidence(requested, recognised),
            view_verdict(recognised.view))


def anatomy_verdict(labels: np.ndarray | None, valid_regions: np.ndarray | None,
                    min_wall_regions: int = MIN_WALL_REGIONS) -> Verdict:
    """no_lv unless the label map holds an LV and at least `min_wall_regions` of the six wall regions are valid.

    `labels` the cleaned label map (1 = LV), `valid_regions` (8,) bool in the canonical region order
    (the first six are the myocardial segments).
    """
    if labels is None or not np.any(np.asarray(labels) == 1):
        return verdict("no_lv")
    if valid_regions is not None and int(np.count_nonzero(np.asarray(valid_regions)[:6])) < min_wall_regions:
        return verdict("no_lv")
    return PASS
