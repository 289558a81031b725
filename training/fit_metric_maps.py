"""Fit the linear maps metric → 1..5 quality score of the pixel-metric methods.

Two fits, compared out of fold on the CAMUS experts' image-quality labels (Good / Medium / Poor per
sequence, Leclerc et al. 2019; `training.quality.labels`), where each one is kept where it agrees better:

1. Expert labels: the frame's target (Good 4, Medium 3, Poor 2) against the mean of its regions' metric
   values, by least squares on undegraded frames; the map is then applied to each region. Validated by
   patient-grouped 5-fold cross-validation (the folds of the quality network): the global score (mean of
   the regions' clipped scores) of held-out frames against their label.
2. Synthetic labels (the earlier fit, below), whose global scores are judged on the same frames.

A map is taken from the expert labels when its out-of-fold mean absolute error of the global score
against the label target is lower and its slope is positive; otherwise the synthetic map stays.

Synthetic labels: controlled regional degradation of CAMUS frames: each region of a frame gets a severity 0..4 (label 5..1)
and one of three degradations, applied in the region and its surroundings (feathered over
ZONE_MM, each pixel belonging to its nearest region):

- contrast: the tissue's mean and spread moved to the blood pool's (loss of contrast),
- haze: blend with smooth clutter of mid-grey level (near-field clutter, reverberation),
- shadow: the signal replaced by a noise floor drawn from the blood pool (dropout, shadowing).

A random global gain (0.6..1.4) and gamma (0.7..1.4) are applied afterwards; they do not change
the labels. Undegraded regions are labelled 5 although CAMUS includes poor images (see the card).
Patients are split 80/20 (seeded); maps are fitted by least squares on the training patients,
and the Spearman correlation and mean absolute error of the clipped scores are reported on the
held-out patients.

    .venv/bin/python -m training.fit_metric_maps [--data ../shared/data/camus_subset] [--variants 4] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
from echoquality.core.pixel_metrics import ALL_METRICS, GCNR_BINS, METRICS, TARGET_MEAN, TARGET_SD, regional_metrics
from echoquality.core.regions import divide_myocardium
from echoquality.core.sector import sector_mask
from echoquality.core.vocabulary import N_REGIONS, default_spacing

log = logging.getLogger("fit_metric_maps")
SIZE = 256
ZONE_MM = 6.0
KINDS = ("contrast", "haze", "shadow")


def rank(a: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged."""
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a))
    ranks[order] = np.arange(len(a))
    _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(rank(a), rank(b))[0, 1])


def zones(region_map: np.ndarray, zone_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(nearest region 1..8 of every pixel, feather weight 1 in the region → 0 at zone_px)."""
    free = (region_map == 0).astype(np.uint8)
    dist, nearest = cv2.distanceTransformWithLabels(free, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    seeds = region_map.ravel()[np.flatnonzero(free.ravel() == 0)]
    owner = np.concatenate(([0], seeds))[nearest]
    weight = np.clip(1.0 - dist / zone_px, 0.0, 1.0)
    return owner, weight


def degrade(image: np.ndarray, owner: np.ndarray, weight: np.ndarray, lumen: np.ndarray,
            severity: np.ndarray, kinds: list[str], rng: np.random.Generator) -> np.ndarray:
    """The frame with each region's zone degraded by its kind and severity (0 none .. 4 worst)."""
    out = image.astype(np.float32)
    blood_pixels = image[lumen] if lumen.sum() > 16 else image[image <= np.percentile(image, 20)]
    blood, blood_sd = float(blood_pixels.mean()), float(blood_pixels.std())
    h, w = image.shape
    for k in range(N_REGIONS):
        a = severity[k] / 4.0
        if a == 0:
            continue
        zone = owner == k + 1
        wk = (weight * zone * a).astype(np.float32)
        tissue = out[zone & (weight >= 1.0)]
        if kinds[k] == "contrast":  # tissue statistics moved to the blood pool's, texture kept
            mean, sd = (float(tissue.mean()), float(tissue.std()) + 1e-3) if tissue.size else (blood, blood_sd)
            target = blood + (out - mean) * (blood_sd / sd)
            out = out + wk * (target - out)
        elif kinds[k] == "haze":  # smooth clutter between blood and tissue level
            clutter = cv2.GaussianBlur(rng.rayleigh(1.0, (h, w)).astype(np.float32), (0, 0), 1.5)
            level = blood + 0.45 * ((float(tissue.mean()) if tissue.size else blood) - blood)
            out = out + 0.9 * wk * (clutter / clutter.mean() * level - out)
        else:  # shadow: the signal sinks into a noise floor like the blood pool's
            floor = rng.choice(blood_pixels, size=(h, w)).astype(np.float32)
            out = out + wk * (floor - out)
    return np.clip(out, 0, 255).astype(np.uint8)


def gain_gamma(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random global gain and gamma (monotone: the quality labels stay)."""
    gain, gamma = rng.uniform(0.6, 1.4), rng.uniform(0.7, 1.4)
    lut = np.clip(gain * 255.0 * (np.arange(256) / 255.0) ** gamma, 0, 255).astype(np.uint8)
    return cv2.LUT(image, lut)


def build(data: Path, variants: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Samples: metric values, labels, patient ids, region indices, degradation kinds."""
    rows: dict[str, list] = {m: [] for m in ALL_METRICS}
    rows.update(label=[], patient=[], region=[], kind=[])
    paths = sorted((data / "masks").glob("*.png"))
    if not paths:
        raise SystemExit(f"{data}: no masks found")
    from training.quality.dataset import network_frame
    zone_px = ZONE_MM / default_spacing(SIZE)[0]
    for path in paths:
        labels = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        image = cv2.imread(str(data / "images" / path.name), cv2.IMREAD_GRAYSCALE)
        if labels is None or image is None:
            log.warning("%s: cannot read mask or image, skipped", path.name)
            continue
        image, labels, sector, spacing = network_frame(image, labels)
        regions = divide_myocardium(labels, spacing, sector, "a2c" if "2CH" in path.stem else "a4c")
        if not regions.valid.any():
            continue
        owner, weight = zones(regions.region_map, zone_px)
        for _ in range(variants):
            severity = rng.integers(0, 5, N_REGIONS)
            kinds = [KINDS[i] for i in rng.integers(0, len(KINDS), N_REGIONS)]
            degraded = gain_gamma(degrade(image, owner, weight, regions.lv_lumen, severity, kinds, rng), rng)
            values = regional_metrics(degraded, regions, sector)
            for k in np.flatnonzero(regions.valid):
                for m in ALL_METRICS:
                    rows[m].append(values[m][k])
                rows["label"].append(5 - severity[k])
                rows["patient"].append(path.stem.split("_")[0])
                rows["region"].append(k)
                rows["kind"].append(kinds[k] if severity[k] else "none")
    return {k: np.asarray(v) for k, v in rows.items()}


def fit(samples: dict[str, np.ndarray], rng: np.random.Generator) -> dict:
    """Least-squares maps on training patients, held-out statistics."""
    patients = np.unique(samples["patient"])
    test_patients = set(rng.choice(patients, size=max(1, len(patients) // 5), replace=False))
    test = np.array([p in test_patients for p in samples["patient"]])
    labels = samples["label"].astype(np.float64)
    maps = {}
    for m in METRICS:
        x = samples[m].astype(np.float64)
        ok = np.isfinite(x)
        tr, te = ok & ~test, ok & test
        slope, intercept = np.polyfit(x[tr], labels[tr], 1)
        pred = np.clip(slope * x[te] + intercept, 1, 5)
        maps[m] = {
            "slope": round(float(slope), 6), "intercept": round(float(intercept), 6),
            "n_train": int(tr.sum()), "n_test": int(te.sum()),
            "spearman_test": round(spearman(x[te], labels[te]), 3),
            "mae_test": round(float(np.abs(pred - labels[te]).mean()), 3),
            "mean_by_label": {str(q): round(float(x[ok & (labels == q)].mean()), 4) for q in range(1, 6)},
        }
    return maps


def expert_samples(data: Path) -> tuple[list[str], list[str], list[str], dict[str, np.ndarray]]:
    """(frame names, labels, patients, {metric: (F, 8) values}) of the undegraded, expert-labelled frames,
    each in the network view the app uses (`training.quality.dataset.network_frame`)."""
    from training.common import patient_of
    from training.quality.dataset import network_frame
    from training.quality.labels import read_labels
    expert = read_labels(data)
    names, labels, values = [], [], {m: [] for m in METRICS}
    for name in sorted(expert):
        image = cv2.imread(str(data / "images" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        mask = cv2.imread(str(data / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        if image is None or mask is None:
            log.warning("%s: cannot read image or mask, skipped", name)
            continue
        image, mask, sector, spacing = network_frame(image, mask)
        regions = divide_myocardium(mask, spacing, sector, "a2c" if "2CH" in name else "a4c")
        if not regions.valid.any():
            continue
        metrics = regional_metrics(image, regions, sector)
        names.append(name)
        labels.append(expert[name])
        for m in METRICS:
            values[m].append(metrics[m])
    return names, labels, [patient_of(n) for n in names], {m: np.array(v) for m, v in values.items()}


def fit_to_labels(values: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """Least-squares (slope, intercept) from each frame's mean regional value to its target (the paper's
    linear model from metric to label; fitted per frame, as the labels are)."""
    with np.errstate(all="ignore"):
        x = np.nanmean(values, axis=1)
    ok = np.isfinite(x)
    slope, intercept = np.polyfit(x[ok], targets[ok], 1)
    return float(slope), float(intercept)


def global_of(values: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    from training.quality.real_labels import global_scores
    return global_scores(np.clip(slope * values + intercept, 1, 5))


def expert_fit(data: Path, synthetic: dict, folds_k: int, seed: int) -> dict:
    """Out-of-fold agreement of the expert-label and synthetic maps, the choice, and the all-frames fit."""
    from training.quality.labels import LABEL_TARGET, patient_folds
    from training.quality.real_labels import agreement_with_labels
    names, labels, patients, values = expert_samples(data)
    targets = np.array([LABEL_TARGET[x] for x in labels])
    folds = patient_folds(patients, folds_k, seed, strata=labels)
    out = {}
    for m in METRICS:
        oof = np.full(len(names), np.nan)
        for k in range(folds_k):
            slope, intercept = fit_to_labels(values[m][folds != k], targets[folds != k])
            oof[folds == k] = global_of(values[m][folds == k], slope, intercept)
        syn = global_of(values[m], *synthetic[m])
        slope, intercept = fit_to_labels(values[m], targets)
        mae_expert = float(np.nanmean(np.abs(oof - targets)))
        mae_synthetic = float(np.nanmean(np.abs(syn - targets)))
        use_expert = slope > 0 and mae_expert < mae_synthetic
        out[m] = {"expert_fit": {"slope": round(slope, 6), "intercept": round(intercept, 6),
                                 "out_of_fold": agreement_with_labels(oof, labels), "mae": round(mae_expert, 3)},
                  "synthetic_fit": {"slope": synthetic[m][0], "intercept": synthetic[m][1],
                                    "on_expert_labels": agreement_with_labels(syn, labels),
                                    "mae": round(mae_synthetic, 3)},
                  "chosen": "expert" if use_expert else "synthetic"}
    return {"frames": len(names), "folds": folds_k, "fold_seed": seed, "metrics": out}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "camus_subset")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "pixel_metrics" / "maps.json")
    parser.add_argument("--variants", type=int, default=4, help="degraded copies per frame")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5, help="patient folds of the expert-label validation")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = np.random.default_rng(args.seed)
    samples = build(args.data, args.variants, rng)
    maps = fit(samples, rng)
    expert = expert_fit(args.data, {m: (v["slope"], v["intercept"]) for m, v in maps.items()}, args.folds, args.seed)
    for m, e in expert["metrics"].items():
        maps[m]["fitted_on"] = "synthetic degradations"
        if e["chosen"] == "expert":
            maps[m].update(slope=e["expert_fit"]["slope"], intercept=e["expert_fit"]["intercept"],
                           fitted_on="expert labels")
        maps[m]["expert_labels_out_of_fold"] = (e["expert_fit"]["out_of_fold"] if e["chosen"] == "expert"
                                                else e["synthetic_fit"]["on_expert_labels"])
    result = {
        "description": "Linear maps from pixel metrics to the 1..5 regional quality scale: "
                       "score = clip(slope * metric + intercept, 1, 5).",
        "fitted_by": "training/fit_metric_maps.py",
        "seed": args.seed, "variants": args.variants,
        "data": "CAMUS subset (149 frames, CC BY-NC-SA 4.0): controlled regional degradations and the "
                "experts' image-quality labels (Leclerc et al. 2019)",
        "samples": int(len(samples["label"])),
        "frame_size": SIZE,
        "histogram_matching": {"mean": TARGET_MEAN, "sd": TARGET_SD, "over": "sector"},
        "gcnr_bins": GCNR_BINS,
        "maps": maps,
        "expert_label_comparison": expert,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.out}: {result['samples']} samples")
    for m, v in maps.items():
        e = expert["metrics"][m]
        print(f"  {m:10s} slope {v['slope']:9.4f} intercept {v['intercept']:8.4f}  ({v['fitted_on']})")
        for what, a in (("expert fit, out of fold", e["expert_fit"]["out_of_fold"]),
                        ("synthetic fit", e["synthetic_fit"]["on_expert_labels"])):
            mean = a["mean_by_label"]
            print(f"      {what:24s} rho {a['spearman']:+.3f}  mean P/M/G {mean['Poor']:.2f} {mean['Medium']:.2f} "
                  f"{mean['Good']:.2f}  accuracy {a['accuracy']:.2f}  confusion {a['confusion']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
