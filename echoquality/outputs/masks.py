"""Label maps and region maps as PNGs at the input frame's size: DIR/<kind>/<stem>_<frame:04d>.png."""
from __future__ import annotations

import errno
from pathlib import Path

import cv2
import numpy as np

from echoquality.outputs.results_csv import OutputError


class MapWriter:
    """Writes one kind of map ("masks" or "regions") into its own folder under `out_dir`."""

    def __init__(self, out_dir: Path, kind: str):
        self.folder = Path(out_dir) / kind
        self.folder.mkdir(exist_ok=True)

    def write(self, stem: str, index: int, frame_map: np.ndarray) -> Path:
        """Write a map already at the frame's size (`FrameResult.at_frame_size`); OutputError when it cannot be
        written whole (a partial PNG is removed)."""
        path = self.folder / f"{stem}_{index:04d}.png"
        ok, data = cv2.imencode(".png", frame_map)
        if not ok:
            raise OutputError(errno.EINVAL, f"{path}: cannot encode the map")
        try:
            path.write_bytes(data.tobytes())
        except OSError as error:
            path.unlink(missing_ok=True)
            raise OutputError(error.errno, f"{path}: cannot write ({error.strerror or error})") from None
        return path
