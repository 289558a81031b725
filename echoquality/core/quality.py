"""Regional quality: scores on the 1–5 scale for the eight regions, by one of several methods.

Methods: the pixel metrics of the paper (gcnr, cnr, cr, intensity, pmax; `pixel_metrics`) and
end-to-end models that look at the image and predict all eight scores (`e2e`, or any quality
model folder). Invalid regions score NaN.
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

import numpy as np

from echoquality.core.vocabulary import N_REGIONS

PIXEL_METRIC_METHODS = ("gcnr", "cnr", "cr", "intensity", "pmax")


class QualityModel(Protocol):
    name: str

    def predict(self, batch: np.ndarray, region_maps: np.ndarray | None = None,
                mirror: bool | None = None) -> np.ndarray: ...


QualityMethod = Callable[[np.ndarray, "Regions"], np.ndarray]  # (image256, regions) -> (8,) scores
BatchQualityMethod = Callable[[np.ndarray, Sequence["Regions"]], np.ndarray]  # (N images, N regions) -> (N, 8)


MODEL_SCORE_RANGE = (0.0, 6.0)   # model outputs outside this (or NaN) are faults; inside, clipped to 1–5


def _checked_scores(model: QualityModel, scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(8,) model output → scores clipped to 1–5, NaN where invalid; ValueError for a broken model's output."""
    if scores.shape != (N_REGIONS,):
        raise ValueError(f"quality model {model.name} returned shape {scores.shape}, expected ({N_REGIONS},)")
    bad = ~np.isfinite(scores) | (scores < MODEL_SCORE_RANGE[0]) | (scores > MODEL_SCORE_RANGE[1])
    if np.any(bad):   # a broken model: the frame fails, rather than empty or 5.0 scores
        raise ValueError(f"quality model {model.name} returned {scores[bad][0]:g}, not a score "
                         f"({MODEL_SCORE_RANGE[0]:g} to {MODEL_SCORE_RANGE[1]:g} expected)")
    return np.where(valid, np.clip(scores, 1.0, 5.0), np.nan)


def model_method(model: QualityModel, mirror: bool | None = None) -> QualityMethod:
    """A method scoring with an end-to-end quality model (input: the network-size image, and the region map
    for a model that scores each region where it lies: `uses_regions`). `mirror`: average with the mirror
    image's scores (None: as the model's metadata asks).

    The method also has a batched form (`batched_form`): one model call for N frames, each frame's
    scores as the method gives them; and a one-pass form (`one_pass_form`) without mirror averaging."""
    uses_regions = bool(getattr(model, "uses_regions", False))
    options = {} if mirror is None else {"mirror": mirror}

    def predict(batch: np.ndarray, maps: np.ndarray | None) -> np.ndarray:
        if mirror is not None:
            return np.asarray(model.predict(batch, maps, mirror=mirror), np.float64)
        return np.asarray(model.predict(batch, maps) if uses_regions else model.predict(batch), np.float64)

    def score(image: np.ndarray, regions) -> np.ndarray:
        batch = image[None, None].astype(np.float32)
        maps = regions.region_map[None, None].astype(np.float32) if uses_regions else None
        return _checked_scores(model, predict(batch, maps)[0], regions.valid)

    def batched(images: np.ndarray, regions_list: Sequence) -> np.ndarray:
        batch = np.asarray(images)[:, None].astype(np.float32)
        maps = np.stack([r.region_map for r in regions_list])[:, None].astype(np.float32) if uses_regions else None
        scores = predict(batch, maps)
        if scores.shape != (len(batch), N_REGIONS):
            raise ValueError(f"quality model {model.name} returned shape {scores.shape} for {len(batch)} frames, "
                             f"expected ({len(batch)}, {N_REGIONS})")
        return np.stack([_checked_scores(model, s, r.valid) for s, r in zip(scores, regions_list)])

    score.batched = batched
    if mirror is None:
        score.one_pass = model_method(model, mirror=False)
    return score


def one_pass_form(method: QualityMethod) -> QualityMethod:
    """The method without mirror averaging (half the time of a mirror-averaged model; live chains use it);
    the method itself when it has no such form (the pixel metrics)."""
    return getattr(method, "one_pass", method)


def batched_form(method: QualityMethod) -> BatchQualityMethod | None:
    """The method's batched form, (N, H, W) images and N regions -> (N, 8) scores in one call (`model_method`);
    None for a method scored frame by frame (the pixel metrics)."""
    return getattr(method, "batched", None)


def pixel_metric_method(metric: str) -> QualityMethod:
    """A method scoring with a classic pixel metric mapped linearly to 1–5."""
    from echoquality.core.pixel_metrics import metric_scores
    if metric not in PIXEL_METRIC_METHODS:
        raise ValueError(f"unknown pixel metric {metric!r}")
    return lambda image, regions: metric_scores(image, regions, metric)


def smooth_scores(previous: np.ndarray | None, scores: np.ndarray, dt_s: float, time_constant_s: float) -> np.ndarray:
    """Exponential smoothing over time of the regional scores.

    A region that is invalid now is invalid (NaN) at once; one that becomes valid starts at its score;
    a time step that is not positive (a new source, a loop restart) starts afresh.
    """
    if previous is None or time_constant_s <= 0 or not dt_s > 0:
        return scores.copy()
    weight = 1.0 - np.exp(-dt_s / time_constant_s)
    return np.where(np.isnan(previous), scores, previous + weight * (scores - previous))


DEFAULT_METHOD = "e2e"
DEFAULT_QUALITY_MODEL = "regional_quality_rp"  # models/<name>/ used by 'e2e' (training/quality, issue 11)
