"""Agreement of global quality scores with the CAMUS expert labels (Poor / Medium / Good).

The global score of a frame is the mean of its valid regional scores (as the app computes it). Reported:
Spearman rho between the global score and the label (ordinal Poor < Medium < Good), the mean global score
per label, and the 3x3 confusion (rows: expert label; columns: the category of the global score by the
cuts of `labels.category_of`).
"""
from __future__ import annotations

import numpy as np

from training.common import spearman

from .labels import LABELS, category_of


def label_index(labels: list[str]) -> np.ndarray:
    """0 Poor, 1 Medium, 2 Good."""
    return np.array([LABELS.index(x) for x in labels], np.int64)


def global_scores(regional: np.ndarray) -> np.ndarray:
    """(N,) mean of the finite regional scores of each frame (NaN when none)."""
    regional = np.asarray(regional, np.float64)
    ok = np.isfinite(regional)
    total = np.where(ok, regional, 0).sum(axis=1)
    return np.where(ok.any(axis=1), total / np.maximum(ok.sum(axis=1), 1), np.nan)


def agreement_with_labels(global_score: np.ndarray, labels: list[str]) -> dict:
    """rho, mean/sd per label, confusion (rows label Poor/Medium/Good, columns category) and accuracy."""
    y = label_index(labels)
    g = np.asarray(global_score, np.float64)
    ok = np.isfinite(g)
    cat = category_of(g)
    confusion = np.zeros((3, 3), np.int64)
    for a, b in zip(y[ok], cat[ok]):
        confusion[a, b] += 1
    return {
        "n": int(ok.sum()),
        "spearman": round(spearman(g[ok], y[ok]), 3),
        "mean_by_label": {name: round(float(g[ok & (y == i)].mean()), 3) for i, name in enumerate(LABELS)},
        "sd_by_label": {name: round(float(g[ok & (y == i)].std()), 3) for i, name in enumerate(LABELS)},
        "confusion": confusion.tolist(),
        "accuracy": round(float(np.trace(confusion) / max(ok.sum(), 1)), 3),
    }


def format_agreement(name: str, a: dict) -> str:
    m = a["mean_by_label"]
    return (f"{name:14s} rho {a['spearman']:+.3f}  mean P/M/G {m['Poor']:.2f} {m['Medium']:.2f} {m['Good']:.2f}"
            f"  acc {a['accuracy']:.2f}  confusion {a['confusion']}")
