"""Clean frames for the quality generator: CAMUS-style folders (images/ + masks/), split by patient.

Base quality of the clean frames (unknown: no expert labels) is estimated from a physical proxy, the
region's gCNR against the LV lumen: each region gets 3.0 + 1.75 x (rank of its gCNR among the same region
of all frames, 0..1), i.e. the clean frames are taken as 'ok' to 'excellent', ordered by tissue/blood
separability. Degradations are subtracted from this base (degrade.py).
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import cv2
import numpy as np

from echoquality.core.framing import network_view
from echoquality.core.vocabulary import default_spacing

from .degrade import FrameGeometry, prepare_frame
from .labels import read_labels

log = logging.getLogger(__name__)

BASE_LOW, BASE_SPAN = 3.0, 1.75


class DatasetError(Exception):
    """A data folder that cannot be used."""


def patient_of(name: str) -> str:
    match = re.search(r"patient\d+", name, re.IGNORECASE)
    return match.group(0).lower() if match else name


def load_frames(folder: str | Path, limit: int = 0) -> list[FrameGeometry]:
    """FrameGeometry of every image/mask pair in folder (frames without regions are skipped); the first
    `limit` pairs only when limit > 0."""
    folder = Path(folder)
    images, masks = folder / "images", folder / "masks"
    if not images.is_dir() or not masks.is_dir():
        raise DatasetError(f"{folder}: expected images/ and masks/ subfolders")
    frames = []
    for path in sorted(images.glob("*.png"))[:limit or None]:
        mask_path = masks / path.name
        if not mask_path.is_file():
            log.warning("%s: no mask, skipped", path)
            continue
        image, labels = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if image is None or labels is None:
            raise DatasetError(f"{path}: cannot read image or mask")
        view = "a2c" if "2CH" in path.stem.upper() else "a4c"
        view_image, view_labels, sector, spacing = network_frame(image, labels)
        g = prepare_frame(path.stem, view_image, view_labels, view, sector=sector, spacing=spacing)
        if g is None:
            log.warning("%s: no regions found, skipped", path)
            continue
        frames.append(g)
    if not frames:
        raise DatasetError(f"{folder}: no usable frames")
    assign_base_quality(frames)
    return frames


def network_frame(image: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                  tuple[float, float]]:
    """(network image, label map, fan mask, mm per network pixel): a stored frame and its labels through the
    app's canonical framing (`echoquality.core.framing.network_view`; unknown spacing as the app assumes it)."""
    view = network_view(image, default_spacing(image.shape[0]))
    mask = view.framing.to_network(labels, nearest=True) * view.sector
    return view.image, mask.astype(np.uint8), view.sector, view.framing.network_spacing


def load_labelled(folder: str | Path, limit: int = 0) -> tuple[list[FrameGeometry], list[str]]:
    """(frames, expert labels 'Good' | 'Medium' | 'Poor') of the frames listed in folder/image_quality.csv."""
    expert = read_labels(folder)
    frames = [g for g in load_frames(folder, limit) if g.name in expert]
    if not frames:
        raise DatasetError(f"{folder}: no frame has an expert label")
    return frames, [expert[g.name] for g in frames]


def assign_base_quality(frames: list[FrameGeometry]) -> None:
    """Base quality per region from the rank of its gCNR among all frames (3.0 .. 4.75)."""
    gcnr = np.stack([g.gcnr for g in frames])                   # (F, 8), NaN where invalid
    for k in range(gcnr.shape[1]):
        col = gcnr[:, k]
        ok = np.isfinite(col)
        rank = np.full(col.shape, 0.5)
        if ok.sum() > 1:
            order = col[ok].argsort().argsort()
            rank[ok] = order / (ok.sum() - 1)
        for g, r in zip(frames, rank):
            g.base_quality[k] = BASE_LOW + BASE_SPAN * r


def split_by_patient(frames: list[FrameGeometry], fractions: tuple[float, float], seed: int
                     ) -> tuple[list[FrameGeometry], list[FrameGeometry], list[FrameGeometry]]:
    """(train, validation, test) frames; validation/test take the given fractions of the patients."""
    patients = sorted({patient_of(g.name) for g in frames})
    order = np.random.default_rng(seed).permutation(len(patients))
    n_val, n_test = (max(1, round(f * len(patients))) for f in fractions)
    val = {patients[i] for i in order[:n_val]}
    test = {patients[i] for i in order[n_val:n_val + n_test]}
    pick = lambda s: [g for g in frames if patient_of(g.name) in s]  # noqa: E731
    return [g for g in frames if patient_of(g.name) not in val | test], pick(val), pick(test)
