"""Framing check: does the segmentation hold when the fan fills the frame, or runs over its edges?

    .venv/bin/python -m training.segmentation.framing_check --data ../shared/data/camus_subset \
        [--model camus_seg_lite] [--json models/camus_seg_lite/framing_check.json]

Real frames from other scanners often show the sector filling the whole image (the black screen around it cropped
away, e.g. 370x370 exports) or cut by the image's edges. The held-out CAMUS frames of the model (its
`training.json`) are re-cut that way, their reference masks with them, and analysed through the app's whole path
(fan finding, framing, network, clean-up, regions); Dice is taken at the frame's size, against the re-cut masks.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import NamedTuple

import fast  # noqa: F401  (FAST before anything that may load Qt)
import cv2
import numpy as np

from echoquality.core.cleanup import LA, LV, MYO, clean_labels
from echoquality.core.framing import network_view
from echoquality.core.regions import divide_myocardium
from echoquality.inference.registry import DEFAULT_SEGMENTATION, load_segmentation_model, resolve_model

from .dataset import Sample, load_folder

log = logging.getLogger("framing_check")
EXPORT_SIZE = 370        # the square exports of the other hospital's frames the project was told about


class Cut(NamedTuple):
    """Shares of the fan's bounding box cut away on each side (negative: the whole screen is kept)."""
    name: str
    top: float
    sides: float
    bottom: float


CUTS = (Cut("as stored (fan inside a black screen)", -1, -1, -1),
        Cut("fan's bounding box = the image", 0, 0, 0),
        Cut("sides and arc cut 8 %", 0, 0.08, 0.08),
        Cut("sides cut 15 %", 0, 0.15, 0),
        Cut("apex cut 6 %", 0.06, 0, 0))


def recut(image: np.ndarray, mask: np.ndarray, cut: Cut) -> tuple[np.ndarray, np.ndarray]:
    """The frame and its mask cut around the fan's bounding box and resized to EXPORT_SIZE² (aspect not kept,
    as such exports are); unchanged for the 'as stored' cut."""
    if cut.top < 0:
        return image, mask
    ys, xs = np.nonzero(image > 8)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    h, w = y1 - y0, x1 - x0
    a0, a1 = int(y0 + cut.top * h), int(y1 - cut.bottom * h)
    b0, b1 = int(x0 + cut.sides * w), int(x1 - cut.sides * w)
    size = (EXPORT_SIZE, EXPORT_SIZE)
    return (cv2.resize(image[a0:a1, b0:b1], size, interpolation=cv2.INTER_AREA),
            cv2.resize(mask[a0:a1, b0:b1], size, interpolation=cv2.INTER_NEAREST))


def analyse(model, image: np.ndarray) -> tuple[np.ndarray, bool]:
    """The app's labels at the frame's size, and whether all six myocardial regions are valid."""
    view = network_view(image)
    labels = clean_labels(model.predict(view.image[None, None].astype(np.float32))[0], view.sector)
    regions = divide_myocardium(labels, view.framing.network_spacing, view.sector)
    return view.framing.to_frame(labels), bool(regions.valid[:6].all())


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(int(a.sum() + b.sum()), 1))


def check(model, samples: list[Sample]) -> list[dict]:
    """Per cut: mean Dice of LV, MYO, LA, the worst frame's MYO Dice and the share with six valid regions."""
    rows = []
    for cut in CUTS:
        scores, six = [], []
        for s in samples:
            image, mask = recut(s.image, s.mask, cut)
            labels, ok = analyse(model, image)
            scores.append([dice(labels == k, mask == k) for k in (LV, MYO, LA)])
            six.append(ok)
        table = np.array(scores)
        rows.append({"cut": cut.name, "frames": len(samples), "LV": float(table[:, 0].mean()),
                     "MYO": float(table[:, 1].mean()), "LA": float(table[:, 2].mean()),
                     "worst_MYO": float(table[:, 1].min()), "six_regions_valid": float(np.mean(six))})
        log.info("%s: %s", cut.name, json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                                 for k, v in rows[-1].items()}))
    return rows


def held_out(samples: list[Sample], model_folder: Path) -> list[Sample]:
    """The frames of the patients the model was validated on (all frames when its training.json names none)."""
    record = model_folder / "training.json"
    patients = set(json.loads(record.read_text()).get("val_patients", [])) if record.is_file() else set()
    return [s for s in samples if s.patient in patients] or samples


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="CAMUS frames with masks")
    p.add_argument("--model", default=DEFAULT_SEGMENTATION)
    p.add_argument("--json", default="", help="where to write the rows (e.g. models/NAME/framing_check.json)")
    args = p.parse_args(argv)
    model = load_segmentation_model(args.model)
    samples = held_out(load_folder(args.data), resolve_model(args.model).parent)
    rows = check(model, samples)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
