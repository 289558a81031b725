"""Split-screen videos: DIR/<stem>_split.mp4, opened at the first frame."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class VideoWriter:
    """An MP4 of RGB frames (cropped to even sizes), created when the first frame arrives."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = Path(path), fps
        self._video: cv2.VideoWriter | None = None

    @property
    def started(self) -> bool:
        return self._video is not None

    def write(self, rgb: np.ndarray) -> None:
        h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
        if self._video is None:
            self._video = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
        self._video.write(np.ascontiguousarray(rgb[:h, :w, ::-1]))

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None
