"""Labelled apical echo frames for segmentation training, read from a folder.

Two layouts are understood:
- PNG pairs: FOLDER/images/NAME.png (8-bit gray) and FOLDER/masks/NAME.png (labels 0 bg, 1 LV, 2 MYO, 3 LA),
  as in the project's CAMUS subset.
- The official CAMUS release: FOLDER/**/patientXXXX_{2CH,4CH}_{ED,ES}.{nii.gz,mhd} with a matching
  ..._gt.{nii.gz,mhd} label file (NIfTI needs `nibabel`; MetaImage is read directly).

Frames are kept at their stored size: training re-images them (`augment.reimage`) and frames them
with the app's own canonical framing (`echoquality.core.framing`).
"""
from __future__ import annotations

import logging
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from training.common import patient_of, split_patients

log = logging.getLogger(__name__)

SIZE = 256
LV, MYO, LA = 1, 2, 3


class DatasetError(Exception):
    """A training folder that cannot be read."""


@dataclass(frozen=True)
class Sample:
    """One labelled frame at network size."""
    name: str
    patient: str
    image: np.ndarray   # (H, W) uint8, as stored
    mask: np.ndarray    # (H, W) uint8 labels


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Gray image as uint8 (8-bit data kept, wider data scaled by its maximum)."""
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float32)
    top = float(image.max()) if image.size else 0.0
    scale = 255.0 / top if top > 255.0 else 1.0
    return np.clip(image * scale, 0, 255).astype(np.uint8)


def orient_apex_up(image: np.ndarray, mask: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Transpose/flip a frame so the LV lies above the LA (apex at the top), as in a displayed apical view."""
    def centroid(label: int) -> np.ndarray | None:
        ys, xs = np.nonzero(mask == label)
        return np.array([ys.mean(), xs.mean()]) if ys.size else None

    lv, la = centroid(LV), centroid(LA)
    if lv is None or la is None:
        return image, mask
    dy, dx = la - lv
    if abs(dx) > abs(dy):
        log.info("%s: LV-LA axis is horizontal, transposing", name)
        image, mask, dy = image.T, mask.T, dx
    if dy < 0:
        log.info("%s: LA above LV, flipping upside down", name)
        image, mask = image[::-1], mask[::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)


def read_metaimage(path: Path) -> np.ndarray:
    """A 2-D MetaImage (.mhd + raw data file) as a (rows, cols) array."""
    header: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            header[key.strip()] = value.strip()
    dims = [int(v) for v in header.get("DimSize", "").split()]
    types = {"MET_UCHAR": np.uint8, "MET_CHAR": np.int8, "MET_USHORT": np.uint16, "MET_SHORT": np.int16,
             "MET_UINT": np.uint32, "MET_INT": np.int32, "MET_FLOAT": np.float32, "MET_DOUBLE": np.float64}
    dtype = types.get(header.get("ElementType", ""))
    if len(dims) < 2 or dtype is None:
        raise DatasetError(f"{path}: unsupported MetaImage header (DimSize {dims}, {header.get('ElementType')})")
    raw = path.parent / header.get("ElementDataFile", path.with_suffix(".raw").name)
    data = raw.read_bytes()
    if header.get("CompressedData", "False").lower() == "true":
        data = zlib.decompress(data)
    array = np.frombuffer(data, dtype=dtype)
    if header.get("BinaryDataByteOrderMSB", header.get("ElementByteOrderMSB", "False")).lower() == "true":
        array = array.byteswap()
    array = np.squeeze(array.reshape(dims[::-1]))
    if array.ndim != 2:
        raise DatasetError(f"{path}: expected a 2-D image, found shape {array.shape}")
    return array


def read_nifti(path: Path) -> np.ndarray:
    """A 2-D NIfTI image as (rows, cols) (nibabel stores x first, so the array is transposed)."""
    try:
        import nibabel
    except ImportError:
        raise DatasetError(f"{path}: reading NIfTI needs nibabel (pip install -r training/requirements.txt)") from None
    array = np.asarray(nibabel.load(str(path)).dataobj)
    return np.squeeze(array).T


def _read_any(path: Path) -> np.ndarray:
    if path.name.endswith(".nii.gz") or path.suffix == ".nii":
        return read_nifti(path)
    if path.suffix == ".mhd":
        return read_metaimage(path)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError(f"{path}: cannot read image")
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def find_pairs(folder: Path) -> list[tuple[str, Path, Path]]:
    """(name, image, labels) files in a training folder, in name order."""
    if (folder / "images").is_dir() and (folder / "masks").is_dir():
        pairs = []
        for image in sorted((folder / "images").glob("*.png")):
            mask = folder / "masks" / image.name
            if mask.is_file():
                pairs.append((image.stem, image, mask))
            else:
                log.warning("%s: no mask %s, skipped", image, mask)
        return pairs
    pairs = []
    pattern = re.compile(r"(patient\d+_(?:2CH|4CH)_(?:ED|ES))\.(nii\.gz|nii|mhd)$", re.IGNORECASE)
    for image in sorted(folder.rglob("*")):
        match = pattern.search(image.name)
        if match:
            mask = image.with_name(f"{match.group(1)}_gt.{match.group(2)}")
            if mask.is_file():
                pairs.append((match.group(1), image, mask))
    return pairs


def load_folder(folder: str | Path) -> list[Sample]:
    """Every labelled frame of a training folder, apex up, at its stored size."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: training folder not found")
    pairs = find_pairs(folder)
    if not pairs:
        raise DatasetError(f"{folder}: no labelled frames (expected images/*.png + masks/*.png, "
                           "or CAMUS patientXXXX_4CH_ED.nii.gz/.mhd with _gt files)")
    samples = []
    for name, image_path, mask_path in pairs:
        image, mask = to_uint8(_read_any(image_path)), _read_any(mask_path).astype(np.uint8)
        if image.shape != mask.shape:
            raise DatasetError(f"{image_path}: image {image.shape} and labels {mask.shape} differ in size")
        if mask.max() > LA:
            raise DatasetError(f"{mask_path}: label {mask.max()} found, expected 0 bg, 1 LV, 2 MYO, 3 LA")
        image, mask = orient_apex_up(image, mask, name)
        samples.append(Sample(name, patient_of(name), image, mask))
    log.info("%s: %d frames from %d patients", folder, len(samples), len({s.patient for s in samples}))
    return samples


def split_by_patient(samples: list[Sample], val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Train/validation split with every patient's frames on one side only (seeded)."""
    rest, val = split_patients({s.patient for s in samples}, (val_fraction,), seed) if val_fraction > 0 \
        else ({s.patient for s in samples}, set())
    return [s for s in samples if s.patient in rest], [s for s in samples if s.patient in val]
