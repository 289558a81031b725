"""Compare our myocardium division with the paper authors' own (the arqee library) on CAMUS masks.

Both divisions run on every mask of the CAMUS subset, resized to 256x256 with nearest neighbour
(the paper's network size). Printed per region: Dice (mean, median, 5th percentile, worst and
which frame), and for the annulus points the distance between ours and arqee's, and how far
each lies from where MYO meets LA (the paper's definition of the annulus points, Appendix A): the distance to the further of the two.

- Myocardial regions are compared directly: arqee's region polygons are cut to the MYO label
  (they may reach into the LV or LA); ours are taken without annulus discs on top.
- Annulus regions: arqee draws discs of 10 pixels radius at 256x256 (its default), the paper
  says 2 mm. Ours keep 2 mm (3.2 px at the default spacing of 160 mm over 256 rows), so the
  discs are compared by centre distance and by Dice with ours drawn at arqee's 10 px radius.

arqee is not part of this project: export its source (GillesVanDeVyver/arqee, MIT licence) to a
folder outside the repository and pass that folder. Only its divide_segmentation module is
loaded; it needs scikit-image, e.g. in a separate environment:

    python3 -m venv --system-site-packages /tmp/venv-arqee
    /tmp/venv-arqee/bin/pip install scikit-image opencv-python-headless numpy
    /tmp/venv-arqee/bin/python -m benchmarks.compare_arqee_regions /tmp/arqee ../shared/data/camus_subset \\
        [--montage docs/regions_vs_arqee.png] [--worst 8] [--csv out.csv]

The CAMUS data (CC BY-NC-SA 4.0, Leclerc et al. 2019) is only read; the montage is a derived
figure for documentation of this non-commercial research project.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from echoquality.core.regions import ANNULUS_RADIUS_MM, divide_myocardium
from echoquality.core.vocabulary import LA, MYO, REGION_NAMES, default_spacing

SIZE = 256
ARQEE_RADIUS_PX = 10  # arqee's default annulus_area_radius
# A frame where arqee puts more than this share of the MYO in two regions at once is broken there.
ARQEE_BROKEN_OVERLAP = 0.05
# arqee's output channels, in our canonical order (checked on the data: channel 0 lies left).
ARQEE_ORDER = (0, 1, 2, 3, 4, 5, 6, 7)
# BGR colours of regions 1..8 in canonical order.
COLOURS = np.array([[0, 0, 0], [75, 25, 230], [75, 180, 60], [25, 225, 255], [200, 130, 0],
                    [48, 130, 245], [180, 30, 145], [240, 240, 70], [230, 50, 240]], np.uint8)


@dataclass
class Case:
    """Both divisions of one mask and their agreement."""
    name: str
    labels: np.ndarray
    image: np.ndarray | None
    ours: np.ndarray            # (H, W) uint8 region map without discs (1..6)
    ours_discs: np.ndarray      # (H, W) uint8 region map with 2 mm discs (1..8)
    arqee: np.ndarray           # (8, H, W) bool, myocardial channels cut to the MYO
    dice: np.ndarray            # (8,) 6 myocardial + 2 annulus discs at arqee's radius
    ours_annulus: np.ndarray    # (2, 2) y, x left, right (NaN: none)
    arqee_annulus: np.ndarray   # (2, 2) y, x left, right
    arqee_overlap: float        # share of the MYO that arqee puts in two or more myocardial regions
    ours_to_boundary: np.ndarray    # (2,) hinge_gap of our annulus points (left, right)
    arqee_to_boundary: np.ndarray   # (2,) same for arqee's


def load_arqee(folder: Path) -> ModuleType:
    """arqee's divide_segmentation module from an exported source folder (not the whole package)."""
    for path in (folder / "arqee" / "divide_segmentation.py", folder / "divide_segmentation.py"):
        if path.is_file():
            spec = importlib.util.spec_from_file_location("arqee_divide_segmentation", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise FileNotFoundError(f"{folder}: no arqee/divide_segmentation.py in it")


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two boolean masks (NaN when both are empty)."""
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int((a & b).sum()) / total if total else float("nan")


def hinge_gap(labels: np.ndarray, point: np.ndarray) -> float:
    """How far a point is from being where MYO meets LA: its distance to the further of the two (px).

    In the CAMUS masks the MYO and LA rarely touch (a gap of 3-4 px at 256x256 is usual), so a
    point at the hinge scores about that gap; a point in the middle of the valve scores its
    distance to the MYO.
    """
    if not np.all(np.isfinite(point)):
        return float("nan")
    y, x = (int(round(v)) for v in point)
    gaps = []
    for label in (MYO, LA):
        distance = cv2.distanceTransform((labels != label).view(np.uint8), cv2.DIST_L2, 5)
        gaps.append(float(distance[y, x]) if (labels == label).any() else float("inf"))
    return max(gaps)


def arqee_annulus(module: ModuleType, labels: np.ndarray) -> np.ndarray:
    """arqee's two base points as (2, 2) y, x (septal then lateral, as arqee orders them)."""
    contour_lv = module.get_contour(labels, 1, start_near_top=True)
    outer = module.get_contour(labels, (2, 1), start_near_top=True)
    (base_sep, base_lat, _, _), _ = module.find_lv_landmarks(labels, contour_lv, outer, 3, 4, 1)
    return np.array([[base_sep[1], base_sep[0]], [base_lat[1], base_lat[0]]], np.float64)


def compare(name: str, labels: np.ndarray, image: np.ndarray | None, module: ModuleType) -> Case:
    """Run both divisions on one 256x256 label map and measure their agreement."""
    sy, _ = default_spacing(labels.shape[0])
    ours = divide_myocardium(labels, annulus_radius_mm=0.0)
    ours_discs = divide_myocardium(labels)
    ours_big = divide_myocardium(labels, annulus_radius_mm=ARQEE_RADIUS_PX * sy)
    theirs = module.divide_segmentation(labels, annulus_area_radius=ARQEE_RADIUS_PX).astype(bool)
    theirs = theirs[list(ARQEE_ORDER)]
    theirs[:6] &= labels == MYO
    myo = labels == MYO
    overlap = float((theirs[:6].sum(axis=0)[myo] > 1).mean()) if myo.any() else 0.0
    d = np.full(8, np.nan)
    for k in range(6):
        d[k] = dice(ours.region_map == k + 1, theirs[k])
    for k in (6, 7):
        d[k] = dice(ours_big.region_map == k + 1, theirs[k])
    lm = ours.landmarks
    ours_pts = np.full((2, 2), np.nan) if lm is None else np.array([lm.annulus_left, lm.annulus_right])
    try:
        arqee_pts = arqee_annulus(module, labels)
    except Exception:  # arqee fails on some masks; its division then falls back to the image centre
        arqee_pts = np.full((2, 2), np.nan)
    return Case(name=name, labels=labels, image=image, ours=ours.region_map, ours_discs=ours_discs.region_map,
                arqee=theirs, dice=d, arqee_overlap=overlap, ours_annulus=ours_pts, arqee_annulus=arqee_pts,
                ours_to_boundary=np.array([hinge_gap(labels, p) for p in ours_pts]),
                arqee_to_boundary=np.array([hinge_gap(labels, p) for p in arqee_pts]))


def draw_regions(image: np.ndarray | None, labels: np.ndarray, layers: np.ndarray,
                 points: np.ndarray, title: str) -> np.ndarray:
    """A 256x256 BGR tile: the frame (or the label map) with region layers (8, H, W) blended in."""
    if image is not None:
        base = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    else:
        base = np.array([[0, 0, 0], [90, 60, 60], [60, 60, 60], [60, 90, 60]], np.uint8)[np.clip(labels, 0, 3)]
    out = base.copy()
    for k in range(8):
        mask = layers[k]
        if k >= 6:  # discs as outlines so the regions below stay visible
            contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(out, contours, -1, tuple(int(c) for c in COLOURS[k + 1]), 1)
        else:
            out[mask] = (0.35 * base[mask] + 0.65 * COLOURS[k + 1]).astype(np.uint8)
    # Annulus points as white crosses.
    for y, x in points:
        if np.isfinite(y) and np.isfinite(x):
            cv2.drawMarker(out, (int(round(x)), int(round(y))), (255, 255, 255), cv2.MARKER_CROSS, 9, 1)
    cv2.putText(out, title, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def montage(cases: list[Case], path: Path) -> None:
    """Rows of worst cases: ours (2 mm discs) | arqee (10 px discs) | label map with both point pairs."""
    rows = []
    for c in cases:
        ours_layers = np.stack([c.ours_discs == k + 1 for k in range(8)])
        ours_layers[:6] = np.stack([c.ours == k + 1 for k in range(6)])
        worst = int(np.nanargmin(c.dice[:6]))
        left = draw_regions(c.image, c.labels, ours_layers, c.ours_annulus, f"ours  {c.name}")
        right = draw_regions(c.image, c.labels, c.arqee, c.arqee_annulus,
                             f"arqee  min Dice {c.dice[worst]:.2f} {REGION_NAMES[worst]}")
        both = draw_regions(None, c.labels, np.zeros((8, *c.labels.shape), bool), np.empty((0, 2)), "")
        for pts, colour in ((c.ours_annulus, (0, 255, 255)), (c.arqee_annulus, (255, 0, 255))):
            for y, x in pts:
                if np.isfinite(y) and np.isfinite(x):
                    cv2.circle(both, (int(round(x)), int(round(y))), 3, colour, -1)
        cv2.putText(both, "annulus: ours yellow, arqee magenta", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (255, 255, 255), 1, cv2.LINE_AA)
        sep = np.full((SIZE, 4), 255, np.uint8)[..., None].repeat(3, axis=2)
        rows.append(np.hstack([left, sep, right, sep, both]))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    legend = np.zeros((22, rows[0].shape[1], 3), np.uint8)
    x = 4
    for k, name in enumerate(REGION_NAMES):
        cv2.rectangle(legend, (x, 6), (x + 10, 16), tuple(int(v) for v in COLOURS[k + 1]), -1)
        cv2.putText(legend, name, (x + 13, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (255, 255, 255), 1, cv2.LINE_AA)
        x += 13 + cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, 0.33, 1)[0][0] + 10
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(rows + [legend]))


def stats_line(name: str, values: np.ndarray, names: list[str], worst_is_max: bool = False) -> str:
    """mean, median, p5 (or p95), worst and which frame, over the finite values."""
    ok = np.isfinite(values)
    v = values[ok]
    if v.size == 0:
        return f"{name:16s} no values"
    i = int(np.argmax(v) if worst_is_max else np.argmin(v))
    tail = np.percentile(v, 95 if worst_is_max else 5)
    label = "p95" if worst_is_max else "p5 "
    return (f"{name:16s} mean {v.mean():6.3f}  median {np.median(v):6.3f}  {label} {tail:6.3f}  "
            f"worst {v[i]:6.3f} ({np.asarray(names)[ok][i]})  n={v.size}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arqee", type=Path, help="folder with arqee's exported source (holds arqee/)")
    parser.add_argument("data", type=Path, help="CAMUS subset folder (masks/*.png, images/*.png)")
    parser.add_argument("--montage", type=Path, help="write the worst cases side by side to this PNG")
    parser.add_argument("--worst", type=int, default=8, help="rows in the montage")
    parser.add_argument("--csv", type=Path, help="per-frame Dice and distances")
    args = parser.parse_args()
    try:
        module = load_arqee(args.arqee)
    except (FileNotFoundError, ImportError) as exc:
        print(f"cannot load arqee: {exc}", file=sys.stderr)
        return 2
    masks = sorted((args.data / "masks").glob("*.png"))
    if not masks:
        print(f"{args.data}: no masks/*.png found", file=sys.stderr)
        return 1
    cases = []
    t_ours, t_arqee = [], []
    for path in masks:
        labels = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (SIZE, SIZE),
                            interpolation=cv2.INTER_NEAREST)
        image_path = args.data / "images" / path.name
        image = cv2.imread(str(image_path), cv2.IMREAD_GRAYSCALE) if image_path.is_file() else None
        if image is not None:
            image = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        cases.append(compare(path.stem, labels, image, module))
        t0 = time.perf_counter()
        divide_myocardium(labels)
        t1 = time.perf_counter()
        module.divide_segmentation(labels)
        t2 = time.perf_counter()
        t_ours.append((t1 - t0) * 1e3)
        t_arqee.append((t2 - t1) * 1e3)
    broken = [c.name for c in cases if c.arqee_overlap > ARQEE_BROKEN_OVERLAP]
    names = [c.name for c in cases]
    d = np.array([c.dice for c in cases])
    sy, _ = default_spacing(SIZE)
    print(f"{len(cases)} CAMUS masks at {SIZE}x{SIZE}; default spacing {sy:.3f} mm/px "
          f"(CAMUS spacing is unknown: mm are nominal)")
    print(f"annulus discs: ours {ANNULUS_RADIUS_MM:g} mm = {ANNULUS_RADIUS_MM / sy:.1f} px radius (the paper's "
          f"2 mm, our default); arqee {ARQEE_RADIUS_PX} px (its default)")
    myo_min = np.nanmin(np.where(np.isnan(d[:, :6]), np.inf, d[:, :6]), axis=1)
    print(f"arqee's own division is broken (a region polygon wrapping round, over {ARQEE_BROKEN_OVERLAP:.0%} of the "
          f"MYO in two regions) on {len(broken)}: {', '.join(broken) or 'none'}")
    fine = np.array([n not in broken for n in names])
    for title, rows in (("all masks", np.ones(len(names), bool)), ("without those", fine)):
        print(f"Dice, ours vs arqee, {title} (myocardial regions cut to the MYO; discs at arqee's 10 px radius):")
        for k, name in enumerate(REGION_NAMES):
            print("  " + stats_line(name, d[rows, k], list(np.asarray(names)[rows])))
        print("  " + stats_line("worst of six", myo_min[rows], list(np.asarray(names)[rows])))
    print("Annulus points (px at 256x256; gap: distance to the further of MYO and LA, 0 where they meet):")
    for side, j in (("left", 0), ("right", 1)):
        dist = np.array([np.hypot(*(c.ours_annulus[j] - c.arqee_annulus[j])) for c in cases])
        print("  " + stats_line(f"{side} ours-arqee", dist, names, worst_is_max=True))
        print("  " + stats_line(f"{side} ours gap", np.array([c.ours_to_boundary[j] for c in cases]), names,
                                worst_is_max=True))
        print("  " + stats_line(f"{side} arqee gap", np.array([c.arqee_to_boundary[j] for c in cases]), names,
                                worst_is_max=True))
    print(f"time per mask: ours median {np.median(t_ours):.2f} ms, arqee median {np.median(t_arqee):.2f} ms")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["name", *[f"dice_{n}" for n in REGION_NAMES], "annulus_left_px", "annulus_right_px",
                             "ours_left_gap", "ours_right_gap"])
            for c in cases:
                dist = [np.hypot(*(c.ours_annulus[j] - c.arqee_annulus[j])) for j in (0, 1)]
                writer.writerow([c.name, *[f"{v:.4f}" for v in c.dice], *[f"{v:.2f}" for v in dist],
                                 *[f"{v:.2f}" for v in c.ours_to_boundary]])
    if args.montage:
        order = np.argsort(myo_min)[:max(1, args.worst)]
        montage([cases[i] for i in order], args.montage)
        print(f"montage of the {len(order)} worst: {args.montage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
