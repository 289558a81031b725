"""Train the echo segmentation network and export it to models/<name>/.

    .venv/bin/python -m training.segmentation.train --data ../shared/data/camus_subset --out models/NAME

Seeded: the same command on the same machine gives the same model. Validation is by patient.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # shared 2-core machines: do not spin while waiting

import numpy as np
import torch
import torch.nn.functional as F

from echoquality.core.cleanup import clean_labels
from echoquality.core.framing import network_view
from training.common import MirrorAveraged, export_onnx

from .augment import AugmentConfig, Source, augment, source_of
from .card import write_card
from .dataset import DatasetError, Sample, load_folder, split_by_patient
from .metrics import dice_table
from .pseudo_labels import pseudo_sources
from .model import N_CLASSES, build_model, count_parameters

log = logging.getLogger("train")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="training folder (images/ + masks/, or the CAMUS release)")
    p.add_argument("--out", required=True, help="model folder to write (model.onnx, training.json)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-seed", type=int, default=None,
                   help="seed of the weights' initialisation and of the augmentation (default: --seed; "
                        "another value trains another member on the same split)")
    p.add_argument("--epochs", type=int, default=180)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--val-fraction", type=float, default=0.2, help="fraction of patients held out (0: train on all)")
    p.add_argument("--widths", type=int, nargs="+", default=[24, 48, 96, 128, 192])
    p.add_argument("--depths", type=int, nargs="+", default=[1, 2, 3, 3])
    p.add_argument("--full-res", type=int, default=8, help="channels of the full-resolution refinement (0: none)")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True,
                   help="mark the model for mirror averaging (metadata mirror_average=1: the app averages the scores of "
                        "the frame and its mirror image, except where it needs speed, e.g. live)")
    p.add_argument("--ema", type=float, default=0.995, help="decay of the weight average that gets exported")
    p.add_argument("--native-share", type=float, default=0.0,
                   help="share of training frames shown as stored (no re-imaging; mirror and grey levels only)")
    p.add_argument("--edge-cut", type=float, default=0.0,
                   help="share of re-imaged frames exported as the sector alone, cut by the image's edges")
    p.add_argument("--pseudo-loops", nargs="*", default=[],
                   help="real unlabelled loops whose frames, labelled by --pseudo-model as the app labels them, join the "
                        "training frames (self-training)")
    p.add_argument("--pseudo-model", default="camus_seg_lite", help="model that labels the --pseudo-loops")
    p.add_argument("--pseudo-every", type=int, default=8, help="keep every N-th frame of the --pseudo-loops")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-every", type=int, default=30)
    p.add_argument("--stop-after", type=int, default=0,
                   help="end training after this many epochs of the --epochs schedule (0: the whole schedule)")
    p.add_argument("--export-only", action="store_true",
                   help="skip training: re-export and re-validate the weights in --checkpoint")
    p.add_argument("--checkpoint", default="", help="where to keep the PyTorch weights (default: training/runs/NAME.pt)")
    return p.parse_args(argv)


def batches(sources: list[Source], batch: int, rng: np.random.Generator, cfg: AugmentConfig):
    """Shuffled, re-imaged and framed (images (B,1,H,W) float32 raw 0-255, labels (B,H,W) int64) batches of one epoch."""
    order = rng.permutation(len(sources))
    for start in range(0, len(order) - batch + 1, batch):
        pairs = [augment(sources[i], rng, cfg) for i in order[start:start + batch]]
        images = torch.from_numpy(np.stack([p[0] for p in pairs])[:, None])
        labels = torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.int64))
        yield images, labels


def dice_ce_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus soft Dice over the foreground structures (batch-wise)."""
    ce = F.cross_entropy(scores, labels)
    probs = scores.softmax(1)[:, 1:]
    onehot = F.one_hot(labels, N_CLASSES).permute(0, 3, 1, 2)[:, 1:].float()
    inter = (probs * onehot).sum((0, 2, 3))
    denom = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    return ce + (1.0 - (2.0 * inter + 1.0) / (denom + 1.0)).mean()


def learning_rate(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up then cosine decay to 1% of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * t)))


@torch.no_grad()
def predict(model: torch.nn.Module, images: np.ndarray, batch: int = 16) -> np.ndarray:
    """Label maps (N,H,W) for uint8 images (N,H,W)."""
    model.eval()
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(images[i:i + batch, None].astype(np.float32))
        out.append(model(x).argmax(1).numpy().astype(np.uint8))
    return np.concatenate(out)


def framed(samples: list[Sample], mirrored: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, reference labels, fan masks) of frames as the app frames them (network size)."""
    images, masks, sectors = [], [], []
    for s in samples:
        image, mask = (s.image[:, ::-1], s.mask[:, ::-1]) if mirrored else (s.image, s.mask)
        view = network_view(np.ascontiguousarray(image))
        images.append(view.image)
        masks.append(view.framing.to_network(np.ascontiguousarray(mask), nearest=True) * view.sector)
        sectors.append(view.sector)
    return np.stack(images), np.stack(masks), np.stack(sectors)


def evaluate(model: torch.nn.Module, samples: list[Sample]) -> dict:
    """Dice table on frames framed as the app does, cleaned up as the app does; as stored and mirrored."""
    table = {}
    for key, mirrored in (("as_is", False), ("mirrored", True)):
        images, masks, sectors = framed(samples, mirrored)
        preds = np.stack([clean_labels(p, s) for p, s in zip(predict(model, images), sectors)])
        table[key] = dice_table(preds, masks)
    return table


def save_checkpoint(model: torch.nn.Module, args: argparse.Namespace, path: Path) -> None:
    """PyTorch weights with the architecture needed to rebuild them."""
    torch.save({"state_dict": model.state_dict(), "widths": args.widths, "depths": args.depths,
                "full_res": args.full_res}, path)


def init_seed(args: argparse.Namespace) -> int:
    """The seed of initialisation and augmentation (the split always follows --seed)."""
    return args.seed if args.init_seed is None else args.init_seed


def summary(table: dict) -> str:
    return " ".join(f"{k} {v['mean']:.3f}" for k, v in table.items())


def fit(model: torch.nn.Module, ema: torch.nn.Module, train_set: list[Source], val_set: list[Sample],
        args: argparse.Namespace, checkpoint: Path) -> list[dict]:
    """Train `model`, keeping its exponential moving average in `ema`; returns the per-epoch history."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    rng = np.random.default_rng(init_seed(args))
    cfg = AugmentConfig(p_native=args.native_share, p_edge_cut=args.edge_cut)
    steps_per_epoch = len(train_set) // args.batch
    total = steps_per_epoch * args.epochs
    step, history, started = 0, [], time.time()
    for epoch in range(args.stop_after or args.epochs):
        model.train()
        losses = []
        for images, labels in batches(train_set, args.batch, rng, cfg):
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(step, total, args.lr, warmup=steps_per_epoch * 3)
            loss = dice_ce_loss(model(images), labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            decay = min(args.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
                    if e.dtype.is_floating_point:
                        e.mul_(decay).add_(m.detach(), alpha=1 - decay)
                    else:
                        e.copy_(m)
            losses.append(loss.item())
            step += 1
        record = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "minutes": (time.time() - started) / 60}
        if val_set and ((epoch + 1) % args.eval_every == 0 or epoch + 1 in (args.epochs, args.stop_after)):
            record["val"] = evaluate(ema, val_set)["as_is"]
            save_checkpoint(ema, args, checkpoint)
            log.info("epoch %d loss %.4f val %s (%.1f min)", epoch + 1, record["loss"], summary(record["val"]),
                     record["minutes"])
        else:
            log.info("epoch %d loss %.4f (%.1f min)", epoch + 1, record["loss"], record["minutes"])
        history.append(record)
    return history


def train(args: argparse.Namespace) -> dict:
    """Train, evaluate on held-out patients, export ONNX; returns the run record."""
    torch.manual_seed(init_seed(args))
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    samples = load_folder(args.data)
    train_set, val_set = split_by_patient(samples, args.val_fraction, args.seed)
    log.info("train %d frames, validation %d frames (%d patients)", len(train_set), len(val_set),
             len({s.patient for s in val_set}))
    out = Path(args.out)
    name = out.name
    checkpoint = Path(args.checkpoint or f"training/runs/{name}.pt")
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    saved = torch.load(checkpoint) if args.export_only else None
    if saved:
        args.widths, args.depths, args.full_res = saved["widths"], saved["depths"], saved["full_res"]
    model = build_model(tuple(args.widths), tuple(args.depths), args.full_res)
    ema = build_model(tuple(args.widths), tuple(args.depths), args.full_res)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    log.info("parameters: %d", count_parameters(model))
    started = time.time()
    if saved:
        ema.load_state_dict(saved["state_dict"])
        previous = json.loads((out / "training.json").read_text()) if (out / "training.json").is_file() else {}
        history, train_minutes = previous.get("history", []), previous.get("train_minutes", 0.0)
        command = previous.get("command") or "python -m training.segmentation.train " + " ".join(
            a for a in sys.argv[1:] if a != "--export-only")
        args.epochs = previous.get("epochs", args.epochs)
    else:
        sources = [source_of(s.image, s.mask) for s in train_set]
        sources += pseudo_sources(args.pseudo_loops, args.pseudo_model, args.pseudo_every)
        history = fit(model, ema, sources, val_set, args, checkpoint)
        train_minutes = (time.time() - started) / 60
        command = "python -m training.segmentation.train " + " ".join(sys.argv[1:])
    save_checkpoint(ema, args, checkpoint)
    # One pass in the graph; the app does the mirror averaging when the metadata asks for it (and may skip it).
    export_onnx(ema, out / "model.onnx", torch.rand(2, 1, 256, 256) * 255.0, output_name="scores",
                metadata={"framing": "fan", "mirror_average": "1" if args.tta else "0"})
    exported = MirrorAveraged(ema) if args.tta else ema
    run = {
        "name": name, "data": str(args.data), "seed": args.seed, "init_seed": init_seed(args), "epochs": args.epochs,
        "stop_after": args.stop_after or args.epochs, "batch": args.batch,
        "lr": args.lr, "weight_decay": args.weight_decay, "ema": args.ema, "widths": args.widths,
        "depths": args.depths, "full_res": args.full_res, "tta": args.tta, "native_share": args.native_share,
        "edge_cut": args.edge_cut, "pseudo_loops": [str(p) for p in args.pseudo_loops], "pseudo_model": args.pseudo_model,
        "pseudo_every": args.pseudo_every,
        "parameters": count_parameters(model),
        "command": command,
        "train_frames": len(train_set), "train_patients": len({s.patient for s in train_set}),
        "val_frames": len(val_set), "val_patients": sorted({s.patient for s in val_set}),
        "train_minutes": train_minutes,
        "validation": evaluate(exported, val_set) if val_set else None,
        "validation_single_pass": evaluate(ema, val_set) if val_set and args.tta else None,
        "history": history,
    }
    (out / "training.json").write_text(json.dumps(run, indent=1))
    return run


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    try:
        run = train(args)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        from benchmarks.bench_segmentation import benchmark, machine_description

        speed = {"model": out.name, "machine": machine_description(), "results": benchmark(str(out), 300)}
        (out / "speed.json").write_text(json.dumps(speed, indent=1))
    except Exception as error:  # speed is documentation; a failing benchmark must not lose the trained model
        log.warning("speed not measured: %s", error)
    write_card(out)
    print(f"wrote {out / 'model.onnx'} and its card {out / 'README.md'}")
    if run["validation"]:
        print("validation Dice (held-out patients):", summary(run["validation"]["as_is"]),
              "| mirrored:", summary(run["validation"]["mirrored"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
