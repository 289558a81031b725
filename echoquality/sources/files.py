"""Readers for recorded B-mode data: video, NumPy, single images, DICOM, MetaImage.

Every reader yields `RawFrame`s (grayscale uint8) lazily and raises `SourceError` with a
message that names the file and the problem. Colour frames also carry their colour map (the
gate judges colour Doppler on it: colour is lost in the grey conversion) and DICOMs the display
mode their ultrasound regions declare (M-mode, spectral or colour Doppler).
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

import cv2
import numpy as np

from echoquality.core.gate import colour_evidence, declared_mode
from echoquality.sources.base import SourceError
from echoquality.sources.limits import (MAX_FILE_BYTES, MAX_FRAME_PIXELS, check_data_bytes, check_frame_size,
                                        check_regular_file, valid_fps)

# OpenCV's own decoder cap, a second line behind the header checks below (read at its first image).
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_FRAME_PIXELS))
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
    colour: np.ndarray | None = None        # gate.colour_map of a colour frame (before grey conversion)
    declared_mode: str | None = None        # display mode the file declares (gate.declared_mode) or the screen
                                            # shows (a colour-flow scale: gate.colour_evidence)


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
    if a.ndim == 3 and a.shape[-1] in (3, 4) and a.dtype == np.uint8 and min(a.shape[:2]) >= 2:
        # ITU-R 601 luma in fixed point (OpenCV, without the GIL): 0.1 ms where the float product took ~4 ms.
        return cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2GRAY if a.shape[-1] == 3 else cv2.COLOR_RGBA2GRAY)
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
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        with open(path, "rb") as f:
            head = f.read(12)
        if head[4:8] == b"ftyp" or head[:4] == b"RIFF":
            raise SourceError(f"{path}: video contains no frames that can be decoded (empty, or unsupported codec)")
        raise SourceError(f"{path}: cannot open as video (not a video file, or unsupported format)")
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    if width and height:
        try:
            check_frame_size(str(path), height, width)
        except SourceError:
            capture.release()
            raise
    ok, first = capture.read()
    if not ok or first is None:
        capture.release()
        raise SourceError(f"{path}: video contains no frames")
    fps = valid_fps(capture.get(cv2.CAP_PROP_FPS))
    count = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0) or None

    def frames() -> Iterator[RawFrame]:
        image = first
        try:
            while image is not None:
                rgb = image[..., ::-1] if image.ndim == 3 else image
                evidence = colour_evidence(rgb)
                yield RawFrame(to_grayscale_uint8(rgb, str(path)), colour=evidence.map, declared_mode=evidence.mode)
                ok, image = capture.read()
                if not ok:
                    break
        finally:
            capture.release()

    return Recording(frames(), fps, None, count)


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
    check_frame_size(str(path), int(array.shape[1]), int(array.shape[2]))
    check_data_bytes(str(path), int(array.nbytes))
    if not (array.dtype == np.uint8 or np.issubdtype(array.dtype, np.floating)
            or np.issubdtype(array.dtype, np.integer)):
        raise SourceError(f"{path}: unsupported array type {array.dtype} (expected uint8 or float)")
    # One scale for the whole array, so that brightness does not flicker between frames.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")   # all-NaN arrays: peak NaN, frames become black
        peak = float(np.nanmax(array)) if array.dtype != np.uint8 else 255.0
    if np.issubdtype(array.dtype, np.floating):
        scale = 255.0 if peak <= 1.0 else 1.0
    else:
        scale = 255.0 / peak if peak > 255 else 1.0

    def frames() -> Iterator[RawFrame]:
        for frame in array:
            data = np.asarray(frame)
            if data.dtype != np.uint8:
                with np.errstate(all="ignore"):
                    data = np.clip(np.nan_to_num(data.astype(np.float32) * scale) + 0.5, 0, 255).astype(np.uint8)
            yield RawFrame(data)

    return Recording(frames(), None, None, int(array.shape[0]))


def read_image(path: Path) -> Recording:
    """One PNG/JPG/BMP/TIFF frame; its size is read from the header and checked before decoding."""
    size = _image_header_size(path)
    if size is not None:
        check_frame_size(str(path), size[1], size[0])
    try:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        image = None
    if image is None:
        raise SourceError(f"{path}: cannot decode as an image")
    if image.ndim == 3:
        image = image[..., 2::-1] if image.shape[-1] >= 3 else image
    evidence = colour_evidence(image)
    return Recording(iter([RawFrame(to_grayscale_uint8(image, str(path)), colour=evidence.map,
                                    declared_mode=evidence.mode)]), None, None, 1)


def _image_header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from an image file's header without decoding it; None when the header is not known."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(path) as image:
                return int(image.size[0]), int(image.size[1])
        except Image.DecompressionBombError as error:   # more than twice PIL's own cap
            raise SourceError(f"{path}: image header claims more pixels than the limit ({MAX_FRAME_PIXELS}): "
                              f"{error_reason(error)}") from None
        except Exception:
            return None


def error_reason(error: BaseException, limit: int = 300) -> str:
    """An exception's message on one line (all of its lines), or its type when it has none."""
    text = " ".join(str(error).split())
    if not text:
        return type(error).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


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
    """Frame times (s) from the tags; None when absent or not finite and increasing (a lying header)."""
    try:
        times = None
        vector = getattr(ds, "FrameTimeVector", None)
        if vector is not None and len(vector) == n:
            times = list(np.cumsum([0.0] + [float(v) / 1000.0 for v in vector[1:]]))
        elif getattr(ds, "FrameTime", None):
            times = [i * float(ds.FrameTime) / 1000.0 for i in range(n)]
        else:
            rate = getattr(ds, "CineRate", None) or getattr(ds, "RecommendedDisplayFrameRate", None)
            if rate and valid_fps(rate):
                times = [i / float(rate) for i in range(n)]
    except (TypeError, ValueError, OverflowError):
        return None
    if times is None or not np.all(np.isfinite(times)) or (n > 1 and not np.all(np.diff(times) > 0)):
        return None
    if n > 1 and valid_fps((n - 1) / times[-1]) is None:
        return None
    return [float(t) for t in times]


def read_dicom(path: Path) -> Recording:
    """Single- or multi-frame DICOM; frame time and pixel spacing from the tags."""
    import pydicom

    size = check_regular_file(path).st_size
    check_data_bytes(str(path), size)
    try:
        with warnings.catch_warnings():  # pydicom warns (and logs) about what it repairs; the error says it once
            warnings.simplefilter("ignore")
            previous = logging.getLogger("pydicom").level
            logging.getLogger("pydicom").setLevel(logging.ERROR)
            try:
                ds = pydicom.dcmread(str(path))
                _check_dicom_size(path, ds)
                pixels = ds.pixel_array
            finally:
                logging.getLogger("pydicom").setLevel(previous)
    except SourceError:
        raise
    except Exception as error:
        raise SourceError(f"{path}: corrupt or unsupported DICOM ({error_reason(error)})") from None
    n = int(getattr(ds, "NumberOfFrames", 1) or 1)
    # pydicom gives colour data (RGB, YBR_FULL, YBR_FULL_422, JPEG-compressed YBR) as RGB already.
    if n == 1:
        pixels = pixels[None]
    if pixels.shape[0] == 0:
        raise SourceError(f"{path}: DICOM holds no frames")
    times = _dicom_frame_times(ds, pixels.shape[0])
    fps = valid_fps((len(times) - 1) / times[-1]) if times and len(times) > 1 else None

    declared = declared_mode(_dicom_regions(ds))

    def frames() -> Iterator[RawFrame]:
        for i, frame in enumerate(pixels):
            evidence = colour_evidence(frame)
            yield RawFrame(to_grayscale_uint8(frame, str(path)), times[i] if times else None,
                           evidence.map, declared or evidence.mode)

    return Recording(frames(), fps, _dicom_spacing(ds), int(pixels.shape[0]))


def _check_dicom_size(path: Path, ds) -> None:
    """Refuse a DICOM whose header claims frames beyond the caps, before its pixels are decoded."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        return
    try:
        rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        n = int(getattr(ds, "NumberOfFrames", 1) or 1)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.get("BitsAllocated", 8) or 8)
    except (TypeError, ValueError):
        raise SourceError(f"{path}: DICOM image size tags are not numbers") from None
    if n < 1 or samples < 1 or samples > 4 or bits < 1 or bits > 64:
        raise SourceError(f"{path}: DICOM claims {n} frames of {samples} samples of {bits} bits")
    check_frame_size(str(path), rows, cols)
    check_data_bytes(str(path), rows * cols * n * samples * ((bits + 7) // 8))


def _dicom_regions(ds) -> list[tuple[int, int]]:
    """(spatial format, data type) of each ultrasound region a DICOM declares (none when absent or unreadable)."""
    regions = []
    for region in getattr(ds, "SequenceOfUltrasoundRegions", None) or []:
        try:
            regions.append((int(region.RegionSpatialFormat), int(region.RegionDataType)))
        except (AttributeError, TypeError, ValueError):
            continue
    return regions


_MHD_TYPES = {
    "MET_UCHAR": np.uint8, "MET_CHAR": np.int8, "MET_USHORT": np.uint16, "MET_SHORT": np.int16,
    "MET_UINT": np.uint32, "MET_INT": np.int32, "MET_FLOAT": np.float32, "MET_DOUBLE": np.float64,
}


MAX_MHD_HEADER_BYTES = 64 * 1024   # a MetaImage header is a few lines of text


def _mhd_header(path: Path) -> tuple[dict[str, str], int]:
    """The header's fields and, for LOCAL data, the offset where the data start (after the ElementDataFile line)."""
    check_regular_file(path)
    with open(path, "rb") as f:
        head = f.read(MAX_MHD_HEADER_BYTES)
    header: dict[str, str] = {}
    offset = 0
    for line in head.splitlines(keepends=True):
        offset += len(line)
        text = line.decode("utf-8", errors="replace")
        if "=" in text:
            key, value = text.split("=", 1)
            header[key.strip()] = value.strip()
            if key.strip() == "ElementDataFile":
                break
    else:
        if len(head) >= MAX_MHD_HEADER_BYTES:
            raise SourceError(f"{path}: no MetaImage header in its first {MAX_MHD_HEADER_BYTES} bytes")
    if header.get("ElementDataFile") == "LOCAL" and not head[:offset].endswith(b"\n"):
        raise SourceError(f"{path}: LOCAL MetaImage data must start on the line after ElementDataFile")
    return header, offset


def _read_data(path: Path, offset: int, expected: int, compressed: bool) -> bytes:
    """At most `expected` bytes of pixel data from `path` at `offset`; compressed data inflated in chunks,
    never beyond `expected` (a zlib bomb stops there) nor reading more than MAX_FILE_BYTES."""
    with open(path, "rb") as f:
        f.seek(offset)
        if not compressed:
            return f.read(max(0, min(expected, os.fstat(f.fileno()).st_size - offset)))
        inflater, parts, have, read = zlib.decompressobj(), [], 0, 0
        try:
            while have < expected and not inflater.eof:
                chunk = inflater.unconsumed_tail or f.read(1 << 20)
                if not chunk:
                    break
                if not inflater.unconsumed_tail:
                    read += len(chunk)
                    check_data_bytes(str(path), read)
                part = inflater.decompress(chunk, expected - have)
                parts.append(part)
                have += len(part)
        except zlib.error:
            raise SourceError(f"{path}: compressed data is corrupt") from None
        return b"".join(parts)


def _mhd_numbers(path: Path, header: dict[str, str], key: str, kind: type, default: str | None = None) -> list:
    text = header.get(key, default)
    if text is None:
        raise SourceError(f"{path}: not a valid MetaImage header (no {key})")
    try:
        values = [kind(v) for v in text.split()]
    except ValueError:
        raise SourceError(f"{path}: MetaImage {key} '{text[:40]}' is not a list of numbers") from None
    return values


def _mhd_data_path(path: Path, data_file: str) -> Path:
    """The data file beside the header, confined to the header's folder (or below it)."""
    relative = Path(data_file)
    if not data_file or relative.is_absolute() or ".." in relative.parts:
        raise SourceError(f"{path}: ElementDataFile '{data_file}' must name a file in the header's folder "
                          "(no absolute path, no '..')")
    data_path = path.parent / relative
    folder = path.parent.resolve()
    try:
        data_path.resolve().relative_to(folder)
    except ValueError:
        raise SourceError(f"{path}: ElementDataFile '{data_file}' leads outside the header's folder") from None
    if not data_path.exists() and not data_path.is_symlink():
        raise SourceError(f"{path}: its data file {data_file} is missing")
    try:
        check_regular_file(data_path, "data file")
    except SourceError as error:
        raise SourceError(f"{path}: its data file {error}") from None
    return data_path


def _read_mhd_file(path: Path) -> tuple[np.ndarray, tuple[float, float] | None]:
    """(frames (N, H, W), spacing) of one MetaImage header and its data; sizes checked before reading."""
    header, local_offset = _mhd_header(path)
    dims = _mhd_numbers(path, header, "DimSize", int)
    if len(dims) not in (2, 3):
        raise SourceError(f"{path}: {len(dims)}-D MetaImage is not supported (2-D or 2-D+t only)")
    if any(d < 1 for d in dims):
        raise SourceError(f"{path}: MetaImage DimSize {dims} must be positive")
    n_channels = _mhd_numbers(path, header, "ElementNumberOfChannels", int, "1")
    if len(n_channels) != 1 or not 1 <= n_channels[0] <= 4:
        raise SourceError(f"{path}: MetaImage ElementNumberOfChannels must be 1 to 4")
    n_channels = n_channels[0]
    if header.get("ElementType") not in _MHD_TYPES:
        raise SourceError(f"{path}: MetaImage ElementType '{header.get('ElementType', '')[:20]}' is not supported")
    dtype = np.dtype(_MHD_TYPES[header["ElementType"]])
    if header.get("BinaryDataByteOrderMSB", header.get("ElementByteOrderMSB", "False")).lower() == "true":
        dtype = dtype.newbyteorder(">")
    if "ElementDataFile" not in header:
        raise SourceError(f"{path}: not a valid MetaImage header (no ElementDataFile)")
    width, height, n = dims[0], dims[1], dims[2] if len(dims) == 3 else 1
    check_frame_size(str(path), height, width)
    expected = width * height * n * n_channels * dtype.itemsize     # Python ints: no overflow
    check_data_bytes(str(path), expected)
    compressed = header.get("CompressedData", "False").lower() == "true"
    data_file = header["ElementDataFile"]
    if data_file == "LOCAL":
        raw = _read_data(path, local_offset, expected, compressed)
    else:
        raw = _read_data(_mhd_data_path(path, data_file), 0, expected, compressed)
    if len(raw) < expected:
        raise SourceError(f"{path}: data holds {len(raw)} bytes, header needs {expected}")
    shape = (n, height, width) + ((n_channels,) if n_channels > 1 else ())
    array = np.frombuffer(raw[:expected], dtype=dtype).reshape(shape)
    spacing = None
    if "ElementSpacing" in header:
        try:
            values = [float(v) for v in header["ElementSpacing"].split()]
        except ValueError:
            raise SourceError(f"{path}: MetaImage ElementSpacing '{header['ElementSpacing'][:40]}' "
                              "is not a list of numbers") from None
        if len(values) >= 2 and all(np.isfinite(values[:2])) and values[0] > 0 and values[1] > 0:
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
    if "#" not in path.name or path.exists():
        if check_regular_file(path).st_size == 0:    # a FIFO, a device or a folder is refused without opening it
            raise SourceError(f"{path}: is empty (0 bytes: no frames)")
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
