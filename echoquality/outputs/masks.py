"""Label maps and region maps as PNGs at the input frame's size: DIR/<kind>/<stem>_<frame:04d>.png."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np



class MapWriter:
    """Writes one kind of map ("masks" or "regions") into its own folder under `out_dir`."""

    def __init__(self, out_dir: Path, kind: str):
        self.folder = Path(out_dir) / kind
        self.folder.mkdir(exist_ok=True)

    def write(self, stem: str, index: int, frame_map: np.ndarray) -> Path:
        """Write a map already at the frame's size (`FrameResult.at_frame_size`)."""
        path = self.folder / f"{stem}_{index:04d}.png"
        cv2.imwrite(str(path), frame_map)
        return path
