"""The probability of 'other' at which the app calls a frame not apical, measured on what the fold models never saw.

    .venv/bin/python -m training.view.other_limit --data ../shared/data/camus_subset \
        --negatives ../shared/data/non_apical [--seed 0] [--copies 20] [--json models/view_classifier/other_limit.json]
        [--write]

Scoring a view that is not apical is worse than saying nothing, so the app need not wait for 'other' to be the
most probable class: it calls a frame `other` once the (smoothed) probability of 'other' reaches a limit
(`echoquality.core.view.estimate`). This command retrains the view classifier's fold models (the shipped recipe,
same seed, so the same folds and samples as its card's validation) and measures, for limits from 0.5 down to 0.1:
- apical frames rejected: the held-out CAMUS frames as stored, as exports whose fan fills the image and cut by
  the image's edges (`training.segmentation.framing_check`), and re-imaged as other scanners would show them
  (these also through the app's later checks: rejected by any check);
- real parasternal views let through: the sectors of the held-out DICOM files (each tested by the fold model that
  never saw that file), zoomed, shifted and mirrored `--copies` times, first by the view classifier alone, then
  through the app's later checks too (the segmentation's unsure limit and the LV-wall check, as recordings run).
Of the limits that reject at most MAX_REJECTED of the held-out frames as stored and as exported with the fan
filling the image, and lie at least MARGIN above every frame of the real apical loops (the shipped model), the
chosen one lets the fewest parasternal copies be scored and, among those, rejects the fewest apical frames
(the highest limit). `--write` puts it in the shipped model's ONNX metadata (`other_limit`).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import fast  # noqa: F401  (FAST before anything that may load Qt)
import numpy as np
import torch

from echoquality.core.cleanup import clean_labels
from echoquality.core.framing import network_view
from echoquality.core.gate import anatomy_verdict
from echoquality.core.regions import divide_myocardium
from echoquality.core.segmentation import segment
from echoquality.core.view import VIEW_CLASSES, view_input
from echoquality.inference.registry import DEFAULT_VIEW_MODEL, load_segmentation_model, load_view_model, resolve_model
from echoquality.sources.playback import open_source
from training.segmentation.augment import reimage, source_of
from training.segmentation.dataset import load_folder
from training.segmentation.framing_check import CUTS, recut
from training.segmentation.real_frames import DEFAULT_LOOPS
from training.segmentation.unsure_check import write_metadata

from . import samples as S
from .train import app_input, build_bank, fold_of_groups, parse_args as train_args, predict, train_members

log = logging.getLogger("other_limit")
LIMITS = tuple(round(0.5 - 0.05 * i, 2) for i in range(9))      # 0.5, 0.45, ..., 0.1
MAX_REJECTED = 0.01
MARGIN = 0.1
OTHER = VIEW_CLASSES.index("other")
REIMAGED = 5                     # re-imaged copies of each held-out CAMUS frame
REIMAGED_NAME = f"re-imaged as other scanners x{REIMAGED}"
# The exports whose rejections bound the limit: what archives and other hospitals most often hold.
BOUNDING = ("as stored (fan inside a black screen)", "fan's bounding box = the image")


def is_other(p: np.ndarray, limit: float | None) -> np.ndarray:
    """Which rows of (N, 3) probabilities the app calls 'other' at this limit (None: only when it is the largest)."""
    largest = p.argmax(axis=1) == OTHER
    return largest if limit is None else largest | (p[:, OTHER] >= limit)


def parasternal_sectors(negatives: Path, copies: int, rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    """Each parasternal DICOM's 2-D sector as stored and `copies` - 1 zoomed / shifted / mirrored copies."""
    out = {}
    for path in sorted(negatives.glob("*.dcm")):
        screen, box = S.read_dicom_screen(path)
        if box is None or path.stem not in S.PARASTERNAL:
            continue
        sector = S.sector_of(screen, box)
        out[path.stem] = [sector] + [S.jitter_screen(sector, rng, (0.8, 1.3)) for _ in range(copies - 1)]
    return out


def passes_later_checks(segmentation, image: np.ndarray) -> bool:
    """Whether a frame the view classifier let through would be scored: the segmentation's unsure limit (as run on
    recordings) and the LV-wall check."""
    view = network_view(image)
    labels = clean_labels(segment(segmentation, view.image, sector=view.sector), view.sector)
    regions = divide_myocardium(labels, view.framing.network_spacing, view.sector, "a4c")
    return anatomy_verdict(labels, regions.valid).ok


def held_out_probabilities(data: Path, negatives: Path, seed: int, copies: int, members: int = 1
                           ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, list[np.ndarray]],
                                      list[np.ndarray]]:
    """Fold models' probabilities on held-out apical frames (per export) and on held-out parasternal copies (per
    file), the parasternal copies themselves and the re-imaged apical screens."""
    args = train_args(["--data", str(data), "--negatives", str(negatives), "--out", "unused", "--seed", str(seed),
                       "--members", str(members)])
    camus = load_folder(data)
    rng = np.random.default_rng(seed + 7)
    apical = {cut.name: np.stack([app_input(recut(s.image, s.mask, cut)[0]) for s in camus]) for cut in CUTS}
    screens = [reimage(source_of(s.image, s.mask), rng)[0] for s in camus for _ in range(REIMAGED)]
    reimaged = np.stack([app_input(screen) for screen in screens])
    sectors = parasternal_sectors(negatives, copies, rng)
    sector_inputs = {stem: np.stack([app_input(im) for im in ims]) for stem, ims in sectors.items()}
    bank = build_bank(args, camus)
    fold = fold_of_groups(bank.groups, args.folds, seed)
    sample_fold = np.array([fold[g] for g in bank.groups])
    held = {name: np.zeros((len(camus), len(VIEW_CLASSES))) for name in apical}
    held[REIMAGED_NAME] = np.zeros((len(camus) * REIMAGED, len(VIEW_CLASSES)))
    para: dict[str, np.ndarray] = {}
    for k in range(args.folds):
        log.info("fold %d/%d", k + 1, args.folds)
        model = train_members(bank.images[sample_fold != k], bank.labels[sample_fold != k], args, seed + k)
        mine = np.array([fold.get(s.patient, -1) == k for s in camus])
        for name, inputs in apical.items():
            held[name][mine] = predict(model, inputs[mine])
        held[REIMAGED_NAME][np.repeat(mine, REIMAGED)] = predict(model, reimaged[np.repeat(mine, REIMAGED)])
        for stem, inputs in sector_inputs.items():
            if fold.get(stem, -1) == k:
                para[stem] = predict(model, inputs)
    return held, para, sectors, screens


def loop_other_probabilities(loops: list[Path]) -> dict[str, float]:
    """The largest probability of 'other' the shipped model gives any frame of each real apical loop."""
    model = load_view_model()
    out = {}
    for loop in loops:
        box, top = None, 0.0
        for frame in open_source(str(loop)):
            view = network_view(frame.image, frame.spacing, previous_box=box)
            box = view.framing.box
            top = max(top, float(model.predict(view_input(view.image)[None, None])[0, OTHER]))
        out[loop.name] = top
    return out


def trade_off(held: dict[str, np.ndarray], para: dict[str, np.ndarray], later: dict[str, np.ndarray],
              reimaged_later: np.ndarray | None = None) -> list[dict]:
    """One row per limit (None first: 'other' only when largest): apical rejected per export (and the re-imaged
    frames rejected by any check, given which pass the later checks), parasternal copies let through by the
    classifier and scored after the later checks."""
    rows = []
    for limit in (None,) + LIMITS:
        through = {stem: ~is_other(p, limit) for stem, p in para.items()}
        rejected = {name: round(float(is_other(p, limit).mean()), 4) for name, p in held.items()}
        if reimaged_later is not None:
            scored = ~is_other(held[REIMAGED_NAME], limit) & reimaged_later
            rejected[REIMAGED_NAME + ", by any check"] = round(float(1 - scored.mean()), 4)
        rows.append({
            "limit": limit,
            "apical_rejected": rejected,
            "parasternal_copies": int(sum(len(t) for t in through.values())),
            "parasternal_through_classifier": int(sum(int(t.sum()) for t in through.values())),
            "parasternal_scored": int(sum(int((t & later[stem]).sum()) for stem, t in through.items())),
        })
    return rows


def choose(rows: list[dict], loops: dict[str, float]) -> float:
    """Among the limits keeping BOUNDING exports' rejections within MAX_REJECTED and MARGIN above the real loops,
    those that let the fewest parasternal copies be scored, and of them the highest (fewest apical frames lost)."""
    floor = max(loops.values(), default=0.0) + MARGIN
    fine = [r for r in rows if r["limit"] is not None and r["limit"] >= floor
            and all(r["apical_rejected"][name] <= MAX_REJECTED for name in BOUNDING)]
    if not fine:
        raise SystemExit("no limit keeps the held-out frames' rejections within bounds")
    fewest = min(r["parasternal_scored"] for r in fine)
    return max(r["limit"] for r in fine if r["parasternal_scored"] == fewest)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="the CAMUS frames the view classifier was trained on")
    p.add_argument("--negatives", required=True, type=Path, help="the non-apical DICOMs (../shared/data/non_apical)")
    p.add_argument("--seed", type=int, default=0, help="the shipped model's training seed (same folds and samples)")
    p.add_argument("--members", type=int, default=1, help="the shipped model's --members (networks averaged)")
    p.add_argument("--copies", type=int, default=20, help="copies of each parasternal sector")
    p.add_argument("--threads", type=int, default=1,
                   help="PyTorch threads: as the shipped model was trained (training.view.train --threads), since "
                        "another count trains other fold models")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--write", action="store_true", help="put the chosen limit in the shipped model's ONNX metadata")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    held, para, sectors, screens = held_out_probabilities(args.data, args.negatives, args.seed, args.copies,
                                                          args.members)
    segmentation = load_segmentation_model()
    later = {stem: np.array([passes_later_checks(segmentation, im) for im in ims]) for stem, ims in sectors.items()}
    reimaged_later = np.array([passes_later_checks(segmentation, screen) for screen in screens])
    loops = loop_other_probabilities([loop for loop in DEFAULT_LOOPS if loop.is_file()])
    rows = trade_off(held, para, later, reimaged_later)
    limit = choose(rows, loops)
    truth = np.array([S.view_of(s.name) for s in load_folder(args.data)])
    accuracy = {name: round(float((p[:, :OTHER].argmax(axis=1) == truth).mean()), 4) for name, p in held.items()
                if len(p) == len(truth)}
    report = {"limit": limit, "seed": args.seed, "members": args.members, "a2c_vs_a4c_accuracy": accuracy, "max_rejected": MAX_REJECTED, "bounding_exports": list(BOUNDING),
              "margin_above_real_loops": MARGIN, "real_loops_max_other": loops, "rows": rows,
              "parasternal_files": sorted(para)}
    for r in rows:
        log.info("limit %s: apical rejected %s; parasternal through classifier %d/%d, scored %d",
                 r["limit"], {k: f"{v:.1%}" for k, v in r["apical_rejected"].items()},
                 r["parasternal_through_classifier"], r["parasternal_copies"], r["parasternal_scored"])
    log.info("chosen limit: %.2f", limit)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    if args.write:
        path = resolve_model(DEFAULT_VIEW_MODEL)
        write_metadata(path, "other_limit", f"{limit:.2f}")
        log.info("wrote other_limit=%.2f into %s", limit, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
