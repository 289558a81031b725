"""How much the segmentation recipe moves with the initialisation alone, and whether two trainings help together.

    .venv/bin/python -m training.segmentation.member_check --data ../shared/data/camus_subset \
        --model camus_seg_lite --other OTHER_FOLDER [--json models/camus_seg_lite/second_member.json]

OTHER_FOLDER is the shipped command run again with `--init-seed 1` (same split by patient, other initial
weights and augmentation draws). Reported, through the app's framing and clean-up:
- held-out Dice of each model, one pass and mirror averaged, and of the two averaged (their class
  probabilities, one pass each: the same two passes as mirror averaging costs, and with mirroring: four);
- their agreement on the real loops (Dice between the two models' labels, mean and p5 over frames): how much
  of a structure's footprint depends on the training draw, on scanners neither saw.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import fast  # noqa: F401  (FAST before anything that may load Qt)
import numpy as np

from echoquality.core.cleanup import LA, LV, MYO, clean_labels
from echoquality.core.framing import network_view
from echoquality.inference.registry import load_segmentation_model
from echoquality.sources.playback import open_source

from .dataset import load_folder, split_by_patient
from .metrics import dice_table
from .real_frames import DEFAULT_LOOPS, dice
from .train import framed

STRUCTURES = (("LV", LV), ("MYO", MYO), ("LA", LA))
log = logging.getLogger("member_check")


def probabilities(model, images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) class probabilities of uint8 network views, one pass."""
    scores = model.scores(images[:, None].astype(np.float32), mirror=False)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mirror_averaged(model, images: np.ndarray, one_pass: np.ndarray) -> np.ndarray:
    """The frames' one-pass probabilities averaged with their mirror images' (one more pass)."""
    return 0.5 * (one_pass + probabilities(model, np.ascontiguousarray(images[..., ::-1]))[..., ::-1])


def held_out_dice(models: list, data: str, seed: int) -> dict[str, dict[str, float]]:
    """Mean held-out Dice (frames as stored) of each model and of their average, one pass and mirrored."""
    _, val = split_by_patient(load_folder(data), 0.2, seed)
    images, masks, sectors = framed(val)

    def score(p: np.ndarray) -> dict[str, float]:
        labels = np.stack([clean_labels(np.argmax(q, 0).astype(np.uint8), s) for q, s in zip(p, sectors)])
        return {k: round(v["mean"], 3) for k, v in dice_table(labels, masks).items()}

    one = [probabilities(m, images) for m in models]
    both = [mirror_averaged(m, images, p) for m, p in zip(models, one)]
    out = {}
    for i, (p, pm) in enumerate(zip(one, both)):
        out[f"model {i + 1}, one pass"] = score(p)
        out[f"model {i + 1}, mirror averaged"] = score(pm)
    out["both, one pass each"] = score(sum(one) / len(one))
    out["both, mirror averaged"] = score(sum(both) / len(both))
    return out


def loop_agreement(models: list, loop: Path) -> dict[str, dict[str, float]]:
    """Dice between the models' cleaned labels on every frame of a real loop (mean and p5 per structure)."""
    values: dict[str, list[float]] = {name: [] for name, _ in STRUCTURES}
    box = None
    for frame in open_source(str(loop)):
        nv = network_view(frame.image, frame.spacing, previous_box=box)
        box = nv.framing.box
        a, b = (clean_labels(m.predict(nv.image[None, None].astype(np.float32), mirror=False)[0], nv.sector)
                for m in models)
        for name, label in STRUCTURES:
            values[name].append(dice(a == label, b == label))
    return {name: {"mean": round(float(np.mean(v)), 3), "p5": round(float(np.percentile(v, 5)), 3)}
            for name, v in values.items()}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="the CAMUS folder the models were validated on")
    p.add_argument("--model", default="camus_seg_lite")
    p.add_argument("--other", required=True, help="the same recipe trained with another --init-seed")
    p.add_argument("--seed", type=int, default=0, help="the split both were trained on (train.py --seed)")
    p.add_argument("--loops", nargs="*", type=Path, default=DEFAULT_LOOPS)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    models = [load_segmentation_model(m, "onnxruntime-cpu") for m in (args.model, args.other)]
    other_run = json.loads((Path(args.other) / "training.json").read_text()) \
        if (Path(args.other) / "training.json").is_file() else {}
    report = {"model": args.model, "other": {"command": other_run.get("command", ""),
                                              "init_seed": other_run.get("init_seed")},
              "held_out": held_out_dice(models, args.data, args.seed),
              "real_loops": {Path(loop).name: loop_agreement(models, loop) for loop in args.loops}}
    for name, row in report["held_out"].items():
        print(f"{name:<28} " + " ".join(f"{k} {v:.3f}" for k, v in row.items()))
    for loop, row in report["real_loops"].items():
        print(f"{loop}: the two models agree " + ", ".join(f"{k} {v['mean']:.3f} (p5 {v['p5']:.3f})"
                                                            for k, v in row.items()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
