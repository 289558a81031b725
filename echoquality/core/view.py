"""View recognition: A2C / A4C / other per frame from the network view, smoothed over time.

The view classifier (models/view_classifier) sees the canonical network view
(`echoquality.core.framing.NetworkView.image`, 256×256) shrunk to VIEW_INPUT_SIZE. Its classes are
VIEW_CLASSES; it never says ALAX (no ALAX frame was available to learn from): an explicit
`--view alax` still works (`choose_view`). Per-frame probabilities are smoothed with an
exponential time constant (`ViewSmoother`); the recognised view is 'other' when the smoothed
probability of 'other' is the largest or reaches the model's `other_limit` (scoring a view that is not
apical is worse than saying nothing; ONNX metadata, set by `training.view.other_limit`), otherwise the
more probable of A2C and A4C; its confidence is the smoothed probability of that view.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

VIEW_CLASSES = ("a2c", "a4c", "other")
VIEW_INPUT_SIZE = 64
AUTO = "auto"
# Probabilities are smoothed over this time constant (seconds); a pause longer than RESET_AFTER
# time constants (or time going backwards: a new loop) starts afresh.
TIME_CONSTANT_S = 0.3
RESET_AFTER = 10.0


class ViewModel(Protocol):
    """A view classifier: (N, 1, 64, 64) float32 raw 0–255 → (N, 3) probabilities in VIEW_CLASSES order;
    `other_limit`: the probability of 'other' from which a frame is called 'other' (None: only when largest)."""
    name: str
    other_limit: float | None

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ViewEstimate:
    """The recognised view of a frame (after smoothing) and how sure it is."""
    view: str                                  # one of VIEW_CLASSES
    confidence: float                          # smoothed probability of `view`, 0..1
    probabilities: np.ndarray = field(default_factory=lambda: np.full(len(VIEW_CLASSES), 1 / len(VIEW_CLASSES)))


def view_input(network_image: np.ndarray, size: int = VIEW_INPUT_SIZE) -> np.ndarray:
    """(size, size) float32 raw 0–255 classifier input from a (256, 256) uint8 network view."""
    image = np.asarray(network_image)
    if image.ndim != 2:
        raise ValueError(f"view input: expected a 2-D network view, got shape {image.shape}")
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)


def estimate(probabilities: np.ndarray, other_limit: float | None = None) -> ViewEstimate:
    """The ViewEstimate of one probability vector (no smoothing): 'other' when its probability is the largest or
    reaches `other_limit`, otherwise the more probable apical view."""
    p = np.asarray(probabilities, np.float64)
    other = len(VIEW_CLASSES) - 1
    best = int(np.argmax(p))
    if best != other and other_limit is not None and p[other] >= other_limit:
        best = other
    return ViewEstimate(VIEW_CLASSES[best], float(p[best]), p)


def canonical_image(gray: np.ndarray, fan, spacing: tuple[float, float] | None = None) -> np.ndarray:
    """The canonical network view (`framing.network_view(...).image`) of a frame whose fan is already found."""
    from echoquality.core.fan import polygon_mask
    from echoquality.core.framing import NETWORK_SIZE, box_with_margin, framing_for

    shape = gray.shape[:2]
    box = box_with_margin(fan.box, shape) if fan.found else (0, 0, shape[0], shape[1])
    framing = framing_for(box, shape, spacing if spacing is not None else (1.0, 1.0), NETWORK_SIZE)
    image = framing.to_network(gray)
    if fan.found:
        image[~polygon_mask(framing.points_to_network(fan.hull), (NETWORK_SIZE, NETWORK_SIZE))] = 0
    else:
        image[...] = 0
    return image


def recognise(model: ViewModel, network_image: np.ndarray) -> np.ndarray:
    """(3,) probabilities of VIEW_CLASSES for one network view."""
    return np.asarray(model.predict(view_input(network_image)[None, None]), np.float64)[0]


class ViewSmoother:
    """Exponential smoothing of view probabilities over time, one per source (see the module docstring)."""

    def __init__(self, time_constant_s: float = TIME_CONSTANT_S, other_limit: float | None = None):
        self.time_constant_s = float(time_constant_s)
        self.other_limit = other_limit
        self._state: tuple[float, np.ndarray] | None = None   # (time_s, smoothed probabilities)

    def reset(self) -> None:
        self._state = None

    def update(self, probabilities: np.ndarray, time_s: float) -> ViewEstimate:
        """The smoothed estimate after a frame at `time_s` with these per-frame probabilities."""
        p = np.asarray(probabilities, np.float64)
        if self._state is not None and self.time_constant_s > 0:
            last_time, last = self._state
            dt = time_s - last_time
            if 0 <= dt <= RESET_AFTER * self.time_constant_s:
                weight = 1.0 - math.exp(-dt / self.time_constant_s)
                p = last + weight * (p - last)
        self._state = (float(time_s), p)
        return estimate(p, self.other_limit)


def checks_view(requested: str) -> bool:
    """Whether the classifier judges frames for this requested view: 'auto' and the views it knows (a2c, a4c).

    An explicit a2c or a4c names the regions but does not open the gate to a frame the classifier calls
    'other' (a parasternal view scored as A4C); an explicit alax is not second-guessed (never learnt).
    """
    return requested == AUTO or requested in VIEW_CLASSES[:-1]


def view_confidence(requested: str, recognised: ViewEstimate) -> float:
    """How sure the classifier is of the view the regions are named after (for an explicit view: that view's
    smoothed probability, i.e. how much the classifier agrees with the user)."""
    if requested in VIEW_CLASSES:
        return float(recognised.probabilities[VIEW_CLASSES.index(requested)])
    return recognised.confidence


def choose_view(requested: str, recognised: ViewEstimate | None) -> str:
    """The view the regions are named after: an explicit request wins; 'auto' takes the recognised one."""
    if requested != AUTO:
        return requested
    return recognised.view if recognised is not None else "other"
