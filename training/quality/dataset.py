"""Labelled frames for the quality network: CAMUS-style folders (images/ + masks/ + image_quality.csv), each
frame through the app's canonical framing with its regions from the reference mask."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from echoquality.core.framing import network_view
from echoquality.core.vocabulary import default_spacing

from training.common import patient_of

from .degrade import FrameGeometry, prepare_frame
from .labels import read_labels

log = logging.getLogger(__name__)

class DatasetError(Exception):
    """A data folder that cannot be used."""


def load_frames(folder: str | Path, limit: int = 0) -> list[FrameGeometry]:
    """FrameGeometry of every image/mask pair in folder (frames without regions are skipped); the first
    `limit` pairs only when limit > 0."""
    folder = Path(folder)
    images, masks = folder / "images", folder / "masks"
    if not images.is_dir() or not masks.is_dir():
        raise DatasetError(f"{folder}: expected images/ and masks/ subfolders")
    frames = []
    for path in sorted(images.glob("*.png"))[:limit or None]:
        mask_path = masks / path.name
        if not mask_path.is_file():
            log.warning("%s: no mask, skipped", path)
            continue
        image, labels = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if image is None or labels is None:
            raise DatasetError(f"{path}: cannot read image or mask")
        view = "a2c" if "2CH" in path.stem.upper() else "a4c"
        view_image, view_labels, sector, spacing = network_frame(image, labels)
        g = prepare_frame(path.stem, view_image, view_labels, view, sector=sector, spacing=spacing)
        if g is None:
            log.warning("%s: no regions found, skipped", path)
            continue
        frames.append(g)
    if not frames:
        raise DatasetError(f"{folder}: no usable frames")
    return frames


def network_frame(image: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                  tuple[float, float]]:
    """(network image, label map, fan mask, mm per network pixel): a stored frame and its labels through the
    app's canonical framing (`echoquality.core.framing.network_view`; unknown spacing as the app assumes it)."""
    view = network_view(image, default_spacing(image.shape[0]))
    mask = view.framing.to_network(labels, nearest=True) * view.sector
    return view.image, mask.astype(np.uint8), view.sector, view.framing.network_spacing


def load_labelled(folder: str | Path, limit: int = 0) -> tuple[list[FrameGeometry], list[str]]:
    """(frames, expert labels 'Good' | 'Medium' | 'Poor') of the frames listed in folder/image_quality.csv."""
    expert = read_labels(folder)
    frames = [g for g in load_frames(folder, limit) if g.name in expert]
    if not frames:
        raise DatasetError(f"{folder}: no frame has an expert label")
    return frames, [expert[g.name] for g in frames]
