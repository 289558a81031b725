"""NIfTI recordings (`.nii`, `.nii.gz`): one 2-D frame or a 2-D+t loop, through nibabel.

Layout (as in the CAMUS 2023 release and Echo-Toolkit's examples): the array is (x, y[, t]) or
(x, y, 1, t); each frame is shown with y as rows and x as columns (apex at the top). Pixel spacing
(sy, sx) comes from the voxel sizes of the header; the frame interval from the time axis when the
header gives it in seconds or milliseconds (otherwise the frame rate is unknown).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from echoquality.sources.base import SourceError
from echoquality.sources.files import RawFrame, Recording, error_reason, to_grayscale_uint8
from echoquality.sources.limits import check_frame_size

# Refuse headers that claim more voxels than this before reading anything (1 GiB of float32).
MAX_VOXELS = 2 ** 28


def _frame_interval_s(header, n_frames: int) -> float | None:
    """Seconds between frames from the header's time step and units; None when unknown."""
    if n_frames < 2:
        return None
    zooms = header.get_zooms()
    step = float(zooms[-1]) if len(zooms) >= 3 else 0.0
    try:
        _, time_unit = header.get_xyzt_units()
    except Exception:
        time_unit = "unknown"
    scale = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}.get(time_unit)
    if scale is None or not np.isfinite(step) or step <= 0:
        return None
    return step * scale


def read_nifti(path: Path) -> Recording:
    """A NIfTI file as a Recording of (H, W) uint8 frames (see the module docstring)."""
    try:
        import nibabel
    except ImportError:
        raise SourceError(f"{path}: reading NIfTI needs nibabel (pip install nibabel)") from None
    try:
        image = nibabel.load(str(path))
        shape = tuple(int(d) for d in image.shape)
    except Exception as error:
        raise SourceError(f"{path}: not a readable NIfTI file ({error_reason(error)})") from None
    dims = [d for d in shape[2:] if d != 1]
    if len(shape) < 2 or len(dims) > 1 or min(shape[:2]) < 2:
        raise SourceError(f"{path}: NIfTI shape {shape} is not a 2-D frame or a 2-D+t loop")
    n = dims[0] if dims else 1
    check_frame_size(str(path), shape[1], shape[0])
    if shape[0] * shape[1] * n > MAX_VOXELS:
        raise SourceError(f"{path}: NIfTI of {shape} voxels is larger than the {MAX_VOXELS} voxels allowed")
    zooms = image.header.get_zooms()
    sx, sy = float(zooms[0]), float(zooms[1])
    spacing = (sy, sx) if np.isfinite([sx, sy]).all() and sx > 0 and sy > 0 and (sx, sy) != (1.0, 1.0) else None
    interval = _frame_interval_s(image.header, n)
    data = image.dataobj

    def frames() -> Iterator[RawFrame]:
        try:
            volume = np.asarray(data).reshape(shape[0], shape[1], n)
        except Exception as error:
            raise SourceError(f"{path}: NIfTI data cannot be read ({error_reason(error)})") from None
        top = float(np.nanmax(volume)) if volume.size else 0.0
        scale = 255.0 / top if top > 255.0 else 1.0
        for t in range(n):
            frame = np.ascontiguousarray(volume[:, :, t].T)
            if frame.dtype != np.uint8:
                frame = frame.astype(np.float32) * np.float32(scale)
            yield RawFrame(to_grayscale_uint8(frame, str(path)), None if interval is None else t * interval)

    return Recording(frames(), None if interval is None else 1.0 / interval, spacing, n)
