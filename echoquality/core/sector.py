"""The scanned fan (ultrasound sector) of a B-mode frame, as a boolean mask."""
from __future__ import annotations

import cv2
import numpy as np

# The fan is found on a copy whose longer side is at most this many pixels (speed).
WORK_SIZE = 160
# Grey level (0..255, after a light blur) above which a pixel counts as imaged.
THRESHOLD = 6
# Opening diameter in pixels of the shrunk copy: overlays thinner than this (text lines, ECG
# traces, depth marks; about 1/18 of the frame) are cut off the fan. Convex corners lose a sliver
# the hull restores, as the fan is convex.
OPENING = 9
# A fan must cover at least this fraction of the frame; otherwise the mask is empty.
MIN_FAN_FRACTION = 0.02


def _grayscale(image: np.ndarray) -> np.ndarray:
    """The frame as 2-D uint8 grey levels (colour frames are converted)."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if img.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale frame, got shape {img.shape}")
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return img


def sector_mask(image: np.ndarray) -> np.ndarray:
    """Boolean (H, W) mask of the scanned fan.

    The frame is shrunk, median-filtered, thresholded just above black and opened (cuts off
    thin text, calipers and ECG traces touching the fan; the tip is given back afterwards); the
    largest blob's convex hull is the fan, so dark blood pools inside it are covered. An empty
    mask is returned when no blob covers MIN_FAN_FRACTION of the frame (a blank frame).
    """
    gray = _grayscale(image)
    h, w = gray.shape
    mask = np.zeros((h, w), np.uint8)
    if h < 4 or w < 4:
        return mask.astype(bool)
    scale = min(1.0, WORK_SIZE / max(h, w))
    small = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_LINEAR) \
        if scale < 1.0 else gray
    small = cv2.medianBlur(small, 3)  # removes dark speckle without spreading the fan's edge
    imaged = (small > THRESHOLD).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (OPENING, OPENING))
    core = cv2.morphologyEx(imaged, cv2.MORPH_OPEN, kernel)
    # Give back the corners (the fan's tip) the opening took: imaged pixels right next to the core.
    bright = imaged & cv2.dilate(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return mask.astype(bool)
    areas = [cv2.contourArea(c) for c in contours]
    best = contours[int(np.argmax(areas))]
    if max(areas) < MIN_FAN_FRACTION * small.shape[0] * small.shape[1]:
        return mask.astype(bool)
    hull = cv2.convexHull(best)[:, 0, :].astype(np.float64)
    # Pixel centres of the small copy mapped back to the full frame (edge pixels of the small
    # copy are partly outside the fan, so their centres lie close to the true edge).
    fy, fx = h / small.shape[0], w / small.shape[1]
    hull = np.stack([(hull[:, 0] + 0.5) * fx - 0.5, (hull[:, 1] + 0.5) * fy - 0.5], axis=1)
    cv2.fillConvexPoly(mask, np.round(hull).astype(np.int32), 1)
    return mask.astype(bool)
