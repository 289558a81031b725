"""DICOM files as scanners write them, built around real frames: RGB, YBR, JPEG-compressed multi-frame,
burned-in text and ECG, a colour-flow box, a small image in the corner of a 768×1024 screen."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, UltrasoundMultiFrameImageStorage, generate_uid

from tests.helpers import DEMO_LOOP


def real_frames(n: int = 4, step: int = 10) -> np.ndarray:
    """(n, H, W) grey frames of the bundled real E95 loop."""
    capture, frames = cv2.VideoCapture(str(DEMO_LOOP)), []
    while len(frames) < n:
        for _ in range(step):
            ok, frame = capture.read()
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    return np.stack(frames)


def burn_overlays(rgb: np.ndarray) -> np.ndarray:
    """Text in the corners and a green ECG trace across the bottom, as scanners burn them in (in place)."""
    h, w = rgb.shape[1:3]
    xs = np.arange(w)
    ys = (0.93 * h - 12 * np.exp(-((xs % 120) - 60) ** 2 / 20.0)).astype(np.int32)
    for frame in rgb:
        cv2.putText(frame, "FR 50Hz 15cm", (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
        cv2.putText(frame, "TIS0.8 MI 0.7", (w - 150, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
        cv2.polylines(frame, [np.stack([xs, ys], 1)[:, None]], False, (0, 220, 0), 2)
    return rgb


def colour_flow(rgb: np.ndarray) -> np.ndarray:
    """Red and blue flow inside a box of the fan (a colour-Doppler frame), in place."""
    h, w = rgb.shape[1:3]
    y0, x0 = int(0.35 * h), int(0.4 * w)
    rgb[:, y0:y0 + h // 8, x0:x0 + w // 10] = (210, 40, 30)
    rgb[:, y0 + h // 8:y0 + h // 5, x0:x0 + w // 10] = (30, 80, 230)
    return rgb


def velocity_scale(screen: np.ndarray, x: int, y: int, height: int, width: int = 16) -> np.ndarray:
    """A colour-flow velocity scale drawn on a screen: yellow to red above a grey zero line, blue to cyan below."""
    for i in range(height // 2 - 2):
        t = i / (height // 2)
        screen[y + i, x:x + width] = (255, int(230 * (1 - t)), 0)
        screen[y + height - 1 - i, x:x + width] = (0, int(220 * (1 - t)), 255)
    screen[y + height // 2 - 2:y + height // 2 + 2, x:x + width] = 128
    return screen


def write_dicom(path: Path, frames: np.ndarray, encoding: str = "rgb",
                regions: list[tuple[int, int]] | None = None) -> Path:
    """A multi-frame ultrasound DICOM of (N, H, W, 3) RGB or (N, H, W) grey frames.

    encoding: 'rgb' or 'grey' (uncompressed), 'ybr_full' (uncompressed YBR), 'jpeg' (baseline, YBR_FULL_422).
    regions: (spatial format, data type) of ultrasound regions to declare.
    """
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit if encoding == "jpeg" else ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID, ds.SOPInstanceUID = UltrasoundMultiFrameImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.NumberOfFrames, ds.Rows, ds.Columns = frames.shape[0], frames.shape[1], frames.shape[2]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime = 20.0
    if encoding == "grey":
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.PixelData = np.ascontiguousarray(frames, np.uint8).tobytes()
    else:
        ds.SamplesPerPixel, ds.PlanarConfiguration = 3, 0
        if encoding == "rgb":
            ds.PhotometricInterpretation = "RGB"
            ds.PixelData = np.ascontiguousarray(frames, np.uint8).tobytes()
        elif encoding == "ybr_full":
            ds.PhotometricInterpretation = "YBR_FULL"
            ybr = np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2YCrCb)[..., [0, 2, 1]] for f in frames])
            ds.PixelData = ybr.tobytes()
        elif encoding == "jpeg":
            ds.PhotometricInterpretation = "YBR_FULL_422"
            encoded = [cv2.imencode(".jpg", np.ascontiguousarray(f[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 92])[1]
                       .tobytes() for f in frames]
            ds.PixelData = encapsulate(encoded)
            ds["PixelData"].is_undefined_length = True
        else:
            raise ValueError(encoding)
    if regions:
        items = []
        for spatial, data_type in regions:
            item = Dataset()
            item.RegionSpatialFormat, item.RegionDataType = spatial, data_type
            item.RegionLocationMinX0, item.RegionLocationMinY0 = 0, 0
            item.RegionLocationMaxX1, item.RegionLocationMaxY1 = frames.shape[2] - 1, frames.shape[1] - 1
            items.append(item)
        ds.SequenceOfUltrasoundRegions = items
    ds.save_as(str(path), enforce_file_format=True)
    return path


def corner_screen(frames: np.ndarray, size: tuple[int, int] = (768, 1024), scale: float = 0.45) -> np.ndarray:
    """(N, 768, 1024, 3) screens with the frames shrunk into the top-left corner, text beside them."""
    n, h, w = frames.shape[:3]
    screens = np.zeros((n,) + size + (3,), np.uint8)
    small = [cv2.resize(f, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA) for f in frames]
    for screen, image in zip(screens, small):
        screen[40:40 + image.shape[0], 20:20 + image.shape[1]] = image[..., None] if image.ndim == 2 else image
        for i in range(8):
            cv2.putText(screen, f"MEASUREMENT {i}: 12.{i} cm", (size[1] // 2, 80 + 40 * i), cv2.FONT_HERSHEY_SIMPLEX,
                        0.8, (230, 230, 230), 2)
    return screens
