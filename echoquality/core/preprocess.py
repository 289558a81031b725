"""Preprocess: the whole frame resized to the network input, and the scanned sector at that size.

The network sees the complete frame (no crop), so results map back to the frame by resizing
with nearest neighbour (`to_frame_size`); the pixel spacing at network size follows from the
frame's (`network_spacing`).
"""
from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

NETWORK_SIZE = 256


def network_input(image: np.ndarray, size: int = NETWORK_SIZE) -> np.ndarray:
    """(size, size) uint8 grayscale network input from an (H, W) frame (raw 0–255 values)."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def network_batch(images: Iterable[np.ndarray], size: int = NETWORK_SIZE) -> np.ndarray:
    """(N, 1, size, size) float32 network inputs of (H, W) frames (for batch work: benchmarks, training)."""
    return np.stack([network_input(image, size) for image in images])[:, None].astype(np.float32)


def network_spacing(frame_shape: tuple[int, int], spacing: tuple[float, float],
                    size: int = NETWORK_SIZE) -> tuple[float, float]:
    """(sy, sx) mm per pixel of a frame of `frame_shape` resized to size×size."""
    return (spacing[0] * frame_shape[0] / size, spacing[1] * frame_shape[1] / size)


def to_frame_size(label_map: np.ndarray, frame_shape: tuple[int, int]) -> np.ndarray:
    """A network-size label or region map resized back to the frame (nearest neighbour)."""
    return cv2.resize(label_map, (frame_shape[1], frame_shape[0]), interpolation=cv2.INTER_NEAREST)


def sector_at_network_size(image256: np.ndarray) -> np.ndarray:
    """The scanned sector of a network-size image (bool)."""
    from echoquality.core.sector import sector_mask
    return sector_mask(image256)
