"""Regional quality: scores on the 1–5 scale for the eight regions, by one of several methods.

Methods: the pixel metrics of the paper (gcnr, cnr, cr, intensity, pmax; `pixel_metrics`) and
end-to-end models that look at the image and predict all eight scores (`e2e`, or any quality
model folder). Invalid regions score NaN.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from .fast_bridge import Stage, to_fast, to_numpy
from .types import N_REGIONS

PIXEL_METRIC_METHODS = ("gcnr", "cnr", "cr", "intensity", "pmax")


class QualityModel(Protocol):
    name: str

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


QualityMethod = Callable[[np.ndarray, "Regions"], np.ndarray]  # (image256, regions) -> (8,) scores


def model_method(model: QualityModel) -> QualityMethod:
    """A method scoring with an end-to-end quality model (input: the network-size image)."""
    def score(image: np.ndarray, regions) -> np.ndarray:
        scores = np.asarray(model.predict(image[None, None].astype(np.float32))[0], np.float64)
        if scores.shape != (N_REGIONS,):
            raise ValueError(f"quality model {model.name} returned shape {scores.shape}, expected ({N_REGIONS},)")
        return np.where(regions.valid, np.clip(scores, 1.0, 5.0), np.nan)
    return score


def pixel_metric_method(metric: str) -> QualityMethod:
    """A method scoring with a classic pixel metric mapped linearly to 1–5."""
    from .pixel_metrics import metric_scores
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


def format_scores(scores: np.ndarray) -> str:
    """Scores as frame-data text ('nan' for invalid regions)."""
    return " ".join(f"{s:.4f}" for s in scores)


def parse_scores(text: str) -> np.ndarray:
    return np.array([float(v) for v in text.split()], np.float64)


class RegionalQuality(Stage):
    """(network input, regions image, sector mask) → regions image with the scores in the frame data.

    With `smoothing_s` > 0 the scores are smoothed over time with that time constant (live display).
    """

    n_inputs = 3

    def __init__(self, method: QualityMethod, method_name: str, smoothing_s: float = 0.0):
        super().__init__()
        self.method = method
        self.method_name = method_name
        self.smoothing_s = smoothing_s
        self._previous: tuple[float, np.ndarray] | None = None  # (time_s, smoothed scores)

    def process(self, image, regions_image, sector):
        from .regions_stage import regions_from_fast
        regions = regions_from_fast(regions_image)
        regions.sector = to_numpy(sector).astype(bool)
        scores = self.method(to_numpy(image), regions)
        if self.smoothing_s > 0:
            time_s = float(image.getFrameData("time_s"))
            last_time, last = self._previous or (time_s, None)
            scores = smooth_scores(last, scores, time_s - last_time, self.smoothing_s)
            self._previous = (time_s, scores)
        return (to_fast(to_numpy(regions_image), regions_image, scores=format_scores(scores),
                        method=self.method_name),)


DEFAULT_METHOD = "e2e"
DEFAULT_QUALITY_MODEL = "regional_quality_mnv2"  # models/<name>/ used by 'e2e' (training/quality, issue 5)


def resolve_method(name: str, backend: str = "auto") -> tuple[QualityMethod, str]:
    """(method, method name) for a pixel metric name, 'e2e', or a quality model name/folder."""
    name = name or DEFAULT_METHOD
    if name in PIXEL_METRIC_METHODS:
        return pixel_metric_method(name), name
    from .model_registry import load_quality_model
    model = load_quality_model(DEFAULT_QUALITY_MODEL if name == "e2e" else name, backend)
    return model_method(model), "e2e" if name == "e2e" else model.name
