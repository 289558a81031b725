"""Split-screen videos: DIR/<stem>_split.mp4, opened at the first frame and checked.

The encoder is checked (`VideoError` when it cannot be opened: a folder in the way, an
unwritable place), the frame rate is kept within what MPEG-4 takes, frames larger than the
encoder allows are scaled down, and frames whose size changes mid-stream (a scanner depth
change) are scaled into the first frame's size and counted in `resized`.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np

from echoquality.sources.limits import MAX_FPS, MIN_FPS

MAX_VIDEO_SIDE = 8190   # MPEG-4 Part 2 takes at most 8191 pixels per side; sizes are kept even
DEFAULT_VIDEO_FPS = 30.0


class VideoError(OSError):
    """The video cannot be written; the message names the file."""


def video_fps(fps: float | None) -> float:
    """A frame rate the encoder takes: `fps` when finite and within MIN_FPS..MAX_FPS, else 30."""
    try:
        fps = float(fps) if fps is not None else math.nan
    except (TypeError, ValueError):
        fps = math.nan
    return fps if math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS else DEFAULT_VIDEO_FPS


class VideoWriter:
    """An MP4 of RGB frames (even sizes, at most MAX_VIDEO_SIDE), created when the first frame arrives."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = Path(path), video_fps(fps)
        self._video: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None   # (width, height) written
        self.frames = 0
        self.resized = 0        # frames of another size than the first, scaled into it

    @property
    def started(self) -> bool:
        return self._video is not None

    def _open(self, rgb: np.ndarray) -> None:
        h, w = rgb.shape[:2]
        scale = min(1.0, MAX_VIDEO_SIDE / max(h, w))
        w, h = max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)
        if self.path.is_dir():
            raise VideoError(f"{self.path}: cannot write the video, a folder has that name")
        video = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
        if not video.isOpened():
            video.release()
            raise VideoError(f"{self.path}: cannot write the video (the encoder refused {w}x{h} at {self.fps:g} frames/s "
                             "or the place is not writable)")
        self._video, self.size = video, (w, h)

    def write(self, rgb: np.ndarray) -> None:
        if self._video is None:
            self._open(rgb)
        w, h = self.size
        first_size = (rgb.shape[1] // 2 * 2, rgb.shape[0] // 2 * 2)
        if self.frames == 0:
            self._first_input = first_size
        if first_size != self._first_input:
            self.resized += 1
        if (rgb.shape[1], rgb.shape[0]) != (w, h):
            if first_size == (w, h):
                rgb = rgb[:h, :w]                        # odd sizes: crop the last row/column
            else:
                rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        self._video.write(np.ascontiguousarray(rgb[..., ::-1]))
        self.frames += 1

    def close(self) -> None:
        """Finish the file (its index is written here); VideoError when nothing playable was written."""
        if self._video is not None:
            self._video.release()
            self._video = None
            try:
                size = os.path.getsize(self.path)
            except OSError:
                size = 0
            if self.frames and size == 0:
                raise VideoError(f"{self.path}: the video could not be written (disk full?)")
