"""Dice per structure between label maps."""
from __future__ import annotations

import numpy as np

STRUCTURES = {"LV": 1, "MYO": 2, "LA": 3}


def dice(pred: np.ndarray, target: np.ndarray, label: int) -> float:
    """Dice of one label between two label maps (1.0 when both lack it)."""
    a, b = pred == label, target == label
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def dice_per_structure(preds: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Mean Dice over frames for LV, MYO and LA, given (N, H, W) label maps."""
    return {name: float(np.mean([dice(p, t, label) for p, t in zip(preds, targets)]))
            for name, label in STRUCTURES.items()}


def dice_table(preds: np.ndarray, targets: np.ndarray) -> dict[str, dict[str, float]]:
    """Mean, standard deviation and minimum Dice over frames for each structure."""
    table = {}
    for name, label in STRUCTURES.items():
        values = np.array([dice(p, t, label) for p, t in zip(preds, targets)])
        table[name] = {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min())}
    return table
