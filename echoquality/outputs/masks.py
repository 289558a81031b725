"""Label maps and region maps as PNGs at the input frame's size: DIR/<kind>/<stem>_<frame:04d>.png."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from echoquality.core.preprocess import to_frame_size


class MapWriter:
    """Writes one kind of map ("masks" or "regions") into its own folder under `out_dir`."""

    def __init__(self, out_dir: Path, kind: str):
        self.folder = Path(out_dir) / kind
        self.folder.mkdir(exist_ok=True)

    def write(self, stem: str, index: int, label_map: np.ndarray, frame_shape: tuple[int, int]) -> Path:
        path = self.folder / f"{stem}_{index:04d}.png"
        cv2.imwrite(str(path), to_frame_size(label_map, frame_shape))
        return path
