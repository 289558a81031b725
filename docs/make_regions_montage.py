"""Montage of the eight regions on every CAMUS subset frame: docs/regions_montage.png.

Each tile: the frame (resized to 256x256 like the live pipeline) with the regions colour-coded,
invalid regions hatched in grey, the sector outline in dark blue, annulus points and apex as
white dots. A tile with any invalid region has a red frame. A legend runs along the bottom.

    .venv/bin/python -m docs.make_regions_montage [--data ../shared/data/camus_subset] [--out docs/regions_montage.png]

The CAMUS data (CC BY-NC-SA 4.0, Leclerc et al. 2019) is only read, never copied; the montage
is a derived figure for documentation of this non-commercial research project.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from echoquality.core.regions import divide_myocardium
from echoquality.core.sector import sector_mask
from echoquality.core.vocabulary import REGION_NAMES

SIZE = 256
TILE = 128
COLUMNS = 13
# BGR colours of regions 1..8 in canonical order.
COLOURS = np.array([[0, 0, 0], [75, 25, 230], [75, 180, 60], [25, 225, 255], [200, 130, 0],
                    [48, 130, 245], [180, 30, 145], [240, 240, 70], [230, 50, 240]], np.uint8)


def tile(image: np.ndarray, labels: np.ndarray, name: str) -> tuple[np.ndarray, bool]:
    """One annotated tile and whether all eight regions are valid."""
    labels = cv2.resize(labels, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    image = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    sector = sector_mask(image)
    regions = divide_myocardium(labels, sector=sector)
    out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    rmap = regions.region_map
    colour = COLOURS[rmap]
    invalid = np.zeros_like(rmap, bool)
    for k in range(8):
        if not regions.valid[k]:
            invalid |= rmap == k + 1
    yy, xx = np.mgrid[:SIZE, :SIZE]
    hatch = ((yy + xx) // 3) % 2 == 0
    colour[invalid] = np.where(hatch[invalid, None], 200, 60).astype(np.uint8)
    shown = rmap > 0
    out[shown] = (0.45 * out[shown] + 0.55 * colour[shown]).astype(np.uint8)
    contours, _ = cv2.findContours(sector.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, (120, 40, 0), 1)
    lm = regions.landmarks
    if lm is not None:
        for p in (lm.annulus_left, lm.annulus_right, lm.apex):
            cv2.circle(out, (round(p[1]), round(p[0])), 2, (255, 255, 255), -1)
    out = cv2.resize(out, (TILE, TILE), interpolation=cv2.INTER_AREA)
    ok = bool(regions.valid.all())
    if not ok:
        cv2.rectangle(out, (0, 0), (TILE - 1, TILE - 1), (0, 0, 255), 2)
    cv2.putText(out, name, (3, TILE - 4), cv2.FONT_HERSHEY_PLAIN, 0.7, (255, 255, 255), 1, cv2.LINE_AA)
    return out, ok


def legend(width: int) -> np.ndarray:
    """Colour legend strip with the region names."""
    strip = np.zeros((44, width, 3), np.uint8)
    step = width // 5
    entries = list(enumerate(REGION_NAMES, start=1)) + [(0, "invalid (hatched)")]
    for i, (k, text) in enumerate(entries):
        x, y = 8 + (i % 5) * step, 6 + (i // 5) * 20
        cv2.rectangle(strip, (x, y), (x + 14, y + 12), tuple(int(c) for c in COLOURS[k]) if k else (150, 150, 150), -1)
        cv2.putText(strip, text, (x + 20, y + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return strip


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=root.parent / "shared" / "data" / "camus_subset")
    parser.add_argument("--out", type=Path, default=root / "docs" / "regions_montage.png")
    args = parser.parse_args()
    tiles, n_ok, failing = [], 0, []
    for mask_path in sorted((args.data / "masks").glob("*.png")):
        labels = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        image = cv2.imread(str(args.data / "images" / mask_path.name), cv2.IMREAD_GRAYSCALE)
        if labels is None or image is None:
            print(f"{mask_path}: cannot read mask or image", file=sys.stderr)
            continue
        name = mask_path.stem.replace("patient", "p").replace("_", " ")
        t, ok = tile(image, labels, name)
        tiles.append(t)
        n_ok += ok
        if not ok:
            failing.append(mask_path.stem)
    if not tiles:
        print(f"{args.data}: no masks found", file=sys.stderr)
        return 1
    rows = -(-len(tiles) // COLUMNS)
    blank = np.zeros((TILE, TILE, 3), np.uint8)
    tiles += [blank] * (rows * COLUMNS - len(tiles))
    grid = np.vstack([np.hstack(tiles[r * COLUMNS:(r + 1) * COLUMNS]) for r in range(rows)])
    grid = np.vstack([grid, legend(grid.shape[1])])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), grid, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{args.out}: {n_ok} of "
          f"{n_ok + len(failing)} frames with all 8 regions valid")
    for stem in failing:
        print(f"  not all valid: {stem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
