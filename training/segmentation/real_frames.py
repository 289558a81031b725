"""Real-frame check of the segmentation: how it holds on real loops that have no labels.

    .venv/bin/python -m training.segmentation.real_frames [LOOP ...] [--model NAME] [--framing fan|frame]
        [--montage-dir docs] [--json OUT]

Per loop (default: the bundled E95 loop and ../shared/data/loops/echotk_a4c.nii.gz), through the
app's own framing, segmentation, clean-up and region division:
- raw network output: share of frames with exactly one LV, MYO and LA component inside the fan,
  and the share of labelled pixels the network put outside the fan (both before the clean-up);
- after the clean-up: share of frames with an LV, MYO and LA; MYO wall thickness in mm (median,
  p5, p95 of the local thickness along the wall's ridge, frames pooled; real walls are ~6–15 mm);
  share of frames with all six myocardial regions valid (also from the network's walls alone, and
  the share of frames whose wall the clean-up completed: `echoquality.core.wall`), and with all eight;
  frame-to-frame Dice of the MYO (consecutive frames);
- a montage PNG per loop (12 frames: contours of LV/MYO/LA and the regions).
Spacing comes from the file; the E95 MP4 stores none, so the app's default (frame height = 160 mm)
applies.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import fast  # noqa: F401  (FAST before anything that may load Qt)
import cv2
import numpy as np

from echoquality.core.cleanup import LA, LV, MYO, clean_labels
from echoquality.core.framing import network_view
from echoquality.inference.registry import DEFAULT_SEGMENTATION, load_segmentation_model
from echoquality.core.regions import divide_myocardium
from echoquality.sources.playback import open_source, source_stem

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LOOPS = [ROOT / "data" / "samples" / "e95_a4c.mp4", ROOT.parent / "shared" / "data" / "loops" / "echotk_a4c.nii.gz"]
REGION_COLOURS = np.array([(0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
                           (145, 30, 180), (70, 240, 240), (240, 50, 230)], np.uint8)
log = logging.getLogger("real_frames")


def components_inside(mask: np.ndarray) -> int:
    """Number of 8-connected components of a bool mask."""
    return cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1


def wall_thickness_mm(myo: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Local MYO thickness (mm) sampled on the wall's ridge: twice the distance to the nearest non-wall pixel."""
    if not myo.any():
        return np.zeros(0)
    dist = cv2.distanceTransform(np.pad(myo, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    ridge = myo & (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8))) & (dist > 0)
    return (2.0 * dist[ridge] - 1.0) * spacing_mm


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def overlay(image: np.ndarray, labels: np.ndarray, region_map: np.ndarray) -> np.ndarray:
    """BGR tile: the network view with region colours blended in and LV/MYO/LA contours."""
    tile = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    colours = REGION_COLOURS[np.clip(region_map, 0, 8)][..., ::-1]
    blend = region_map > 0
    tile[blend] = (0.5 * tile[blend] + 0.5 * colours[blend]).astype(np.uint8)
    for label, colour in ((LV, (0, 0, 255)), (MYO, (0, 255, 0)), (LA, (255, 0, 0))):
        contours, _ = cv2.findContours((labels == label).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(tile, contours, -1, colour, 1)
    return tile


def check_loop(path: Path, model, framing: str = "fan", montage_dir: Path | None = None, view: str = "a4c") -> dict:
    """The real-frame numbers of one loop (see the module docstring)."""
    source = open_source(str(path))
    one_each, outside, present, six, eight, thickness, f2f, tiles = [], [], [], [], [], [], [], []
    six_drawn, completed = [], []
    previous_myo, box = None, None
    frames = list(source)
    keep = set(np.linspace(0, len(frames) - 1, min(12, len(frames))).round().astype(int).tolist())
    for frame in frames:
        nv = network_view(frame.image, frame.spacing, previous_box=box, framing=framing)
        box = nv.framing.box
        raw = model.predict(nv.image[None, None].astype(np.float32))[0]
        inside = raw * nv.sector
        one_each.append(all(components_inside(inside == k) == 1 for k in (LV, MYO, LA)))
        outside.append(float(((raw > 0) & ~nv.sector).sum() / max(1, (raw > 0).sum())))
        labels = clean_labels(raw, nv.sector)
        present.append(all((labels == k).any() for k in (LV, MYO, LA)))
        spacing = nv.framing.network_spacing
        regions = divide_myocardium(labels, spacing, nv.sector, view)
        six.append(bool(regions.valid[:6].all()))
        drawn = clean_labels(raw, nv.sector, complete=False)     # the network's own walls, not completed
        completed.append(bool((drawn != labels).any()))
        six_drawn.append(bool(divide_myocardium(drawn, spacing, nv.sector, view).valid[:6].all()) if completed[-1]
                         else six[-1])
        eight.append(bool(regions.valid.all()))
        thickness.append(wall_thickness_mm(labels == MYO, float(np.sqrt(spacing[0] * spacing[1]))))
        myo = labels == MYO
        if previous_myo is not None:
            f2f.append(dice(myo, previous_myo))
        previous_myo = myo
        if frame.index in keep:
            tiles.append(overlay(nv.image, labels, regions.region_map))
    walls = np.concatenate(thickness) if thickness else np.zeros(0)
    result = {
        "loop": str(path), "frames": len(frames), "framing": framing,
        "one_lv_myo_la_inside_fan_raw": float(np.mean(one_each)),
        "labelled_pixels_outside_fan_raw": float(np.mean(outside)),
        "lv_myo_la_present": float(np.mean(present)),
        "six_myocardial_regions_valid": float(np.mean(six)),
        "six_myocardial_regions_valid_network_walls_only": float(np.mean(six_drawn)),
        "wall_completed": float(np.mean(completed)),
        "all_eight_regions_valid": float(np.mean(eight)),
        "wall_thickness_mm": {"median": float(np.median(walls)) if walls.size else None,
                              "p5": float(np.percentile(walls, 5)) if walls.size else None,
                              "p95": float(np.percentile(walls, 95)) if walls.size else None},
        "myo_frame_to_frame_dice": float(np.mean(f2f)) if f2f else None,
    }
    if montage_dir is not None and tiles:
        while len(tiles) % 6:
            tiles.append(np.zeros_like(tiles[0]))
        montage = np.vstack([np.hstack(tiles[i:i + 6]) for i in range(0, len(tiles), 6)])
        out = montage_dir / f"real_frames_{source_stem(str(path))}_{model.name}.png"
        cv2.imwrite(str(out), montage)
        result["montage"] = str(out)
    return result


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("loops", nargs="*", type=Path, default=DEFAULT_LOOPS)
    p.add_argument("--model", default=DEFAULT_SEGMENTATION)
    p.add_argument("--framing", choices=("fan", "frame"), default=None,
                   help="how frames reach the network (default: the model's own)")
    p.add_argument("--montage-dir", type=Path, default=ROOT / "docs")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    model = load_segmentation_model(args.model, "onnxruntime-cpu")
    framing = args.framing or getattr(model, "framing", "fan")
    args.montage_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for loop in args.loops:
        r = check_loop(loop, model, framing, args.montage_dir)
        results.append(r)
        w = r["wall_thickness_mm"]
        print(f"{Path(loop).name} ({r['frames']} frames, {model.name}, framing {framing}): "
              f"one LV/MYO/LA inside fan (raw) {r['one_lv_myo_la_inside_fan_raw']:.0%}, "
              f"labels outside fan (raw) {r['labelled_pixels_outside_fan_raw']:.1%}, "
              f"LV/MYO/LA present {r['lv_myo_la_present']:.0%}, six myocardial regions {r['six_myocardial_regions_valid']:.0%} "
              f"(network's walls alone {r['six_myocardial_regions_valid_network_walls_only']:.0%}, wall completed in "
              f"{r['wall_completed']:.0%} of frames), "
              f"all eight {r['all_eight_regions_valid']:.0%}, wall thickness median {w['median']:.1f} mm "
              f"(p5 {w['p5']:.1f}, p95 {w['p95']:.1f}), MYO frame-to-frame Dice {r['myo_frame_to_frame_dice']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
