"""Classic pixel-based quality metrics per region (paper section 2.3.1), LV lumen as background.

Before measuring, the frame is histogram-matched to a Gaussian (mean 127, sd 32) over the
scanned sector (not the black surround, whose share varies with scanner and depth), so that gain
and gamma settings barely change the metrics. The paper's code matches the whole frame.

Per region (canonical order), with s = the region's pixels and b = the LV lumen's:
- intensity: mean(s)
- cr: contrast ratio mean(s) / mean(b); cr_db = 20 log10(cr)
- cnr: (mean(s) - mean(b)) / sqrt(var(s) + var(b))
- gcnr: 1 - OVL, OVL = sum_i min(p_s(i), p_b(i)), the overlap of the two normalised histograms
  (the standard definition of Rodriguez-Molares et al. 2019; 0 identical, 1 separable)
- pmax: 1 - OVL / 2, the quantity the paper's formula and the published arqee code compute and
  call gCNR (0.5 identical, 1 separable).

Bins (GCNR_BINS): 16 bins of 16 grey levels on the matched image. Unit bins (the paper's
sum over every grey level) make sparse histograms for small regions and bias gCNR upwards:
for two samples of the same Gaussian (sd 32) and a 4000-pixel lumen, unit bins give
gCNR 0.71 for a 40-pixel region (an annulus disc at 256x256) and 0.23 for 500 pixels; 16-level
bins give 0.18 and 0.06, while underestimating a true gCNR of 0.38 by at most 0.03 for 150+
pixels. Metrics are NaN for invalid regions, and all but intensity are NaN without a lumen.
"""
from __future__ import annotations

import json
import logging
from functools import lru_cache
from math import erf, sqrt
from pathlib import Path

import cv2
import numpy as np

from echoquality.core.regions import Regions
from echoquality.core.sector import sector_mask
from echoquality.core.vocabulary import N_REGIONS

log = logging.getLogger(__name__)

METRICS = ("gcnr", "cnr", "cr", "intensity", "pmax")
ALL_METRICS = ("intensity", "cr", "cr_db", "cnr", "gcnr", "pmax")
TARGET_MEAN, TARGET_SD = 127.0, 32.0
GCNR_BINS = 16
MIN_LUMEN_PIXELS = 16
MAPS_PATH = Path(__file__).resolve().parents[2] / "models" / "pixel_metrics" / "maps.json"


@lru_cache(maxsize=8)
def _gaussian_cdf(mean: float, sd: float) -> np.ndarray:
    """CDF of a Gaussian at the upper edge of each grey level 0..255 (last one is 1)."""
    edges = np.arange(256) + 0.5
    cdf = np.array([0.5 * (1 + erf((e - mean) / (sd * sqrt(2)))) for e in edges])
    cdf[-1] = 1.0
    return cdf


def _gray(image: np.ndarray) -> np.ndarray:
    """2-D uint8 grey levels of a frame."""
    img = np.asarray(image)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.shape[2] == 3 else img[:, :, 0]
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale frame, got shape {img.shape}")
    if img.dtype == np.uint8:
        return img
    if np.issubdtype(img.dtype, np.floating) and img.size and np.nanmax(img) <= 1.0:
        img = img * 255.0  # a frame scaled to 0..1
    return np.clip(np.nan_to_num(img), 0, 255).astype(np.uint8)


def gaussian_matching_lut(image: np.ndarray, mask: np.ndarray | None = None,
                          mean: float = TARGET_MEAN, sd: float = TARGET_SD) -> np.ndarray:
    """Grey-level map (256,) uint8 sending the frame's histogram (inside mask) to N(mean, sd^2).

    Each grey level goes to the Gaussian quantile of its mid-rank; an empty mask gives identity.
    """
    img = _gray(image)
    m = None
    if mask is not None:
        m = np.asarray(mask)
        m = m.view(np.uint8) if m.dtype == bool else (m > 0).astype(np.uint8)
        if m.shape != img.shape:
            m = cv2.resize(m, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)
    if img.size >= 4 * 128 * 128:
        # Every second pixel both ways estimates the grey-level distribution well enough
        # (CDF error about 1 %, under one grey level) at a quarter of the cost.
        img = np.ascontiguousarray(img[::2, ::2])
        m = None if m is None else np.ascontiguousarray(m[::2, ::2])
    hist = cv2.calcHist([img], [0], m, [256], [0, 256]).ravel().astype(np.float64)
    n = hist.sum()
    if n == 0:
        return np.arange(256, dtype=np.uint8)
    mid = (np.cumsum(hist) - hist / 2) / n
    return np.minimum(np.searchsorted(_gaussian_cdf(float(mean), float(sd)), mid), 255).astype(np.uint8)


def histogram_match_gaussian(image: np.ndarray, mask: np.ndarray | None = None,
                             mean: float = TARGET_MEAN, sd: float = TARGET_SD) -> np.ndarray:
    """The frame (uint8) with grey levels remapped so that inside mask they follow N(mean, sd^2)."""
    img = _gray(image)
    return cv2.LUT(img, gaussian_matching_lut(img, mask, mean, sd))


_LEVELS = np.arange(256, dtype=np.float64)


@lru_cache(maxsize=8)
def _binning(bins: int) -> np.ndarray:
    """(256, bins) 0/1 matrix summing grey levels into equal bins."""
    if bins < 1 or 256 % bins:
        raise ValueError(f"bins must divide 256, got {bins}")
    return np.kron(np.eye(bins), np.ones((256 // bins, 1)))


def metrics_from_histograms(regions_hist: np.ndarray, lumen_hist: np.ndarray,
                            bins: int = GCNR_BINS) -> dict[str, np.ndarray]:
    """All metrics from grey-level histograms: regions (R, 256) against the lumen (256,).

    NaN for empty regions; all but intensity NaN for an empty lumen.
    """
    r = np.asarray(regions_hist, np.float64)
    b = np.asarray(lumen_hist, np.float64).ravel()
    levels, levels2 = _LEVELS, _LEVELS ** 2
    n_r, n_b = r.sum(axis=1), b.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_r = r @ levels / n_r
        var_r = np.maximum(r @ levels2 / n_r - mean_r ** 2, 0.0)
        mean_b = b @ levels / n_b if n_b > 0 else np.nan
        var_b = max(b @ levels2 / n_b - mean_b ** 2, 0.0) if n_b > 0 else np.nan
        cr = mean_r / mean_b
        cr_db = 20 * np.log10(cr)
        cnr = (mean_r - mean_b) / np.sqrt(var_r + var_b)
        binning = _binning(bins)
        p_r = (r @ binning) / n_r[:, None]
        p_b = (b @ binning) / n_b if n_b > 0 else np.full(bins, np.nan)
        ovl = np.minimum(p_r, p_b).sum(axis=1)
    empty = n_r == 0
    ovl[empty] = np.nan
    if n_b == 0:
        ovl[:] = np.nan
    # Two constant, equal regions: CNR is 0 (no contrast), not 0/0.
    cnr = np.where((var_r + var_b == 0) & (mean_r == mean_b), 0.0, cnr)
    return {"intensity": mean_r, "cr": cr, "cr_db": cr_db, "cnr": cnr, "gcnr": 1 - ovl, "pmax": 1 - ovl / 2}


def regional_metrics(image: np.ndarray, regions: Regions, sector: np.ndarray | None = None,
                     match_histogram: bool = True, bins: int = GCNR_BINS) -> dict[str, np.ndarray]:
    """Metrics (keys of ALL_METRICS, each (8,), NaN where the region is invalid) of one frame.

    image: B-mode frame (uint8 0..255, or float 0..1), resized (area) to the region map.
    sector: fan mask for the histogram matching; None: regions.sector, else found with
    sector_mask (about 0.25 ms at 256x256; pass it when known).
    """
    img = _gray(image)
    shape = regions.region_map.shape
    if img.shape != shape:
        img = cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    if sector is None and match_histogram:
        sector = regions.sector if regions.sector is not None else sector_mask(img)
    lumen8 = regions.lv_lumen.view(np.uint8) if regions.lv_lumen.dtype == bool else \
        (regions.lv_lumen > 0).astype(np.uint8)
    box = _union(cv2.boundingRect(regions.region_map), cv2.boundingRect(lumen8))
    if box is None:
        return {k: np.full(N_REGIONS, np.nan) for k in ALL_METRICS}
    y0, y1, x0, x1 = box
    # Regions 1..8 and the lumen as N_REGIONS + 1 (they are disjoint) in one code image.
    code = regions.region_map[y0:y1, x0:x1] + lumen8[y0:y1, x0:x1] * np.uint8(N_REGIONS + 1)
    values = img[y0:y1, x0:x1]
    if match_histogram:
        values = cv2.LUT(values, gaussian_matching_lut(img, sector))
    hist = cv2.calcHist([code, values], [0, 1], None, [N_REGIONS + 2, 256], [0, N_REGIONS + 2, 0, 256])
    lumen = hist[N_REGIONS + 1] if hist[N_REGIONS + 1].sum() >= MIN_LUMEN_PIXELS else np.zeros(256)
    out = metrics_from_histograms(hist[1:N_REGIONS + 1], lumen, bins)
    for v in out.values():
        v[~regions.valid] = np.nan
    return out


def _union(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) covering two OpenCV rectangles (x, y, w, h); None when both are empty."""
    boxes = [r for r in (a, b) if r[2] > 0 and r[3] > 0]
    if not boxes:
        return None
    return (min(r[1] for r in boxes), max(r[1] + r[3] for r in boxes),
            min(r[0] for r in boxes), max(r[0] + r[2] for r in boxes))


def load_maps(path: str | Path = MAPS_PATH) -> dict[str, tuple[float, float]]:
    """Linear maps metric -> (slope, intercept) onto the 1..5 scale, from maps.json."""
    try:
        data = json.loads(Path(path).read_text())
        return {name: (float(m["slope"]), float(m["intercept"])) for name, m in data["maps"].items()}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: cannot read metric maps ({error})") from None


@lru_cache(maxsize=4)
def _cached_maps(path: str) -> dict[str, tuple[float, float]]:
    return load_maps(path)


def metric_scores(image: np.ndarray, regions: Regions, metric: str, sector: np.ndarray | None = None,
                  maps: dict[str, tuple[float, float]] | None = None) -> np.ndarray:
    """(8,) scores on the 1..5 scale (clipped; NaN where invalid) from one metric's linear map."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} (choose from {', '.join(METRICS)})")
    maps = maps if maps is not None else _cached_maps(str(MAPS_PATH))
    if metric not in maps:
        raise ValueError(f"no linear map for metric {metric!r} in {MAPS_PATH}")
    slope, intercept = maps[metric]
    values = regional_metrics(image, regions, sector)[metric]
    return np.clip(slope * values + intercept, 1.0, 5.0)
