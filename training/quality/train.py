"""Train the end-to-end regional quality network on generated degradations and export it to models/<name>/.

    .venv/bin/python -m training.quality.train --data ../shared/data/camus_subset --out models/NAME

Seeded (same command, same machine: same model). Patients are split 70/15/15 into train / validation
(checkpoint choice and the linear bias correction) / test (the report). Writes model.onnx,
slope_intercept_bias_correction.npy, training.json and report.json to --out; README.md is the card.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch


from .dataset import DatasetError, load_frames, split_by_patient
from .degrade import FrameGeometry, cell_targets, degrade, geometric_augment, invariance_augment
from .evaluate import agreement, degraded_set, fit_bias_correction, predict_all, report
from .export import export_onnx
from .model import MirrorAveraged, build_model, build_regional_model, count_parameters

log = logging.getLogger("train")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="CAMUS-style folder: images/ + masks/ (PNG)")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--seed", type=int, default=0, help="seeds the patient split, the weights and the data stream")
    p.add_argument("--stream-seed", type=int, default=-1, help="seed of the degradation stream (default: --seed); "
                   "give another one when continuing a run with --init")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--arch", choices=("regional", "plain"), default="regional",
                   help="regional: MobileNetV2 + region-attention pooling of a quality map (auxiliary region "
                   "targets); plain: MobileNetV2 + global pooling + linear (the paper's head)")
    p.add_argument("--mirror-tta", action="store_true",
                   help="export the mean of the frame's and its mirror image's scores (one graph, 2 passes)")
    p.add_argument("--aux-weight", type=float, default=1.0, help="weight of the auxiliary region losses")
    p.add_argument("--width", type=float, default=0.5, help="MobileNetV2 width multiplier")
    p.add_argument("--pre-pool", type=int, default=2, help="area-average the 256x256 input by this factor first")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest beside other jobs)")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--max-minutes", type=float, default=0, help="stop early after this wall time (0: no limit)")
    p.add_argument("--init", default="", help="PyTorch weights to start from (fine-tuning)")
    p.add_argument("--checkpoint", default="", help="where to keep PyTorch weights (default: OUT/../NAME.pt "
                   "under training/runs)")
    return p.parse_args(argv)


def make_batch(frames: list[FrameGeometry], size: int, rng: np.random.Generator):
    """Random augmented degradations as tensors: images (B,1,256,256) float32 raw 0-255, labels (B,8),
    valid (B,8), and the auxiliary 8x8 targets: region shares (B,8,8,8), cell quality (B,8,8), weights (B,8,8)."""
    images, labels, valid, shares, quality, weight = [], [], [], [], [], []
    for i in rng.integers(0, len(frames), size):
        g = frames[int(i)]
        img, lab, _ = degrade(g, rng)
        img = invariance_augment(img, rng)
        img, lab, val, region_map = geometric_augment(img, lab, g.valid, rng, region_map=g.region_map)
        share, q, w = cell_targets(region_map, lab, val)
        val = val & (share.sum(axis=(1, 2)) > 0)
        for out, item in zip((images, labels, valid, shares, quality, weight), (img, lab, val, share, q, w)):
            out.append(item)
    t = [torch.from_numpy(np.stack(x)) for x in (images, labels, valid, shares, quality, weight)]
    return (t[0][:, None].float(), *t[1:])


def loss_terms(model: torch.nn.Module, batch, aux_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(total loss, main MSE) of a batch; the regional model adds its auxiliary map losses."""
    x, y, v, share, cell_q, cell_w = batch
    x = x.contiguous(memory_format=torch.channels_last)
    v = v.float()
    if hasattr(model, "maps"):
        q_map, attention = model.maps(x)
        logits = attention.flatten(2)
        pred = (torch.softmax(logits, dim=2) * q_map.flatten(2)).sum(dim=2)
        mse = ((pred - y) ** 2 * v).sum() / v.sum().clamp(min=1)
        region_ce = -(share.flatten(2) * torch.log_softmax(logits, dim=2)).sum(dim=2)
        region_ce = (region_ce * v).sum() / v.sum().clamp(min=1)
        q_loss = ((q_map[:, 0] - cell_q) ** 2 * cell_w).sum() / cell_w.sum().clamp(min=1e-3)
        return mse + aux_weight * (q_loss + 0.3 * region_ce), mse
    pred = model(x)
    mse = ((pred - y) ** 2 * v).sum() / v.sum().clamp(min=1)
    return mse, mse


def torch_predictor(model: torch.nn.Module):
    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(batch)).numpy()
    return predict


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed if args.stream_seed < 0 else args.stream_seed)
    out = Path(args.out)
    checkpoint = Path(args.checkpoint or Path("training/runs") / f"{out.name}.pt")
    checkpoint.parent.mkdir(parents=True, exist_ok=True)

    try:
        frames = load_frames(args.data)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    train, val, test = split_by_patient(frames, (0.15, 0.15), args.seed)
    log.info("frames: %d train, %d validation, %d test (by patient)", len(train), len(val), len(test))
    val_images, val_labels, val_valid = degraded_set(val, 8, args.seed + 1)

    model = (build_regional_model(args.width, args.pre_pool) if args.arch == "regional"
             else build_model(args.width, pre_pool=args.pre_pool))
    if args.init:
        missing, _ = model.load_state_dict(torch.load(args.init), strict=False)
        log.info("initialised from %s (%d tensors new)", args.init, len(missing))
    model = model.to(memory_format=torch.channels_last)   # faster depthwise convolutions on CPU
    log.info("MobileNetV2 width %.2f, %d parameters", args.width, count_parameters(model))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 50) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * s / max(args.steps, 1)))))
    best, history, start = math.inf, [], time.time()
    for step in range(1, args.steps + 1):
        model.train()
        loss, mse = loss_terms(model, make_batch(train, args.batch, rng), args.aux_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        over = args.max_minutes and (time.time() - start) / 60 > args.max_minutes
        if step % args.eval_every == 0 or step == args.steps or over:
            model.eval()
            scores = agreement(predict_all(torch_predictor(model), val_images), val_labels, val_valid)
            history.append({"step": step, "loss": float(loss.detach()), **{k: scores[k] for k in ("mse", "spearman", "accuracy")}})
            log.info("step %d loss %.3f (mse %.3f) | validation mse %.3f rho %.3f acc %.3f | %.1f min", step, float(loss), float(mse),
                     scores["mse"], scores["spearman"], scores["accuracy"], (time.time() - start) / 60)
            if scores["mse"] < best:
                best = scores["mse"]
                torch.save(model.state_dict(), checkpoint)
        if over:
            log.info("stopping: --max-minutes reached")
            break

    if args.steps > 0:   # --steps 0: only package the --init weights
        model.load_state_dict(torch.load(checkpoint))
    model = model.to(memory_format=torch.contiguous_format).eval()
    if args.mirror_tta:
        model = MirrorAveraged(model).eval()
    raw_val = predict_all(torch_predictor(model), val_images)
    correction = fit_bias_correction(raw_val, val_labels, val_valid)
    out.mkdir(parents=True, exist_ok=True)
    export_onnx(model, out / "model.onnx")
    np.save(out / "slope_intercept_bias_correction.npy", correction)

    def corrected(batch: np.ndarray) -> np.ndarray:
        return (torch_predictor(model)(batch) - correction[1]) / correction[0]
    result = {"test": report(corrected, test), "test_uncorrected": report(torch_predictor(model), test)["agreement"],
              "validation": agreement((raw_val - correction[1]) / correction[0], val_labels, val_valid),
              "bias_correction": {"slope": correction[0], "intercept": correction[1]}}
    (out / "report.json").write_text(json.dumps(result, indent=1))
    (out / "training.json").write_text(json.dumps({
        "args": vars(args), "parameters": count_parameters(model), "history": history,
        "train_frames": [g.name for g in train], "validation_frames": [g.name for g in val],
        "test_frames": [g.name for g in test], "minutes": (time.time() - start) / 60}, indent=1))
    log.info("test: %s", json.dumps(result["test"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
