"""`launch.py regions`: divide label-map files into the eight regions and write them out.

For every MASK: DIR/<stem>.png, the region map at the mask's size (0 none, 1..8 in the
canonical order of echoquality.core.vocabulary.REGION_NAMES), and one row per region in DIR/regions.csv
(mask, region, value, pixels, valid, out_of_sector). Without an image there is no sector: every
pixel counts as inside it. Masks with an aorta (4) are divided as long-axis views. A bad mask
gets one line on stderr and the others are still done.
"""
from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

from echoquality.core.regions import divide_myocardium
from echoquality.core.vocabulary import AO, LABEL_NAMES, REGION_NAMES, default_spacing

log = logging.getLogger(__name__)
CSV_COLUMNS = ("mask", "region", "value", "pixels", "valid", "out_of_sector")


class MaskError(Exception):
    """A file that is not a usable label map."""


def read_label_map(path: str) -> np.ndarray:
    """A label map file as 2-D uint8 (values 0..4), or MaskError saying why not."""
    from echoquality.sources.base import SourceError
    from echoquality.sources.files import _image_header_size
    from echoquality.sources.limits import check_frame_size, check_regular_file

    p = Path(path)
    if not p.exists():
        raise MaskError("no such file")
    try:
        check_regular_file(p)              # a FIFO or a device is refused unopened
        size = _image_header_size(p)
        if size is not None:               # the caps, before decoding
            check_frame_size("", size[1], size[0])
    except SourceError as error:
        raise MaskError(str(error).removeprefix(f"{p}: ").removeprefix(": ")) from None
    try:
        data = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        data = None
    if data is None:
        raise MaskError("cannot read it as an image")
    if data.ndim == 3:
        if data.shape[2] == 4:
            data = data[:, :, :3]
        if not all(np.array_equal(data[:, :, 0], data[:, :, c]) for c in range(1, data.shape[2])):
            raise MaskError("a colour image, not a label map")
        data = data[:, :, 0]
    if data.ndim != 2 or data.size == 0:
        raise MaskError(f"unexpected image shape {data.shape}")
    if not np.issubdtype(data.dtype, np.integer):
        raise MaskError(f"pixel type {data.dtype}, expected integer labels")
    top = int(data.max())
    if top >= len(LABEL_NAMES) or int(data.min()) < 0:
        values = np.unique(data)
        shown = ", ".join(str(v) for v in values[:8]) + (", ..." if values.size > 8 else "")
        raise MaskError(f"label values {shown}; expected 0..{len(LABEL_NAMES) - 1} "
                        f"({', '.join(f'{i} {n}' for i, n in enumerate(LABEL_NAMES))})")
    return data.astype(np.uint8)


def _output_name(path: str, used: set[str]) -> str:
    """<stem>.png, numbered when another mask already took that name."""
    stem = Path(path).stem
    name, n = f"{stem}.png", 2
    while name in used:
        name, n = f"{stem}_{n}.png", n + 1
    used.add(name)
    return name


def regions_command(masks: list[str], out_dir: str, spacing: tuple[float, float] | None) -> int:
    """Write region maps and regions.csv for the masks; 0 if every mask was usable, else 1."""
    out = Path(out_dir)
    if spacing is not None and not (len(spacing) == 2 and all(np.isfinite(s) and s > 0 for s in spacing)):
        print(f"error: --spacing must be two positive numbers (mm per pixel), got {spacing}", file=sys.stderr)
        return 2
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"error: {out}: cannot create the output folder ({error.strerror or error})", file=sys.stderr)
        return 2
    bad, written, all_valid, used = 0, 0, 0, set()
    csv_path = out / "regions.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for path in masks:
            try:
                labels = read_label_map(path)
            except MaskError as error:
                print(f"error: {path}: {error}", file=sys.stderr)
                bad += 1
                continue
            used_spacing = spacing if spacing is not None else default_spacing(labels.shape[0])
            view = "alax" if (labels == AO).any() else "a4c"  # an aorta means a long-axis view
            regions = divide_myocardium(labels, spacing=used_spacing, view=view)
            name = _output_name(path, used)
            if not cv2.imwrite(str(out / name), regions.region_map):
                print(f"error: {out / name}: cannot write the region map", file=sys.stderr)
                bad += 1
                continue
            written += 1
            all_valid += bool(regions.valid.all())
            for k, region in enumerate(REGION_NAMES):
                fraction = regions.out_of_sector[k]
                writer.writerow([path, region, k + 1, int(regions.pixels[k]), int(regions.valid[k]),
                                 "" if np.isnan(fraction) else f"{fraction:.4f}"])
    print(f"{written} region map(s) in {out}, {all_valid} with all 8 regions valid; table: {csv_path}")
    if bad:
        print(f"{bad} of {len(masks)} mask(s) could not be used", file=sys.stderr)
    return 1 if bad else 0
