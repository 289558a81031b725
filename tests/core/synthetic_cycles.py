"""Synthetic LV-area curves with known end-diastoles and end-systoles."""
from __future__ import annotations

import numpy as np

SYSTOLE_S = 0.32        # ED → ES (cosine fall)
RELAXATION_S = 0.06     # flat at the minimum after ES (isovolumic relaxation)
FILLING_S = 0.18        # rapid filling to FILLED of the amplitude
ATRIAL_S = 0.15         # atrial kick up to the maximum, ending at ED
FILLED = 0.75


def beat(t: np.ndarray, period: float | np.ndarray) -> np.ndarray:
    """Area fraction (0 at ES, 1 at ED) at times t within one beat that starts at an ED."""
    out = np.empty_like(t)
    s1 = SYSTOLE_S
    s2 = s1 + RELAXATION_S
    s3 = s2 + FILLING_S
    s4 = np.broadcast_to(np.asarray(period, dtype=np.float64) - ATRIAL_S, t.shape)
    sys = t < s1
    out[sys] = 0.5 * (1 + np.cos(np.pi * t[sys] / s1))
    out[(t >= s1) & (t < s2)] = 0.0
    fill = (t >= s2) & (t < s3)
    out[fill] = FILLED * 0.5 * (1 - np.cos(np.pi * (t[fill] - s2) / FILLING_S))
    out[(t >= s3) & (t < s4)] = FILLED
    kick = t >= s4
    out[kick] = FILLED + (1 - FILLED) * 0.5 * (1 - np.cos(np.pi * (t[kick] - s4[kick]) / ATRIAL_S))
    return out


def area_curve(periods: list[float], fps: float, start_s: float = 0.0, duration_s: float | None = None,
               es_area: float = 1800.0, ed_area: float = 3000.0) -> tuple[np.ndarray, list[int], list[int]]:
    """(area per frame, ED frames, ES frames) of beats of the given periods, the first ED at t=0;
    the recording runs from start_s for duration_s (default: to the last listed beat's end, an ED). ES is the middle of
    the flat minimum; extremes outside the recording are not listed."""
    periods = list(periods) + [periods[-1]] * 3          # the heart goes on after the listed beats
    eds = np.concatenate([[0.0], np.cumsum(periods)])
    duration_s = eds[-4] - start_s if duration_s is None else duration_s
    n = int(round(duration_s * fps)) + 1
    t = start_s + np.arange(n) / fps
    k = np.searchsorted(eds, t, side="right") - 1
    frac = beat(t - eds[k], np.asarray(periods)[k])
    area = es_area + (ed_area - es_area) * frac
    frame = lambda s: int(round((s - start_s) * fps))  # noqa: E731
    ed_frames = [frame(s) for s in eds if 0 <= frame(s) < n]
    es_frames = [frame(s + SYSTOLE_S + RELAXATION_S / 2) for s in eds[:-1]]
    return area, ed_frames, [f for f in es_frames if 0 <= f < n]


def noisy(area: np.ndarray, sd_fraction: float, seed: int, spikes_every: int = 0) -> np.ndarray:
    """Gaussian noise of sd_fraction of the area's range, and a ±40 % outlier every spikes_every frames."""
    rng = np.random.default_rng(seed)
    out = area + rng.normal(0, sd_fraction * np.ptp(area), area.shape)
    if spikes_every:
        idx = np.arange(spikes_every // 2, len(out), spikes_every)
        out[idx] *= np.where(np.arange(len(idx)) % 2, 1.4, 0.6)
    return out
