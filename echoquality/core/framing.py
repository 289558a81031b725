"""Canonical framing: what the networks see of a frame, and how their results map back.

The fan's bounding box (plus a small margin) is resized to fit a size×size square keeping the
physical aspect ratio from the pixel spacing, placed at the top (apex up) and centred left-right;
everything outside the fan is black. So a frame from any scanner, with any overlays, depth or fan
angle, reaches the networks framed alike, and label maps come back to the frame through the same
box (`Framing.to_frame`). Training uses the same functions, so the two cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .fan import Fan, find_fan, grayscale, polygon_mask

NETWORK_SIZE = 256
# Margin around the fan's box, as a fraction of its longer side.
MARGIN = 0.02
# A new fan box replaces the previous one only when a side moves by more than this fraction of
# the box's longer side (steady framing over a loop despite dark far-field frames).
BOX_TOLERANCE = 0.04


@dataclass(frozen=True)
class Framing:
    """Where a frame's box lands in the network image."""
    frame_shape: tuple[int, int]             # (H, W) of the frame
    box: tuple[int, int, int, int]           # (y0, x0, y1, x1) frame region shown to the network
    placed: tuple[int, int, int, int]        # (v0, u0, v1, u1) where it lands in the network image
    size: int                                # the network image is size×size
    network_spacing: tuple[float, float]     # (sy, sx) mm per network pixel

    def to_network(self, array: np.ndarray, nearest: bool = False, fill: int | float = 0) -> np.ndarray:
        """A frame-size array (image, labels or mask) in the network framing."""
        y0, x0, y1, x1 = self.box
        v0, u0, v1, u1 = self.placed
        crop = np.ascontiguousarray(array[y0:y1, x0:x1])
        dtype = crop.dtype
        if crop.dtype == bool:
            crop = crop.astype(np.uint8)
        shrinking = (v1 - v0) < (y1 - y0)
        method = cv2.INTER_NEAREST if nearest else (cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        resized = cv2.resize(crop, (u1 - u0, v1 - v0), interpolation=method)
        out = np.full((self.size, self.size) + crop.shape[2:], fill, crop.dtype)
        out[v0:v1, u0:u1] = resized
        return out.astype(dtype) if dtype == bool else out

    def to_frame(self, label_map: np.ndarray) -> np.ndarray:
        """A network-size label or region map back at the frame's size (nearest neighbour; 0 outside the box)."""
        y0, x0, y1, x1 = self.box
        v0, u0, v1, u1 = self.placed
        out = np.zeros(self.frame_shape + label_map.shape[2:], label_map.dtype)
        part = np.ascontiguousarray(label_map[v0:v1, u0:u1])
        out[y0:y1, x0:x1] = cv2.resize(part, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
        return out

    def points_to_network(self, points_xy: np.ndarray) -> np.ndarray:
        """(K, 2) (x, y) frame points → network pixels (pixel centres map to pixel centres)."""
        y0, x0, y1, x1 = self.box
        v0, u0, v1, u1 = self.placed
        p = np.asarray(points_xy, np.float64)
        return np.stack([u0 + (p[:, 0] - x0 + 0.5) * (u1 - u0) / (x1 - x0) - 0.5,
                         v0 + (p[:, 1] - y0 + 0.5) * (v1 - v0) / (y1 - y0) - 0.5], axis=1)

    def point_to_frame(self, yx: tuple[float, float]) -> tuple[float, float]:
        """A (y, x) point in network pixels → frame pixels."""
        y0, x0, y1, x1 = self.box
        v0, u0, v1, u1 = self.placed
        return (y0 + (yx[0] - v0 + 0.5) * (y1 - y0) / (v1 - v0) - 0.5,
                x0 + (yx[1] - u0 + 0.5) * (x1 - x0) / (u1 - u0) - 0.5)


@dataclass(frozen=True)
class NetworkView:
    """One frame as the networks see it."""
    image: np.ndarray        # (size, size) uint8, black outside the fan
    sector: np.ndarray       # (size, size) bool, the fan
    framing: Framing
    fan: Fan


def box_with_margin(box: tuple[int, int, int, int], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box grown by MARGIN of its longer side on every side, clipped to the frame."""
    y0, x0, y1, x1 = box
    m = int(round(MARGIN * max(y1 - y0, x1 - x0)))
    return max(0, y0 - m), max(0, x0 - m), min(shape[0], y1 + m), min(shape[1], x1 + m)


def steady_box(previous: tuple[int, int, int, int] | None, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """`previous` while `box` differs from it by at most BOX_TOLERANCE on every side, else `box`."""
    if previous is None:
        return box
    limit = BOX_TOLERANCE * max(previous[2] - previous[0], previous[3] - previous[1])
    return previous if max(abs(a - b) for a, b in zip(previous, box)) <= limit else box


def framing_for(box: tuple[int, int, int, int], frame_shape: tuple[int, int], spacing: tuple[float, float],
                size: int = NETWORK_SIZE) -> Framing:
    """The framing of `box` in a size×size image, physical aspect kept, top-aligned and centred."""
    y0, x0, y1, x1 = box
    sy, sx = float(spacing[0]), float(spacing[1])
    height_mm, width_mm = (y1 - y0) * sy, (x1 - x0) * sx
    scale = size / max(height_mm, width_mm)           # network pixels per mm
    ph = int(min(size, max(1, round(height_mm * scale))))
    pw = int(min(size, max(1, round(width_mm * scale))))
    u0 = (size - pw) // 2
    placed = (0, u0, ph, u0 + pw)
    return Framing(tuple(frame_shape), box, placed, size, (height_mm / ph, width_mm / pw))


def network_batch(images, spacing: tuple[float, float] | None = None, framing: str = "fan",
                  size: int = NETWORK_SIZE) -> np.ndarray:
    """(N, 1, size, size) float32 network inputs of frames (batch work: benchmarks, tests, training)."""
    return np.stack([network_view(image, spacing, size, framing=framing).image for image in images])[:, None] \
        .astype(np.float32)


def whole_frame_framing(frame_shape: tuple[int, int], spacing: tuple[float, float], size: int = NETWORK_SIZE
                        ) -> Framing:
    """The whole frame stretched to size×size (aspect not kept): the paper's published models' contract."""
    h, w = frame_shape
    return Framing(tuple(frame_shape), (0, 0, h, w), (0, 0, size, size), size,
                   (h * float(spacing[0]) / size, w * float(spacing[1]) / size))


# How a model wants its frames: "fan" (canonical framing, this project's models) or "frame" (whole frame).
FRAMINGS = ("fan", "frame")


def network_view(image: np.ndarray, spacing: tuple[float, float] | None = None, size: int = NETWORK_SIZE,
                 previous_box: tuple[int, int, int, int] | None = None, framing: str = "fan",
                 fan: Fan | None = None) -> NetworkView:
    """The network view of a frame (see the module docstring).

    `spacing` (sy, sx) in mm per frame pixel; None means square pixels. Without a fan (a blank
    frame) the whole frame is framed. `previous_box` (the last frame's `framing.box`) keeps the
    framing steady over a loop. `framing="frame"` gives the whole frame stretched to the square
    with nothing blanked (for models trained that way, such as the paper's published ones).
    `fan`: the frame's fan when already known (e.g. the previous frame's, checked with `fan_still_fits`).
    """
    gray = grayscale(image)
    fan = find_fan(gray) if fan is None else fan
    shape = gray.shape
    spacing = spacing if spacing is not None else (1.0, 1.0)
    if framing == "frame":
        whole = whole_frame_framing(shape, spacing, size)
        sector = polygon_mask(whole.points_to_network(fan.hull), (size, size)) if fan.found \
            else np.zeros((size, size), bool)
        return NetworkView(whole.to_network(gray), sector, whole, fan)
    box = box_with_margin(fan.box, shape) if fan.found else (0, 0, shape[0], shape[1])
    box = steady_box(previous_box, box)
    framing = framing_for(box, shape, spacing, size)
    sector = polygon_mask(framing.points_to_network(fan.hull), (size, size)) if fan.found \
        else np.zeros((size, size), bool)
    net = framing.to_network(gray)
    net[~sector] = 0
    return NetworkView(net, sector, framing, fan)
