"""Readers for recorded B-mode data: video, NumPy, single images, DICOM, MetaImage.

Every reader yields `RawFrame`s (grayscale uint8) lazily and raises `SourceError` with a
message that names the file and the problem.
"""
from __future__ import annotations

import glob
import logging
import os
import re
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from echoquality.sources.base import SourceError

# FFmpeg (inside OpenCV) writes its own complaints about broken files to stderr; the SourceError
# raised here says what is wrong, once. Must be set before OpenCV opens its first video.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".wmv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
DICOM_SUFFIXES = (".dcm", ".dicom", "")
DEFAULT_FPS = 30.0  # when a file stores no frame rate


@dataclass
class RawFrame:
    image: np.ndarray                       # (H, W) uint8
    time_s: float | None = None             # from the file, when it stores frame times


@dataclass
class Recording:
    """What a reader knows about a file before reading its frames."""
    frames: Iterator[RawFrame]
    fps: float | None                        # None: not stored in the file
    spacing: tuple[float, float] | None      # (sy, sx) mm, None: unknown
    n_frames: int | None                     # None: unknown


def to_grayscale_uint8(array: np.ndarray, name: str) -> np.ndarray:
    """(H, W) uint8 from gray, RGB(A) or float data; floats in [0, 1] are scaled to 0–255."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        a = a[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    elif a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    elif a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 2 or a.shape[0] < 2 or a.shape[1] < 2:
        raise SourceError(f"{name}: frame shape {np.shape(array)} is not a 2-D image")
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.number):
        raise SourceError(f"{name}: unsupported pixel type {a.dtype}")
    a = a.astype(np.float32)
    if not np.all(np.isfinite(a)):
        a = np.nan_to_num(a, nan=0.0, posinf=255.0, neginf=0.0)
    if np.issubdtype(np.asarray(array).dtype, np.floating) and a.size and a.max() <= 1.0:
        a = a * 255.0
    elif np.asarray(array).dtype == np.uint16 and a.size and a.max() > 255:
        a = a * (255.0 / a.max())
    return np.clip(a + 0.5, 0, 255).astype(np.uint8)


def read_video(path: Path) -> Recording:
    """MP4/AVI/... through OpenCV; colour video becomes grayscale."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        with open(path, "rb") as f:
            head = f.read(12)
        if head[4:8] == b"ftyp" or head[:4] == b"RIFF":
            raise SourceError(f"{path}: video contains no frames that can be decoded (empty, or unsupported codec)")
        raise SourceError(f"{path}: cannot open as video (not a video file, or unsupported format)")
    ok, first = capture.read()
    if not ok or first is None:
        capture.release()
        raise SourceError(f"{path}: video contains no frames")
    fps = capture.get(cv2.CAP_PROP_FPS) or None
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None

    def frames() -> Iterator[RawFrame]:
        image = first
        try:
            while image is not None:
                yield RawFrame(to_grayscale_uint8(image[..., ::-1] if image.ndim == 3 else image, str(path)))
                ok, image = capture.read()
                if not ok:
                    break
        finally:
            capture.release()

    return Recording(frames(), fps if fps and 0 < fps < 1000 else None, None, count)


def read_numpy(path: Path) -> Recording:
    """`.npy` shaped (N, H, W), (N, 1, H, W) or (H, W); uint8 or float."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as error:
        raise SourceError(f"{path}: not a readable .npy array ({error})") from None
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3:
        raise SourceError(f"{path}: array shape {array.shape} is not (N,H,W), (N,1,H,W) or (H,W)")
    if array.shape[0] == 0:
        raise SourceError(f"{path}: array holds no frames")
    if not (array.dtype == np.uint8 or np.issubdtype(array.dtype, np.floating)
            or np.issubdtype(array.dtype, np.integer)):
        raise SourceError(f"{path}: unsupported array type {array.dtype} (expected uint8 or float)")
    # One scale for the whole array, so that brightness does not flicker between frames.
    peak = float(np.nanmax(array)) if array.dtype != np.uint8 else 255.0
    if np.issubdtype(array.dtype, np.floating):
        scale = 255.0 if peak <= 1.0 else 1.0
    else:
        scale = 255.0 / peak if peak > 255 else 1.0

    def frames() -> Iterator[RawFrame]:
        for frame in array:
            data = np.asarray(frame)
            if data.dtype != np.uint8:
                data = np.clip(np.nan_to_num(data.astype(np.float32) * scale) + 0.5, 0, 255).astype(np.uint8)
            yield RawFrame(data)

    return Recording(frames(), None, None, int(array.shape[0]))


def read_image(path: Path) -> Recording:
    """One PNG/JPG/BMP/TIFF frame."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SourceError(f"{path}: cannot decode as an image")
    if image.ndim == 3:
        image = image[..., 2::-1] if image.shape[-1] >= 3 else image
    return Recording(iter([RawFrame(to_grayscale_uint8(image, str(path)))]), None, None, 1)


def _dicom_spacing(ds) -> tuple[float, float] | None:
    regions = getattr(ds, "SequenceOfUltrasoundRegions", None)
    if regions:
        r = regions[0]
        dx, dy = getattr(r, "PhysicalDeltaX", None), getattr(r, "PhysicalDeltaY", None)
        units = getattr(r, "PhysicalUnitsXDirection", 3)
        if dx and dy and units == 3:  # centimetres
            return (abs(float(dy)) * 10.0, abs(float(dx)) * 10.0)
    for tag in ("PixelSpacing", "ImagerPixelSpacing"):
        value = getattr(ds, tag, None)
        if value is not None and len(value) == 2 and float(value[0]) > 0:
            return (float(value[0]), float(value[1]))
    return None


def _dicom_frame_times(ds, n: int) -> list[float] | None:
    vector = getattr(ds, "FrameTimeVector", None)
    if vector is not None and len(vector) == n:
        return list(np.cumsum([0.0] + [float(v) / 1000.0 for v in vector[1:]]))
    frame_time = getattr(ds, "FrameTime", None)
    if frame_time:
        return [i * float(frame_time) / 1000.0 for i in range(n)]
    rate = getattr(ds, "CineRate", None) or getattr(ds, "RecommendedDisplayFrameRate", None)
    if rate:
        return [i / float(rate) for i in range(n)]
    return None


def read_dicom(path: Path) -> Recording:
    """Single- or multi-frame DICOM; frame time and pixel spacing from the tags."""
    import pydicom

    try:
        with warnings.catch_warnings():  # pydicom warns (and logs) about what it repairs; the error says it once
            warnings.simplefilter("ignore")
            previous = logging.getLogger("pydicom").level
            logging.getLogger("pydicom").setLevel(logging.ERROR)
            try:
                ds = pydicom.dcmread(str(path))
                pixels = ds.pixel_array
            finally:
                logging.getLogger("pydicom").setLevel(previous)
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SourceError(f"{path}: corrupt or unsupported DICOM ({reason})") from None
    n = int(getattr(ds, "NumberOfFrames", 1) or 1)
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if n == 1:
        pixels = pixels[None]
    if samples > 1 and str(getattr(ds, "PhotometricInterpretation", "")).startswith("YBR"):
        from pydicom.pixels import convert_color_space
        pixels = convert_color_space(pixels, ds.PhotometricInterpretation, "RGB")
    if pixels.shape[0] == 0:
        raise SourceError(f"{path}: DICOM holds no frames")
    times = _dicom_frame_times(ds, pixels.shape[0])
    fps = None
    if times and len(times) > 1 and times[-1] > 0:
        fps = (len(times) - 1) / times[-1]

    def frames() -> Iterator[RawFrame]:
        for i, frame in enumerate(pixels):
            yield RawFrame(to_grayscale_uint8(frame, str(path)), times[i] if times else None)

    return Recording(frames(), fps, _dicom_spacing(ds), int(pixels.shape[0]))


_MHD_TYPES = {
    "MET_UCHAR": np.uint8, "MET_CHAR": np.int8, "MET_USHORT": np.uint16, "MET_SHORT": np.int16,
    "MET_UINT": np.uint32, "MET_INT": np.int32, "MET_FLOAT": np.float32, "MET_DOUBLE": np.float64,
}


def _read_mhd_file(path: Path) -> tuple[np.ndarray, tuple[float, float] | None]:
    """(frames (N, H, W), spacing) of one MetaImage header and its data."""
    try:
        header = {}
        for line in path.read_text(errors="replace").splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                header[key.strip()] = value.strip()
        dims = [int(v) for v in header["DimSize"].split()]
        n_channels = int(header.get("ElementNumberOfChannels", "1"))
        dtype = np.dtype(_MHD_TYPES[header["ElementType"]])
        if header.get("BinaryDataByteOrderMSB", header.get("ElementByteOrderMSB", "False")).lower() == "true":
            dtype = dtype.newbyteorder(">")
        data_file = header["ElementDataFile"]
    except (KeyError, ValueError, OSError) as error:
        raise SourceError(f"{path}: not a valid MetaImage header ({error})") from None
    raw = path.read_bytes().split(b"ElementDataFile", 1)[1].split(b"\n", 1)[1] if data_file == "LOCAL" else None
    if raw is None:
        data_path = path.parent / data_file
        if not data_path.is_file():
            raise SourceError(f"{path}: its data file {data_file} is missing")
        raw = data_path.read_bytes()
    if header.get("CompressedData", "False").lower() == "true":
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            raise SourceError(f"{path}: compressed data is corrupt") from None
    expected = int(np.prod(dims)) * n_channels * dtype.itemsize
    if len(raw) < expected:
        raise SourceError(f"{path}: data holds {len(raw)} bytes, header needs {expected}")
    if len(dims) not in (2, 3):
        raise SourceError(f"{path}: {len(dims)}-D MetaImage is not supported (2-D or 2-D+t only)")
    shape = (dims[2] if len(dims) == 3 else 1, dims[1], dims[0]) + ((n_channels,) if n_channels > 1 else ())
    array = np.frombuffer(raw[:expected], dtype=dtype).reshape(shape)
    spacing = None
    if "ElementSpacing" in header:
        values = [float(v) for v in header["ElementSpacing"].split()]
        if len(values) >= 2 and values[0] > 0 and values[1] > 0:
            spacing = (values[1], values[0])
    return array, spacing


def read_metaimage(path: Path) -> Recording:
    """`.mhd` single frame, 2-D+t volume, or a numbered sequence given as `name_#.mhd`."""
    if "#" in path.name:
        pattern = re.compile(re.escape(path.name).replace("\\#", "#").replace("#", r"(\d+)") + "$")
        matches = [(int(m.group(1)), Path(p)) for p in glob.glob(str(path.parent / path.name.replace("#", "*")))
                   if (m := pattern.match(Path(p).name))]
        files = [p for _, p in sorted(matches)]
        if not files:
            raise SourceError(f"{path}: no files match this numbered sequence")
    else:
        files = [path]
    first, spacing = _read_mhd_file(files[0])

    def frames() -> Iterator[RawFrame]:
        for i, file in enumerate(files):
            array = first if i == 0 else _read_mhd_file(file)[0]
            for frame in array:
                yield RawFrame(to_grayscale_uint8(frame, str(file)))

    n = first.shape[0] * len(files) if len(files) == 1 or first.shape[0] == 1 else None
    return Recording(frames(), None, spacing, n)


def read_recording(path: Path) -> Recording:
    """Open any supported file by its suffix (DICOM also by content)."""
    suffix = path.suffix.lower()
    if "#" not in path.name and not path.exists():
        raise SourceError(f"{path}: file not found")
    if path.is_dir():
        raise SourceError(f"{path}: is a folder, expected a file")
    if suffix in VIDEO_SUFFIXES:
        return read_video(path)
    if suffix == ".npy":
        return read_numpy(path)
    if suffix in IMAGE_SUFFIXES:
        return read_image(path)
    if suffix == ".mhd":
        return read_metaimage(path)
    if suffix == ".nii" or path.name.lower().endswith(".nii.gz"):
        from echoquality.sources.nifti import read_nifti
        return read_nifti(path)
    if suffix in DICOM_SUFFIXES or _looks_like_dicom(path):
        return read_dicom(path)
    raise SourceError(f"{path}: unsupported file type '{suffix}' (video, .npy, image, DICOM, .mhd or NIfTI expected)")


def _looks_like_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(132)[128:132] == b"DICM"
    except OSError:
        return False
