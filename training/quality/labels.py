"""The CAMUS cardiologist's image-quality labels (Good / Medium / Poor per sequence) and patient folds.

Source: the CAMUS release's Info_2CH.cfg / Info_4CH.cfg (S. Leclerc et al., "Deep Learning for
Segmentation using an Open Large-Scale Dataset in 2D Echocardiography", IEEE TMI 38(9), 2019),
as `image_quality.csv` next to the images (name,patient,view,phase,image_quality). CAMUS grades a
sequence by how much of the endocardium and epicardium is visible.

On the 1-5 regional scale (1 not visible, 2 poor, 3 ok, 4 good, 5 excellent) the labels are read as
global (mean regional) targets: Good 4, Medium 3, Poor 2 (`LABEL_TARGET`); a global score is put back
into a category with the cuts 2.5 and 3.5 (`category_of`).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

LABELS = ("Poor", "Medium", "Good")
LABEL_TARGET = {"Poor": 2.0, "Medium": 3.0, "Good": 4.0}
CUTS = (2.5, 3.5)
LABEL_FILE = "image_quality.csv"


class LabelError(Exception):
    """A label file that cannot be used."""


def read_labels(folder: str | Path) -> dict[str, str]:
    """{frame name: 'Good' | 'Medium' | 'Poor'} from folder/image_quality.csv."""
    path = Path(folder) / LABEL_FILE
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as error:
        raise LabelError(f"{path}: cannot read ({error.strerror})") from None
    out = {}
    for i, row in enumerate(rows, start=2):
        name, label = (row.get("name") or "").strip(), (row.get("image_quality") or "").strip().capitalize()
        if not name or label not in LABELS:
            raise LabelError(f"{path}:{i}: expected name and image_quality Good/Medium/Poor, got {row}")
        out[name] = label
    if not out:
        raise LabelError(f"{path}: no labels")
    return out


def category_of(global_score: np.ndarray | float) -> np.ndarray:
    """Index into LABELS (0 Poor, 1 Medium, 2 Good) of global scores, by the cuts 2.5 / 3.5 (-1 for NaN)."""
    s = np.asarray(global_score, np.float64)
    return np.where(np.isnan(s), -1, np.digitize(s, CUTS)).astype(np.int64)


def patient_folds(patients: list[str], k: int, seed: int, strata: list[str] | None = None) -> np.ndarray:
    """Fold index (0..k-1) of each entry; every frame of a patient falls in the same fold.

    Patients are shuffled (seeded) and dealt round-robin, stratum by stratum when `strata` (one per entry,
    e.g. the label; a patient's first entry counts) is given, so that each fold holds a share of each."""
    unique = sorted(set(patients))
    stratum = {}
    for p, s in zip(patients, strata or [""] * len(patients)):
        stratum.setdefault(p, s)
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of, dealt = {}, 0
    for s in sorted(set(stratum.values())):
        for j in order:
            if stratum[unique[j]] == s:
                fold_of[unique[j]] = dealt % k
                dealt += 1
    return np.array([fold_of[p] for p in patients], np.int64)
