"""Regional degradation generator: physically plausible, controlled loss of image quality per region.

A clean frame (network size, 256x256) with its eight regions (echoquality.core.regions) is degraded with a random
set of operations, each confined by a soft weight map W (0..1) and given a severity in quality categories:

- shadow: attenuation along the scan lines of a wedge from the transducer (rib shadow) or from just above
  a region (dropout), down to a noise floor; severity = attenuation_dB / 8 (32 dB: not visible).
- clutter: near-field clutter / haze: additive speckle-textured echoes filling the blood pool, elongated
  laterally; severity = 3.5 x clutter level relative to the tissue level.
- contrast: tissue brightness pulled towards the blood level (tissue/blood contrast reduced); severity = 4 k.
- blur: lateral blur across the beam (line kernel perpendicular to the scan line); at most 1.5 categories.
- noise: additive speckle-like noise; at most 1.5 categories.

Where they happen in real apical views (`degrade` picks these placements):
- wall dropout: a wall that runs along the beam (mostly the lateral and septal mid/basal walls) reflects
  little back; its echo sinks into the noise floor (shadow operation confined to the wall, regions chosen
  by how closely their wall follows the scan lines);
- far-field attenuation: signal lost with depth down to a fixed noise floor (basal regions, annulus);
- near-field clutter and reverberation at the apex: clutter in bands at multiples of a reverberation depth;
- rib and lung shadows: wedges along scan lines from the transducer, often at the sector's edge;
- gain and time-gain compensation (TGC) changes scale signal and noise alike: they never change a label
  (`invariance_augment`, with a smooth gain curve over depth).

A region's label is its base quality minus the severities weighted by the mean of W over the region's pixels,
clipped to 1..5. Changes of overall gain, gamma and dynamic range (`invariance_augment`) never change labels;
mirroring swaps left and right labels (`MIRROR_ORDER`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from echoquality.core.pixel_metrics import regional_metrics
from echoquality.core.regions import Regions, divide_myocardium
from echoquality.core.sector import sector_mask
from echoquality.core.vocabulary import LV, MYO, N_REGIONS

SIZE = 256
# Output index after a horizontal mirror: image left and right swap (canonical order of REGION_NAMES).
MIRROR_ORDER = np.array([5, 4, 3, 2, 1, 0, 7, 6])
OPERATIONS = ("shadow", "dropout", "clutter", "contrast", "blur", "noise")
# Placements of the regional operations in `degrade` and their probabilities.
PLACEMENTS = ("dropout", "shadow", "attenuation", "apex_clutter", "clutter", "contrast", "blur", "noise")
PLACEMENT_P = (0.22, 0.16, 0.1, 0.12, 0.12, 0.12, 0.08, 0.08)
SHADOW_DB_PER_CATEGORY = 8.0
MAX_SEVERITY = {"shadow": 4.0, "dropout": 4.0, "clutter": 4.0, "contrast": 3.4, "blur": 1.5, "noise": 1.5}


@dataclass
class FrameGeometry:
    """A clean frame at network size with what the generator needs about it."""
    name: str
    image: np.ndarray          # (256, 256) uint8
    region_map: np.ndarray     # (256, 256) uint8, 0 none, 1..8
    valid: np.ndarray          # (8,) bool
    sector: np.ndarray         # (256, 256) bool
    theta: np.ndarray          # (256, 256) float32 beam angle of each pixel from the transducer (rad, 0 = down)
    radius: np.ndarray         # (256, 256) float32 distance from the transducer (pixels)
    region_theta: np.ndarray   # (8, 2) angle range of each region
    region_radius: np.ndarray  # (8, 2) depth range of each region
    tissue_level: float        # median grey level of the MYO
    blood_level: float         # median grey level of the LV lumen
    base_quality: np.ndarray   # (8,) estimated quality of the clean frame (1..5)
    gcnr: np.ndarray           # (8,) gCNR of each region against the LV lumen on the clean frame (proxy)
    metrics: dict | None = None  # the pixel metrics of the clean frame (echoquality.core.pixel_metrics.regional_metrics)


def transducer_position(sector: np.ndarray) -> tuple[float, float]:
    """(y, x) of the fan's apex: intersection of lines fitted to the sector's left and right edges."""
    rows = np.flatnonzero(sector.any(axis=1))
    if rows.size < 10:
        return (0.0, sector.shape[1] / 2)
    top = rows[0]
    ys = rows[(rows > top + 3) & (rows < top + 0.5 * (rows[-1] - top))]
    if ys.size >= 5:
        left = np.array([np.argmax(sector[y]) for y in ys], np.float64)
        right = np.array([sector.shape[1] - 1 - np.argmax(sector[y, ::-1]) for y in ys], np.float64)
        al, bl = np.polyfit(ys, left, 1)
        ar, br = np.polyfit(ys, right, 1)
        if abs(al - ar) > 0.2:
            y0 = (br - bl) / (al - ar)
            if -SIZE < y0 <= top + 2:
                return (float(y0), float(al * y0 + bl))
    xs = np.flatnonzero(sector[top])
    return (float(top), float(xs.mean()))


def prepare_frame(name: str, image: np.ndarray, labels: np.ndarray, view: str = "a4c",
                  base_quality: np.ndarray | None = None, sector: np.ndarray | None = None,
                  spacing: tuple[float, float] | None = None) -> FrameGeometry | None:
    """FrameGeometry of a clean frame and its label map (any size; resized to 256); None without regions.
    `sector` and `spacing` (mm per pixel at 256) as the app's framing gives them (None: found / assumed)."""
    img = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA) if image.shape != (SIZE, SIZE) else image
    lab = cv2.resize(labels, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST) if labels.shape != (SIZE, SIZE) else labels
    sector = sector_mask(img) if sector is None else sector.astype(bool)
    regions: Regions = divide_myocardium(lab, spacing, sector, view)
    if not regions.valid.any():
        return None
    ay, ax = transducer_position(sector)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    theta = np.arctan2(xx - ax, yy - ay).astype(np.float32)
    radius = np.hypot(xx - ax, yy - ay).astype(np.float32)
    rt, rr = np.full((N_REGIONS, 2), np.nan), np.full((N_REGIONS, 2), np.nan)
    for k in range(N_REGIONS):
        m = regions.region_map == k + 1
        if m.any():
            rt[k] = theta[m].min(), theta[m].max()
            rr[k] = radius[m].min(), radius[m].max()
    myo, lumen = lab == MYO, regions.lv_lumen if regions.lv_lumen.any() else lab == LV
    tissue = float(np.median(img[myo])) if myo.any() else 100.0
    blood = float(np.median(img[lumen])) if lumen.any() else 10.0
    q = np.full(N_REGIONS, 4.0) if base_quality is None else np.asarray(base_quality, np.float64)
    metrics = regional_metrics(img, regions, sector)
    return FrameGeometry(name, img, regions.region_map, regions.valid.copy(), sector, theta, radius, rt, rr,
                         max(tissue, blood + 5.0), blood, q, metrics["gcnr"], metrics)


def _ramp(x: np.ndarray, soft: float) -> np.ndarray:
    """Soft step 0..1 of x (> 0 inside), width `soft`."""
    return np.clip(x / max(soft, 1e-3) + 0.5, 0.0, 1.0)


def speckle_texture(rng: np.random.Generator, lateral: float = 2.5) -> np.ndarray:
    """Speckle-like texture (256, 256) float32 with mean 1, grains elongated laterally."""
    z = rng.standard_normal((2, SIZE, SIZE)).astype(np.float32)
    k = (int(2 * round(lateral * 1.5) + 1), 3)
    z = np.stack([cv2.GaussianBlur(c, k, sigmaX=lateral, sigmaY=0.7) for c in z])
    env = np.hypot(z[0], z[1])
    return env / max(float(env.mean()), 1e-6)


def wedge(g: FrameGeometry, region: int, rng: np.random.Generator, from_transducer: bool) -> np.ndarray:
    """Weight map of scan lines through a region: from the transducer (shadow) or around the region (dropout)."""
    t0, t1 = g.region_theta[region]
    r0, r1 = g.region_radius[region]
    centre = (t0 + t1) / 2 + rng.normal(0, 0.25) * (t1 - t0)
    half = max((t1 - t0) / 2 * rng.uniform(0.6, 1.6), 0.03)
    soft = half * rng.uniform(0.2, 0.8)
    w = _ramp(half - np.abs(g.theta - centre), soft)
    if from_transducer:
        start = rng.uniform(0, r0)
        w = w * _ramp(g.radius - start, rng.uniform(5, 20))
    else:
        margin = rng.uniform(0, 15)
        w = w * _ramp(g.radius - (r0 - margin), 8) * _ramp((r1 + margin) - g.radius, 8)
    return w.astype(np.float32)


def blob(g: FrameGeometry, region: int, rng: np.random.Generator) -> np.ndarray:
    """Weight map around a region: 1 on it, fading over a random 10-40 px."""
    m = (g.region_map != region + 1).astype(np.uint8)
    dist = cv2.distanceTransform(m, cv2.DIST_L2, 3)
    reach = rng.uniform(10, 40)
    return np.clip(1 - dist / reach, 0, 1).astype(np.float32) ** rng.uniform(0.5, 1.5)


def near_field(g: FrameGeometry, rng: np.random.Generator) -> np.ndarray:
    """Weight map of near-field clutter: strong at the transducer, fading with depth."""
    depth = rng.uniform(40, 130)
    return np.clip(1 - g.radius / depth, 0, 1).astype(np.float32) ** rng.uniform(0.5, 1.5)


def global_field(g: FrameGeometry, rng: np.random.Generator) -> np.ndarray:
    """Weight map over the whole sector, smoothly uneven (0.5..1)."""
    field = cv2.resize(rng.uniform(0.5, 1.0, (4, 4)).astype(np.float32), (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
    return np.clip(field, 0, 1)


def wall_along_beam(g: FrameGeometry) -> np.ndarray:
    """(8,) how closely each myocardial region's wall follows the scan lines: cos^4 of the angle between the
    region's long axis (principal axis of its pixels) and the beam through its centre; 0 for the annulus discs
    and invalid regions (the weight for choosing wall dropout)."""
    out = np.zeros(N_REGIONS)
    for k in range(6):
        ys, xs = np.nonzero(g.region_map == k + 1)
        if not g.valid[k] or ys.size < 5:
            continue
        cov = np.cov(np.stack([xs, ys]).astype(np.float64))
        axis = np.linalg.eigh(cov)[1][:, -1]                          # (x, y) long axis
        cy, cx = int(round(ys.mean())), int(round(xs.mean()))
        t = float(g.theta[cy, cx])
        beam = np.array([math.sin(t), math.cos(t)])                   # (x, y), theta 0 = straight down
        out[k] = float(abs(axis @ beam)) ** 4
    return out


def wall_band(g: FrameGeometry, regions: list[int], rng: np.random.Generator) -> np.ndarray:
    """Weight map of a wall's echo: the given regions and a few pixels around them (not the whole wedge)."""
    m = np.isin(g.region_map, np.asarray(regions) + 1)
    dist = cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, 3)
    reach = rng.uniform(3, 10)
    return np.clip(1 - dist / reach, 0, 1).astype(np.float32)


def depth_ramp(g: FrameGeometry, rng: np.random.Generator) -> np.ndarray:
    """Weight map of far-field attenuation: 0 above a random depth, rising linearly to 1 at the fan's bottom."""
    depth = float(g.radius[g.sector].max()) if g.sector.any() else float(SIZE)
    start = rng.uniform(0.25, 0.65) * depth
    return np.clip((g.radius - start) / max(depth - start, 1.0), 0, 1).astype(np.float32)


def reverberation(g: FrameGeometry, rng: np.random.Generator) -> np.ndarray:
    """Weight map of apical reverberation: bands at multiples of a random depth, fading with depth."""
    d = rng.uniform(12, 30)
    reach = rng.uniform(50, 120)
    bands = 0.5 + 0.5 * np.cos(2 * np.pi * g.radius / d) ** 2
    return (bands * np.clip(1 - g.radius / reach, 0, 1) ** rng.uniform(0.5, 1.2)).astype(np.float32)


def edge_wedge(g: FrameGeometry, rng: np.random.Generator) -> np.ndarray:
    """Weight map of a lung or rib shadow at one edge of the sector, along its scan lines."""
    inside = g.theta[g.sector]
    lo, hi = (float(inside.min()), float(inside.max())) if inside.size else (-0.6, 0.6)
    width = rng.uniform(0.1, 0.35) * (hi - lo)
    soft = rng.uniform(0.02, 0.08)
    w = _ramp((lo + width) - g.theta, soft) if rng.random() < 0.5 else _ramp(g.theta - (hi - width), soft)
    return (w * _ramp(g.radius - rng.uniform(0, 60), 15)).astype(np.float32)


def apply_operation(img: np.ndarray, op: str, w: np.ndarray, amount: float, g: FrameGeometry,
                    rng: np.random.Generator, beam_angle: float = 0.0) -> tuple[np.ndarray, float]:
    """(degraded float image, severity in categories) of one operation of strength amount (0..1)."""
    ww = w * g.sector
    if op == "shadow":
        db = 32.0 * amount
        factor = 10 ** (-db * ww / 20)
        floor = rng.uniform(1, 8) * speckle_texture(rng, 1.5)
        out = img * factor + floor * ww * (1 - factor)
        return out, db / SHADOW_DB_PER_CATEGORY
    if op == "dropout":
        db = 32.0 * amount
        factor = 10 ** (-db * ww / 20)
        floor = g.blood_level * (0.6 + 0.4 * speckle_texture(rng, 2.0))   # the wall sinks to the blood pool's level
        out = img * factor + floor * (1 - factor)
        return out, db / SHADOW_DB_PER_CATEGORY
    if op == "clutter":
        level = 1.15 * amount
        tex = speckle_texture(rng, rng.uniform(2, 5))
        room = np.clip(1 - img / (1.5 * g.tissue_level), 0, 1)          # haze fills the dark blood pool
        return img + level * g.tissue_level * tex * ww * room, min(4.0, 3.5 * level)
    if op == "contrast":
        k = 0.85 * amount
        base = g.blood_level
        return np.where(img > base, base + (img - base) * (1 - k * ww), img), 4.0 * k
    if op == "blur":
        length = 1 + 14 * amount
        kernel = np.zeros((31, 31), np.float32)
        c, d = 15, np.array([math.cos(beam_angle), -math.sin(beam_angle)])   # across the beam (x, y)
        for t in np.linspace(-length / 2, length / 2, int(2 * length) + 1):
            weight = math.exp(-0.5 * (t / (length / 4)) ** 2)
            x, y = int(round(c + t * d[0])), int(round(c + t * d[1]))
            kernel[y, x] += weight
        blurred = cv2.filter2D(img, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
        return img * (1 - ww) + blurred * ww, MAX_SEVERITY["blur"] * amount
    if op == "noise":
        sigma = 0.5 * amount
        tex = speckle_texture(rng, 1.5)
        return np.maximum(img + sigma * g.tissue_level * (tex - 1) * ww, 0), MAX_SEVERITY["noise"] * amount
    raise ValueError(f"unknown degradation {op!r}")


def region_means(g: FrameGeometry, w: np.ndarray) -> np.ndarray:
    """Mean weight over each region's pixels (8,), 0 for empty regions."""
    counts = np.bincount(g.region_map.ravel(), minlength=N_REGIONS + 1)[1:]
    sums = np.bincount(g.region_map.ravel(), weights=(w * g.sector).ravel(), minlength=N_REGIONS + 1)[1:]
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)


def degrade(g: FrameGeometry, rng: np.random.Generator, p_clean: float = 0.12,
            p_global: float = 0.25) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(degraded uint8 image, labels (8,) float 1..5, description) of one random degradation of a frame."""
    img, drop, what = degrade_with_drop(g, rng, p_clean, p_global)
    return img, np.clip(g.base_quality - drop, 1.0, 5.0).astype(np.float32), what


def degrade_with_drop(g: FrameGeometry, rng: np.random.Generator, p_clean: float = 0.12,
                      p_global: float = 0.25) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(degraded uint8 image, quality lost by each region (8,) in categories, description)."""
    img = g.image.astype(np.float32)
    drop = np.zeros(N_REGIONS)
    what: list[str] = []
    valid_idx = np.flatnonzero(g.valid)
    if rng.random() >= p_clean:
        n_ops = int(rng.choice([1, 1, 2, 2, 3]))
        along = wall_along_beam(g)
        for _ in range(n_ops):
            region = int(rng.choice(valid_idx))
            place = str(rng.choice(PLACEMENTS, p=PLACEMENT_P))
            op = {"attenuation": "shadow", "apex_clutter": "clutter"}.get(place, place)
            if place == "dropout" and along.sum() > 0:
                region = int(rng.choice(N_REGIONS, p=along / along.sum()))
                side = [0, 1, 2] if region < 3 else [3, 4, 5]
                near = [k for k in side if abs(k - region) <= 1 and g.valid[k] and rng.random() < 0.4]
                w = wall_band(g, sorted({region, *near}), rng)
            elif place == "dropout":
                w = wall_band(g, [region], rng)
            elif place == "shadow":
                w = edge_wedge(g, rng) if rng.random() < 0.35 else wedge(g, region, rng, rng.random() < 0.5)
            elif place == "attenuation":
                w = depth_ramp(g, rng)
            elif place == "apex_clutter":
                w = reverberation(g, rng) if rng.random() < 0.5 else near_field(g, rng)
            else:
                w = blob(g, region, rng)
            angle = float(np.nanmean(g.region_theta[region])) if np.isfinite(g.region_theta[region]).all() else 0.0
            img, severity = apply_operation(img, op, w, rng.uniform(0.1, 1.0) ** 0.8, g, rng, angle)
            drop += severity * region_means(g, w)
            what.append(f"{place}@{region}")
        if rng.random() < p_global:
            op = str(rng.choice(("clutter", "contrast", "noise", "blur")))
            w = global_field(g, rng)
            img, severity = apply_operation(img, op, w, rng.uniform(0.05, 0.6), g, rng, 0.0)
            drop += severity * region_means(g, w)
            what.append(f"{op}@all")
    return np.clip(img, 0, 255).astype(np.uint8), drop.astype(np.float32), what


def invariance_augment(image: np.ndarray, rng: np.random.Generator, radius: np.ndarray | None = None) -> np.ndarray:
    """Overall gain (x0.75..1.3), time-gain compensation (a smooth gain curve over depth, +-4 dB, when the
    radius map is given), gamma (0.7..1.4) and dynamic-range changes: signal and noise alike, so quality
    labels stay the same."""
    x = image.astype(np.float32) / 255.0
    if radius is not None and rng.random() < 0.6:
        knots = rng.uniform(-4, 4, 4)
        depth = np.linspace(0, float(radius.max()) + 1, 4)
        x = x * (10 ** (np.interp(radius, depth, knots) / 20)).astype(np.float32)
    if rng.random() < 0.5:
        x = np.clip(x, 0, 1) ** rng.uniform(0.7, 1.4)
    if rng.random() < 0.3:
        k = rng.uniform(1, 8)                           # log compression (dynamic range)
        x = np.clip(x, 0, 1)
        x = np.log1p(k * x) / math.log1p(k) if rng.random() < 0.5 else np.expm1(x * math.log1p(k)) / k
    if rng.random() < 0.8:
        x = x * rng.uniform(0.75, 1.3)
    return np.clip(x * 255.0, 0, 255).astype(np.uint8)


def geometric_augment(image: np.ndarray, labels: np.ndarray, valid: np.ndarray, rng: np.random.Generator,
                      p: float = 0.5, region_map: np.ndarray | None = None,
                      anisotropy: tuple[float, float] | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The paper's augmentations (each with probability p): rotation +-30 deg, mirroring (labels mirrored),
    gamma 0.9-1.1, scaling 0.85-1.15; with `anisotropy` (lo, hi) also, with probability p, a stretch of width
    against height by a factor drawn log-uniformly from it (exports resized without keeping the aspect; no
    random numbers drawn when None). (image, labels, valid, region map moved along or None)."""
    labels, valid = labels.copy(), valid.copy()
    if rng.random() < p:
        image = image[:, ::-1]
        labels, valid = labels[MIRROR_ORDER], valid[MIRROR_ORDER]
        if region_map is not None:
            region_map = np.concatenate(([0], MIRROR_ORDER + 1)).astype(np.uint8)[region_map[:, ::-1]]
    angle = rng.uniform(-30, 30) if rng.random() < p else 0.0
    scale = rng.uniform(0.85, 1.15) if rng.random() < p else 1.0
    stretch = 1.0
    if anisotropy is not None and rng.random() < p:
        stretch = math.exp(rng.uniform(math.log(anisotropy[0]), math.log(anisotropy[1])))
    if angle or scale != 1.0 or stretch != 1.0:
        m = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), angle, scale)
        if stretch != 1.0:      # width x sqrt(stretch), height / sqrt(stretch), about the image's centre
            squeeze = np.array([[math.sqrt(stretch), 0.0], [0.0, 1.0 / math.sqrt(stretch)]])
            m = np.hstack([squeeze @ m[:, :2], (squeeze @ (m[:, 2] - SIZE / 2) + SIZE / 2)[:, None]])
        image = cv2.warpAffine(np.ascontiguousarray(image), m, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                               borderValue=0)
        if region_map is not None:
            region_map = cv2.warpAffine(np.ascontiguousarray(region_map), m, (SIZE, SIZE),
                                        flags=cv2.INTER_NEAREST, borderValue=0)
    if rng.random() < p:
        image = (255.0 * (image.astype(np.float32) / 255.0) ** rng.uniform(0.9, 1.1)).astype(np.uint8)
    return (np.ascontiguousarray(image), labels, valid,
            None if region_map is None else np.ascontiguousarray(region_map))
