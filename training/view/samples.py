"""Training samples for the view classifier, each as the app would show it to the network.

Every sample is a screen passed through the app's own framing (`echoquality.core.framing`) and
shrunk to the classifier's input; each carries a group (patient or file) for grouped validation.

- a2c / a4c: CAMUS frames re-imaged as other scanners and settings would show them
  (`training.segmentation.augment`: any fan, depth, zoom, overlays, grey levels, mirroring).
- other, real: the parasternal B-mode sectors and the whole screens of the shared non-apical
  iE33 DICOMs (M-mode, spectral Doppler), with small zooms, shifts and grey-level changes.
- other, built from apical frames (honest stand-ins, not views the data hold): the heart turned
  55–110° within the fan (long axis across the fan, as in subcostal or parasternal views), and
  fans zoomed so far in that no whole LV is in view.
- other, synthetic: M-mode and spectral-Doppler screens, blank and noise screens, menus (text only).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from echoquality.core.fan import find_fan
from echoquality.core.framing import network_view
from echoquality.core.gate import MIN_FILL, MIN_SECTOR_ANGLE_DEG
from echoquality.core.view import VIEW_CLASSES, view_input
from training.segmentation.augment import AugmentConfig, Source, augment, grey_levels, reimage, source_of
from training.segmentation.dataset import Sample

log = logging.getLogger(__name__)

A2C, A4C, OTHER = (VIEW_CLASSES.index(c) for c in ("a2c", "a4c", "other"))
# Scanner variation for the apical samples: the segmentation's, without its wall dropout and apical haze
# (added for segmentation after this classifier was trained; they draw no random numbers when off).
VIEW_AUGMENT = AugmentConfig(p_wall_fade=0.0, p_apex_haze=0.0)

# The non-apical DICOMs' 2-D sectors, as read by eye (docs/view_negatives.png): parasternal views are
# negatives; the apical ones (an A4C and an apical five-chamber view beside Doppler strips) are not used.
PARASTERNAL = ("1E5H70ZT", "1E5H70ZX", "1E5H7114", "1E5H713F", "BOF8PYTI", "BOF8PYTL", "BOF8PYV9")
APICAL_THUMBNAILS = {"BOF8PYVJ": "a4c", "BOF8PYWK": "a4c", "1E5H714C": "a5c"}


@dataclass
class Bank:
    """Samples at the classifier's input size with labels, groups and what kind of sample each is."""
    images: np.ndarray     # (N, S, S) uint8
    labels: np.ndarray     # (N,) int64 index into VIEW_CLASSES
    groups: list[str]      # patient or file each sample came from ("synthetic:<i>" for made-up ones)
    kinds: list[str]       # e.g. "camus", "turned", "zoomed", "parasternal", "screen", "strip", "blank", "menu"

    def __len__(self) -> int:
        return len(self.labels)


def _as_input(image256: np.ndarray) -> np.ndarray:
    return np.clip(view_input(np.clip(image256, 0, 255).astype(np.uint8)) + 0.5, 0, 255).astype(np.uint8)


def _framed(screen: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig, levels: bool = True) -> np.ndarray:
    """A screen as the classifier sees it (grey-level changes inside the fan when `levels`)."""
    view = network_view(screen)
    image = grey_levels(view.image, view.sector, rng, cfg) if levels and view.sector.any() else view.image
    return _as_input(image)


def view_of(name: str) -> int:
    """A2C or A4C from a CAMUS name (…_2CH_… / …_4CH_…)."""
    if "_2CH" in name.upper():
        return A2C
    if "_4CH" in name.upper():
        return A4C
    raise ValueError(f"{name}: no 2CH/4CH in the name")


def turned(sample: Sample, rng: np.random.Generator) -> Source:
    """The frame with its heart turned 55–110° (either way) about the heart's centre; the fan stays."""
    src = source_of(sample.image, sample.mask)
    ys, xs = np.nonzero(sample.mask > 0)
    centre = (float(xs.mean()), float(ys.mean())) if ys.size else (sample.image.shape[1] / 2, sample.image.shape[0] / 2)
    angle = float(rng.uniform(55, 110) * rng.choice([-1, 1]))
    matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
    shape = (sample.image.shape[1], sample.image.shape[0])
    image = cv2.warpAffine(sample.image, matrix, shape, flags=cv2.INTER_LINEAR, borderValue=0)
    labels = cv2.warpAffine(sample.mask, matrix, shape, flags=cv2.INTER_NEAREST, borderValue=0)
    return Source(image, labels, src.apex, src.depth)


def camus_samples(samples: list[Sample], per_frame: int, turned_per_frame: int, zoomed_per_frame: int,
                  rng: np.random.Generator, native_share: float = 0.0, edge_cut: float = 0.0) -> Bank:
    """Re-imaged CAMUS frames (a2c/a4c; `native_share` of them as stored, grey levels varied; `edge_cut` of the
    re-imaged ones exported as the sector alone, cut by the image's edges), turned hearts and zoomed-in fans
    (other), grouped by patient."""
    images, labels, groups, kinds = [], [], [], []
    augment_cfg = replace(VIEW_AUGMENT, p_edge_cut=edge_cut)
    zoom_cfg = replace(augment_cfg, zoom=(2.6, 5.0))
    view_cfg = replace(augment_cfg, p_native=native_share)
    for k, sample in enumerate(samples):
        src = source_of(sample.image, sample.mask)
        for _ in range(per_frame):
            image, _ = augment(src, rng, view_cfg)
            images.append(_as_input(image)); labels.append(view_of(sample.name))
            groups.append(sample.patient); kinds.append("camus")
        for _ in range(turned_per_frame):
            image, _ = augment(turned(sample, rng), rng, augment_cfg)
            images.append(_as_input(image)); labels.append(OTHER); groups.append(sample.patient); kinds.append("turned")
        for _ in range(zoomed_per_frame):
            image, _ = augment(src, rng, zoom_cfg)
            images.append(_as_input(image)); labels.append(OTHER); groups.append(sample.patient); kinds.append("zoomed")
        if (k + 1) % 25 == 0:
            log.info("CAMUS samples: %d/%d frames", k + 1, len(samples))
    return Bank(np.stack(images), np.array(labels, np.int64), groups, kinds)


def read_dicom_screen(path: Path) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """(grey screen, (y0, x0, y1, x1) of its 2-D region or None) of a DICOM."""
    import warnings

    import pydicom

    from echoquality.core.fan import grayscale

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(str(path))
        pixels = ds.pixel_array
    box = None
    for region in getattr(ds, "SequenceOfUltrasoundRegions", None) or []:
        if int(region.RegionSpatialFormat) == 1:
            box = (int(region.RegionLocationMinY0), int(region.RegionLocationMinX0),
                   int(region.RegionLocationMaxY1) + 1, int(region.RegionLocationMaxX1) + 1)
    return grayscale(pixels), box


def jitter_screen(screen: np.ndarray, rng: np.random.Generator, zoom: tuple[float, float]) -> np.ndarray:
    """The screen zoomed, shifted, slightly turned and maybe mirrored, on a black canvas of its size."""
    h, w = screen.shape
    if rng.random() < 0.5:
        screen = screen[:, ::-1]
    scale = float(rng.uniform(*zoom))
    angle = float(rng.uniform(-8, 8))
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += rng.uniform(-0.06, 0.06, 2) * (w, h)
    out = cv2.warpAffine(np.ascontiguousarray(screen), matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    if rng.random() < 0.4:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


def sector_of(screen: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 2-D region of a DICOM screen (`read_dicom_screen`'s box), the ECG trace along its bottom edge blacked out."""
    y0, x0, y1, x1 = box
    sector = screen[y0:y1, x0:x1].copy()
    sector[int(0.92 * (y1 - y0)):] = 0
    return sector


def dicom_samples(folder: Path, per_sector: int, per_screen: int, rng: np.random.Generator) -> Bank:
    """The parasternal sectors and the whole screens of the non-apical DICOMs (other), grouped by file."""
    images, groups, kinds = [], [], []
    cfg = AugmentConfig()
    for path in sorted(folder.glob("*.dcm")):
        screen, box = read_dicom_screen(path)
        if path.stem in PARASTERNAL and box is not None:
            sector = sector_of(screen, box)
            for _ in range(per_sector):
                images.append(_framed(jitter_screen(sector, rng, (0.8, 1.3)), rng, cfg))
                groups.append(path.stem); kinds.append("parasternal")
        if path.stem in APICAL_THUMBNAILS:   # the framing may land on the apical sector: not a negative
            continue
        for _ in range(per_screen):
            images.append(_framed(jitter_screen(screen, rng, (0.9, 1.15)), rng, cfg, levels=False))
            groups.append(path.stem); kinds.append("screen")
    labels = np.full(len(images), OTHER, np.int64)
    return Bank(np.stack(images), labels, groups, kinds)


def _m_mode_strip(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Horizontal tissue bands that move with a heart-beat-like period, with speckle."""
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None]
    period = rng.uniform(60, 200)
    strip = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(3, 8))):
        centre = rng.uniform(0.05, 0.95) * h
        amp = rng.uniform(0, 0.08) * h
        width = rng.uniform(2, 0.06 * h)
        moved = centre + amp * np.sin(2 * math.pi * x / period + rng.uniform(0, 6.3))
        strip += rng.uniform(80, 250) * np.exp(-((y - moved) / width) ** 2)
    strip += rng.uniform(10, 60)
    strip *= np.clip(1 + 0.4 * rng.standard_normal((h, w)).astype(np.float32), 0, None)
    return cv2.GaussianBlur(strip, (0, 0), 1.0)


def _spectral_strip(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Dark background, a baseline and bright velocity envelopes (spikes) once per beat."""
    strip = np.abs(rng.normal(0, rng.uniform(2, 25), (h, w))).astype(np.float32)
    base = int(rng.uniform(0.1, 0.9) * h)
    period = rng.uniform(60, 200)
    x = np.arange(w)
    envelope = np.clip(np.sin(2 * math.pi * x / period + rng.uniform(0, 6.3)), 0, None) ** rng.uniform(1, 4)
    height = envelope * rng.uniform(0.2, 0.8) * (h - base if rng.random() < 0.5 else base)
    direction = 1 if rng.random() < 0.5 else -1
    y = np.arange(h)[:, None]
    inside = (direction * (y - base) >= 0) & (np.abs(y - base) <= height[None])
    strip[inside] += rng.uniform(60, 200) * rng.random(int(inside.sum())).astype(np.float32) ** 0.5
    strip[max(0, base - 1):base + 1] = 200
    return strip


def strip_screen(rng: np.random.Generator, spectral: bool, thumbnail: np.ndarray | None) -> np.ndarray:
    """A synthetic M-mode or spectral-Doppler screen: a small sector above a wide strip, text around."""
    h = int(rng.integers(300, 800))
    w = int(h * rng.uniform(1.2, 1.5))
    screen = np.zeros((h, w), np.float32)
    top = int(rng.uniform(0.3, 0.5) * h)
    y1 = int(rng.uniform(0.9, 0.98) * h)
    x0, x1 = int(rng.uniform(0.02, 0.08) * w), int(rng.uniform(0.85, 0.95) * w)
    screen[top:y1, x0:x1] = (_spectral_strip if spectral else _m_mode_strip)(y1 - top, x1 - x0, rng)
    if thumbnail is not None:
        th = top - 10
        tw = int(th * thumbnail.shape[1] / thumbnail.shape[0])
        small = cv2.resize(thumbnail, (tw, th), interpolation=cv2.INTER_AREA)
        xs = int(rng.uniform(0.2, 0.5) * w)
        screen[5:5 + th, xs:xs + tw] = small[:, : max(0, min(tw, w - xs))]
    screen = np.clip(screen, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 8))):
        cv2.putText(screen, "".join(rng.choice(list("ABCDEFGHKLMNPRSTUV0123456789 .:/-"), int(rng.integers(3, 12)))),
                    (int(rng.integers(0, w - 60)), int(rng.integers(12, h))), cv2.FONT_HERSHEY_SIMPLEX,
                    float(rng.uniform(0.3, 0.7)), int(rng.integers(120, 256)), 1)
    return screen


def menu_screen(rng: np.random.Generator) -> np.ndarray:
    """A screen of text and boxes only (a frozen menu)."""
    h = int(rng.integers(300, 800))
    w = int(h * rng.uniform(1.0, 1.6))
    screen = np.full((h, w), int(rng.integers(0, 40)), np.uint8)
    for _ in range(int(rng.integers(0, 6))):
        p = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        q = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.rectangle(screen, p, q, int(rng.integers(40, 200)), int(rng.choice([-1, 1, 2])))
    for _ in range(int(rng.integers(5, 30))):
        cv2.putText(screen, "".join(rng.choice(list("ABCDEFGHKLMNPRSTUV0123456789 .:/-"), int(rng.integers(3, 16)))),
                    (int(rng.integers(0, w - 60)), int(rng.integers(12, h))), cv2.FONT_HERSHEY_SIMPLEX,
                    float(rng.uniform(0.4, 1.0)), int(rng.integers(120, 256)), int(rng.integers(1, 3)))
    return screen


def noise_screen(rng: np.random.Generator) -> np.ndarray:
    """A blank, nearly blank or speckle-only screen, sometimes within a sector outline."""
    h = int(rng.integers(300, 800))
    w = int(h * rng.uniform(1.0, 1.6))
    level = rng.uniform(0, 80) if rng.random() < 0.7 else rng.uniform(0, 6)
    field = rng.standard_normal((h // 4 + 1, w // 4 + 1)).astype(np.float32)
    field = cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)
    screen = np.clip(level * (1 + 0.6 * field), 0, 255)
    if rng.random() < 0.6:
        from training.segmentation.augment import sector_outline
        from echoquality.core.fan import polygon_mask
        fan = polygon_mask(sector_outline((0.0, w / 2), rng.uniform(60, 100), 0.95 * h), (h, w))
        screen = screen * fan
    return screen.astype(np.uint8)


def synthetic_samples(n_strips: int, n_noise: int, n_menus: int, camus: list[Sample],
                      rng: np.random.Generator) -> Bank:
    """Synthetic strip, blank/noise and menu screens (other); each its own group."""
    images, kinds = [], []
    cfg = AugmentConfig()
    sources = [source_of(s.image, s.mask) for s in camus[:: max(1, len(camus) // 20)]]
    made = 0
    while made < n_strips:
        thumb = reimage(sources[made % len(sources)], rng, cfg)[0] if rng.random() < 0.8 else None
        screen = strip_screen(rng, bool(made % 2), thumb)
        fan = find_fan(screen)
        if fan.found and fan.angle_deg >= MIN_SECTOR_ANGLE_DEG and fan.fill >= MIN_FILL:
            continue   # the framing would land on the apical sector, not on the strip: not a negative
        images.append(_framed(screen, rng, cfg, levels=False)); kinds.append("strip")
        made += 1
    for _ in range(n_noise):
        images.append(_framed(noise_screen(rng), rng, cfg, levels=False)); kinds.append("blank")
    for _ in range(n_menus):
        images.append(_framed(menu_screen(rng), rng, cfg, levels=False)); kinds.append("menu")
    groups = [f"synthetic:{i}" for i in range(len(images))]
    return Bank(np.stack(images), np.full(len(images), OTHER, np.int64), groups, kinds)


def concatenate(banks: list[Bank]) -> Bank:
    return Bank(np.concatenate([b.images for b in banks]), np.concatenate([b.labels for b in banks]),
                [g for b in banks for g in b.groups], [k for b in banks for k in b.kinds])
