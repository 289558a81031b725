"""Caps on what a source may make the app read or allocate, checked before allocating.

Live frames (OpenIGTLink) already have a body-size cap; files get the same per-frame cap plus
caps on the bytes read from one file and on what a compressed block may inflate to. A header
that claims more is refused with one line naming the file, before anything is read.
"""
from __future__ import annotations

import math
import os
import stat
from pathlib import Path

from echoquality.sources.base import SourceError

MAX_FRAME_SIDE = 8192                 # pixels along either axis of one frame
MAX_FRAME_PIXELS = 4096 * 4096        # pixels in one frame (16.8 M, as a 4k x 4k live frame)
MAX_FILE_BYTES = 2 * 1024 ** 3        # bytes of pixel data read (or inflated) from one file: 2 GiB
MIN_FPS, MAX_FPS = 0.1, 1000.0        # frame rates accepted from a file or a flag
MIN_SPACING_MM, MAX_SPACING_MM = 0.001, 100.0   # pixel spacings accepted from a file or a flag


def check_frame_size(name: str, height: int, width: int) -> None:
    """SourceError unless a frame of height x width pixels is within the caps."""
    if height < 2 or width < 2:
        raise SourceError(f"{name}: frame of {height}x{width} pixels is not a 2-D image")
    if height > MAX_FRAME_SIDE or width > MAX_FRAME_SIDE or height * width > MAX_FRAME_PIXELS:
        raise SourceError(f"{name}: frame of {height}x{width} pixels exceeds the limit "
                          f"({MAX_FRAME_SIDE} per side, {MAX_FRAME_PIXELS} in all)")


def check_data_bytes(name: str, n_bytes: int) -> None:
    """SourceError when a file's pixel data would exceed MAX_FILE_BYTES."""
    if n_bytes > MAX_FILE_BYTES:
        raise SourceError(f"{name}: {n_bytes} bytes of pixel data exceed the {MAX_FILE_BYTES}-byte limit")


def check_regular_file(path: Path, what: str = "") -> os.stat_result:
    """The file's stat; SourceError for anything but a regular file (FIFO, device, socket, folder), never opened."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SourceError(f"{path}: {what or 'file'} not found") from None
    except OSError as error:
        raise SourceError(f"{path}: cannot read ({error.strerror or error})") from None
    if stat.S_ISDIR(info.st_mode):
        raise SourceError(f"{path}: is a folder, expected a file")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode)
                or stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode) else "special")
        raise SourceError(f"{path}: is {kind}, not a regular file")
    return info


def valid_fps(value: float | None) -> float | None:
    """A frame rate read from a file, or None when it is missing, not finite or outside MIN_FPS..MAX_FPS."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and MIN_FPS <= value <= MAX_FPS else None


def valid_spacing(spacing) -> tuple[float, float] | None:
    """(sy, sx) in mm when both are finite and within MIN_SPACING_MM..MAX_SPACING_MM, else None."""
    try:
        sy, sx = (float(v) for v in spacing)
    except (TypeError, ValueError):
        return None
    ok = all(math.isfinite(v) and MIN_SPACING_MM <= v <= MAX_SPACING_MM for v in (sy, sx))
    return (sy, sx) if ok else None
