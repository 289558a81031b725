"""Retrain the regional quality network from scratch (seeded), with patient-grouped cross-validation against
the CAMUS experts' image-quality labels, and write the model folder.

    .venv/bin/python -m training.quality.train --data ../shared/data/camus_subset --out models/regional_quality_rp

1. k-fold cross-validation by patient (stratified by label): a network is fitted on k-1 folds and scores the
   held-out fold; every reported number is out-of-fold (global score vs label: rho, mean per label,
   confusion; within-frame checks on synthetically degraded held-out frames). `--cv-steps` may be fewer
   than `--steps` to save time (the card says which).
2. The shipped network is fitted on all patients with `--steps`, exported to ONNX (mirror averaging inside
   the graph) and checked against PyTorch.
3. model.onnx, training.json, report.json and the card README.md are written to --out.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np
import torch


from training.common import patient_of

from .dataset import DatasetError, load_labelled
from .fit import FitConfig, apply_correction, bias_correction, fit, predict, warp_together
from .labels import LabelError, patient_folds
from .real_labels import agreement_with_labels, format_agreement, global_scores
from .within_frame import within_frame_check

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "loops"
DEFAULT_LOOPS = (SHARED / "e95_a4c.mp4", SHARED / "echotk_a4c.nii.gz")
DOCS = Path(__file__).resolve().parents[2] / "docs"

log = logging.getLogger("train")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="CAMUS-style folder: images/, masks/ (PNG), image_quality.csv")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--seed", type=int, default=0, help="seeds the folds, the weights and the data stream")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds by patient (0: none)")
    p.add_argument("--steps", type=int, default=800, help="training steps of the shipped network")
    p.add_argument("--cv-steps", type=int, default=300, help="training steps per fold (0: --steps)")
    p.add_argument("--batch", type=int, default=8, help="frames per step (each shown intact and degraded)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--limit", type=int, default=0, help="use only the first N frames (quick checks)")
    p.add_argument("--cv-only", action="store_true", help="stop after the cross-validation (writes report.json)")
    p.add_argument("--anisotropy", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="also stretch width against height by a factor from LO..HI in training (e.g. 0.75 1.33)")
    p.add_argument("--consistency", type=float, default=0.0,
                   help="weight of a term asking the frame moved a little (shift, zoom, stretch) to score the same")
    p.add_argument("--framing-check", action="store_true",
                   help="also score each held-out frame re-cut as other scanners export it (framing_check's cuts)")
    p.add_argument("--no-mirror", action="store_true", help="export without mirror averaging")
    p.add_argument("--compare", action="append", default=[],
                   help="another quality model (name or folder) to score on the same frames for the card's table")
    p.add_argument("--loop", action="append", default=None,
                   help="real loops to score for the card (default: the E95 and echotk loops when present)")
    p.add_argument("--no-loops", action="store_true", help="skip the loop checks, the montages and the speed")
    p.add_argument("--card-only", action="store_true",
                   help="no training: redo the comparison, loop checks, speed, montages and card of --out")
    return p.parse_args(argv)


def cross_validate(frames, labels, args, cfg: FitConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict, dict]:
    """(out-of-fold regional scores (N, 8), the same before bias correction, fold of each frame, within-frame
    check pooled over folds, {cut: out-of-fold scores of the re-cut frames} with --framing-check). Each fold's bias correction is fitted on its own training frames."""
    patients = [patient_of(g.name) for g in frames]
    folds = patient_folds(patients, args.folds, args.seed, strata=labels)
    scores = np.full((len(frames), 8), np.nan)
    raw_scores = np.full((len(frames), 8), np.nan)
    recut = recut_frames(args.data, frames) if args.framing_check else {}
    recut_scores = {cut: np.full((len(frames), 8), np.nan) for cut in recut}
    checks = []
    for k in range(args.folds):
        train = np.flatnonzero(folds != k)
        held = np.flatnonzero(folds == k)
        log.info("fold %d/%d: %d training frames, %d held out", k + 1, args.folds, len(train), len(held))
        model = fit([frames[i] for i in train], [labels[i] for i in train],
                    FitConfig(**{**asdict(cfg), "seed": cfg.seed + 1 + k}))
        correction = bias_correction(model, [frames[i] for i in train], [labels[i] for i in train])
        held_frames = [frames[i] for i in held]
        valid = np.stack([g.valid for g in held_frames])
        raw = predict(model, np.stack([g.image for g in held_frames]), np.stack([g.region_map for g in held_frames]))
        raw_scores[held] = np.where(valid, raw, np.nan)
        scores[held] = np.where(valid, apply_correction(raw, correction, valid), np.nan)
        for cut, versions in recut.items():
            found = [i for i in held if versions[i] is not None]
            if found:
                cut_valid = np.stack([versions[i].valid for i in found])
                raw = predict(model, np.stack([versions[i].image for i in found]),
                              np.stack([versions[i].region_map for i in found]))
                recut_scores[cut][found] = np.where(cut_valid, apply_correction(raw, correction, cut_valid), np.nan)
        checks.append(within_frame_check(lambda im, rm: apply_correction(predict(model, im, rm), correction,
                                                                         present_regions(rm)),
                                         held_frames, seed=100 + k))
        log.info("fold %d (correction slope %.2f intercept %.2f): %s", k + 1, correction[0], correction[1],
                 format_agreement("held out", agreement_with_labels(global_scores(scores[held]),
                                                                    [labels[i] for i in held])))
    return scores, raw_scores, folds, pool_checks(checks), recut_scores


MOVED = "moved 3 px right and 2 px down (regions with it)"


def cpu_name() -> str:
    """The CPU's model name (training on another CPU kind lands elsewhere: see the card's reruns)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or "unknown CPU"


def recut_frames(data: str | Path, frames) -> dict:
    """{cut name: [FrameGeometry or None per frame]}: each frame and its mask re-cut around the fan and resized as
    other scanners export them (`training.segmentation.framing_check.recut`), through the app's framing; and each
    frame moved a few pixels with its regions (MOVED)."""
    from training.segmentation.framing_check import CUTS, recut

    from .dataset import network_frame
    from .degrade import prepare_frame
    out: dict = {cut.name: [] for cut in CUTS[1:]}
    for g in frames:
        stored = cv2.imread(str(Path(data) / "images" / f"{g.name}.png"), cv2.IMREAD_GRAYSCALE)
        stored_mask = cv2.imread(str(Path(data) / "masks" / f"{g.name}.png"), cv2.IMREAD_GRAYSCALE)
        view = "a2c" if "2CH" in g.name.upper() else "a4c"
        for cut in CUTS[1:]:
            view_image, view_labels, sector, spacing = network_frame(*recut(stored, stored_mask, cut))
            out[cut.name].append(prepare_frame(g.name, view_image, view_labels, view, sector=sector, spacing=spacing))
    shift = np.array([[1.0, 0.0, 3.0], [0.0, 1.0, 2.0]])
    out[MOVED] = []
    for g in frames:
        image, region_map = warp_together(g.image, g.region_map, shift)
        out[MOVED].append(replace(g, image=image, region_map=region_map))
    return out


def framing_report(scores: np.ndarray, recut_scores: dict, labels: list[str]) -> list[dict]:
    """Per cut: agreement of the out-of-fold global score with the experts, and its shift from the frame as stored."""
    stored = global_scores(scores)
    rows = []
    for cut, regional in recut_scores.items():
        g = global_scores(regional)
        shift = g - stored
        ok = np.isfinite(shift)
        rows.append({"cut": cut, "frames": int(ok.sum()), "spearman": agreement_with_labels(g, labels)["spearman"],
                     "mean_shift": float(np.mean(shift[ok])), "mean_abs_shift": float(np.mean(np.abs(shift[ok])))})
        log.info("%s: rho %+.3f, global score shift %+.3f (mean |shift| %.3f) over %d frames", cut, rows[-1]["spearman"],
                 rows[-1]["mean_shift"], rows[-1]["mean_abs_shift"], rows[-1]["frames"])
    return rows


def present_regions(region_maps: np.ndarray) -> np.ndarray:
    """(N, 8) which regions appear in each region map (as the exported graph sees it)."""
    return np.stack([np.bincount(m.ravel().astype(np.int64), minlength=9)[1:9] > 0 for m in region_maps])


def pool_checks(checks: list[dict]) -> dict:
    """Within-frame checks of the folds pooled (weighted by their number of cases)."""
    n = sum(c["n"] for c in checks)
    return {"n": n, **{k: round(sum(c[k] * c["n"] for c in checks) / max(n, 1), 3)
                       for k in checks[0] if k != "n"}}


def compare_methods(frames, labels, args, report) -> dict:
    """Table-4 rows of the other methods on the same frames: the pixel metrics with their maps fitted on the
    expert labels out of fold (same folds), and any --compare model (label-blind: all frames count)."""
    from echoquality.core.pixel_metrics import METRICS
    from training.fit_metric_maps import fit_to_labels, global_of
    from .labels import LABEL_TARGET
    patients = [patient_of(g.name) for g in frames]
    k = max(args.folds, 2)
    folds = patient_folds(patients, k, args.seed, strata=labels)
    targets = np.array([LABEL_TARGET[x] for x in labels])
    values = {m: [g.metrics[m] for g in frames] for m in METRICS}
    out = {}
    for m in METRICS:
        v = np.array(values[m])
        oof = np.full(len(frames), np.nan)
        for f in range(k):
            slope, intercept = fit_to_labels(v[folds != f], targets[folds != f])
            oof[folds == f] = global_of(v[folds == f], slope, intercept)
        out[m] = (agreement_with_labels(oof, labels), f"linear map fitted on the labels, out of fold ({k} folds)")
    for name in args.compare:
        from echoquality.inference.registry import load_quality_model
        model = load_quality_model(name, "onnxruntime-cpu")
        batch = np.stack([g.image for g in frames])[:, None].astype(np.float32)
        maps = np.stack([g.region_map for g in frames])[:, None].astype(np.float32)
        scores = np.concatenate([model.predict(batch[i:i + 16], maps[i:i + 16] if model.uses_regions else None)
                                 for i in range(0, len(batch), 16)])
        scores = np.where(np.stack([g.valid for g in frames]), np.clip(scores, 1, 5), np.nan)
        out[model.name] = (agreement_with_labels(global_scores(scores), labels),
                           "never saw the labels (trained on synthetic degradations)")
    return out


def loop_checks(out: Path, args) -> dict:
    """Scores of the new model on real loops through the app's steps, and a montage in docs/."""
    from .loop_check import read_loop, score_loop, summary, tile
    from echoquality.inference.registry import load_quality_model, load_segmentation_model
    from echoquality.core.quality import model_method
    loops = [Path(p) for p in (args.loop or DEFAULT_LOOPS) if Path(p).exists()]
    if not loops:
        return {"loops": {}}
    method = model_method(load_quality_model(out, "onnxruntime-cpu"))
    segmentation = load_segmentation_model()
    result, rows = {}, []
    for loop in loops:
        images, maps, scores = score_loop(read_loop(loop), method, segmentation)
        result[loop.name] = summary(scores)
        picks = np.linspace(0, len(images) - 1, 4).round().astype(int)
        rows.append(np.concatenate([tile(images[i], maps[i], scores[i], f"{loop.name} #{i}") for i in picks], axis=1))
    import cv2
    cv2.imwrite(str(DOCS / "quality_loops.png"), cv2.cvtColor(np.concatenate(rows), cv2.COLOR_RGB2BGR))
    return {"loops": result}


def measure_speed(out: Path, frames: int = 200) -> dict:
    """Median and p95 ms per frame of the exported model on onnxruntime (E95 frames and regions)."""
    import os
    from benchmarks.bench_quality_model import time_model
    result = time_model(out, frames)
    result["load_average"] = round(os.getloadavg()[0], 1)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(args.threads)
    start = time.time()
    if args.card_only:
        return card_only(args)
    try:
        frames, labels = load_labelled(args.data, args.limit)
    except (DatasetError, LabelError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    log.info("%d frames with expert labels (%s)", len(frames),
             ", ".join(f"{x} {labels.count(x)}" for x in ("Good", "Medium", "Poor")))
    cfg = FitConfig(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                    anisotropy=tuple(args.anisotropy) if args.anisotropy else None, consistency_weight=args.consistency)
    report: dict = {"data": str(args.data), "frames": len(frames)}
    if args.folds > 1:
        cv_cfg = FitConfig(**{**asdict(cfg), "steps": args.cv_steps or args.steps})
        scores, raw_scores, folds, checks, recut_scores = cross_validate(frames, labels, args, cv_cfg)
        oof = agreement_with_labels(global_scores(scores), labels)
        oof_raw = agreement_with_labels(global_scores(raw_scores), labels)
        log.info("%s", format_agreement("out of fold", oof))
        log.info("%s", format_agreement("(uncorrected)", oof_raw))
        log.info("within-frame (held-out frames, synthetic): %s", json.dumps(checks))
        report["cross_validation"] = {"folds": args.folds, "steps_per_fold": cv_cfg.steps, "global_vs_labels": oof,
                                      "global_vs_labels_uncorrected": oof_raw,
                                      "within_frame": checks,
                                      "frames": [{"name": g.name, "label": y, "fold": int(f),
                                                  "scores": [None if not np.isfinite(v) else round(float(v), 3)
                                                             for v in s]}
                                                 for g, y, f, s in zip(frames, labels, folds, scores)]}
        if recut_scores:
            report["cross_validation"]["framing_check"] = framing_report(scores, recut_scores, labels)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    if args.cv_only:
        return 0
    log.info("shipped network: all %d frames, %d steps", len(frames), cfg.steps)
    model = fit(frames, labels, cfg)
    correction = bias_correction(model, frames, labels)
    report["bias_correction"] = {"slope": correction[0], "intercept": correction[1]}
    from .export import export_region_model
    export_region_model(model, out / "model.onnx", mirror=not args.no_mirror, correction=correction)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    (out / "training.json").write_text(json.dumps({
        "command": "python -m training.quality.train " + " ".join(sys.argv[1:] if argv is None else argv),
        "args": vars(args), "fit": asdict(cfg), "minutes": round((time.time() - start) / 60, 1), "cpu": cpu_name(),
        "torch": torch.__version__}, indent=1))
    training = finish(out, frames, labels, args, report)
    training["minutes"] = round((time.time() - start) / 60, 1)
    (out / "training.json").write_text(json.dumps(training, indent=1))
    from .card import write_card
    write_card(out, out.name, report, training, {"methods": report.pop("_methods"), "loops": report["loops"],
                                                 "speed": report["speed_ms"]})
    log.info("wrote %s in %.1f min", out, (time.time() - start) / 60)
    return 0


def finish(out: Path, frames, labels, args, report: dict) -> dict:
    """The comparison table, loop checks, speed and montages of a written model folder; returns training.json."""
    methods = compare_methods(frames, labels, args, report)
    loops: dict = {}
    speed: dict = {}
    if not args.no_loops:
        loops, speed = loop_checks(out, args)["loops"], measure_speed(out)
        cv = report.get("cross_validation")
        if cv:
            from .montage import camus_montage
            scores = np.array([[np.nan if v is None else v for v in f["scores"]] for f in cv["frames"]])
            camus_montage(frames, labels, scores, DOCS / "quality_camus_out_of_fold.png")
    report["comparison"] = {k: v[0] for k, v in methods.items()}
    report["loops"], report["speed_ms"] = loops, speed
    (out / "report.json").write_text(json.dumps(report, indent=1))
    report["_methods"] = methods
    return json.loads((out / "training.json").read_text())


def card_only(args) -> int:
    """Redo the comparison, loop checks, speed, montages and card of an existing model folder (no training)."""
    out = Path(args.out)
    try:
        report = json.loads((out / "report.json").read_text())
        frames, labels = load_labelled(args.data, args.limit)
    except (OSError, ValueError, DatasetError, LabelError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    training = finish(out, frames, labels, args, report)
    from .card import write_card
    write_card(out, out.name, report, training, {"methods": report.pop("_methods"), "loops": report["loops"],
                                                 "speed": report["speed_ms"]})
    log.info("rewrote the card of %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
