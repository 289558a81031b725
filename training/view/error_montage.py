"""The view classifier's held-out mistakes, to look at: a montage and their experts' image-quality grades.

    .venv/bin/python -m training.view.error_montage --data ../shared/data/camus_subset \
        --model models/view_classifier --out docs/view_errors.png

Reads the frames the cross-validation got wrong from the model's `report.json`, draws each as the classifier saw
it (the app's framing of the fan) with its true view, the predicted one and the cardiologist's grade
(`image_quality.csv` of the CAMUS folder), and adds the error rate per grade to the report and the card.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

from echoquality.core.framing import network_view
from training.segmentation.dataset import load_folder

from .card import write_card

log = logging.getLogger("view_errors")
TILE = 220


def expert_grades(data: Path) -> dict[str, str]:
    """Frame name → Good / Medium / Poor from the folder's image_quality.csv ({} without one)."""
    path = data / "image_quality.csv"
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {row["name"]: row["image_quality"] for row in csv.DictReader(f)}


def caption_tile(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """A grey frame at TILE x TILE in colour, the lines written under it."""
    tile = cv2.cvtColor(cv2.resize(image, (TILE, TILE), interpolation=cv2.INTER_AREA), cv2.COLOR_GRAY2BGR)
    text = np.zeros((18 * len(lines) + 4, TILE, 3), np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(text, line, (4, 15 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 220, 255), 1, cv2.LINE_AA)
    return np.vstack([tile, text])


def montage(tiles: list[np.ndarray], per_row: int = 5) -> np.ndarray:
    while len(tiles) % per_row:
        tiles.append(np.zeros_like(tiles[0]))
    return np.vstack([np.hstack(tiles[i:i + per_row]) for i in range(0, len(tiles), per_row)])


def errors_by_grade(names: list[str], wrong: set[str], grades: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per expert grade: frames and held-out mistakes."""
    out: dict[str, dict[str, int]] = {}
    for name in names:
        entry = out.setdefault(grades.get(name, "unknown"), {"frames": 0, "wrong": 0})
        entry["frames"] += 1
        entry["wrong"] += name in wrong
    return out


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="the CAMUS folder the model was validated on")
    p.add_argument("--model", default="models/view_classifier", help="model folder with report.json")
    p.add_argument("--out", default="docs/view_errors.png")
    args = p.parse_args(argv)
    folder = Path(args.model)
    report = json.loads((folder / "report.json").read_text())
    wrong = dict(w.split(":") for w in report["held_out_camus"]["wrong"])
    samples = load_folder(args.data)
    grades = expert_grades(Path(args.data))
    tiles = []
    for s in samples:
        if s.name in wrong:
            truth = "a4c" if "_4CH" in s.name else "a2c"
            tiles.append(caption_tile(network_view(s.image).image,
                                      [s.name.replace("patient", ""), f"{truth} called {wrong[s.name]}",
                                       f"expert grade: {grades.get(s.name, '?')}"]))
    if not tiles:
        log.info("no held-out mistakes in %s", folder / "report.json")
        return 0
    mistakes = len(tiles)
    cv2.imwrite(args.out, montage(tiles))
    report["held_out_camus"]["wrong_by_expert_grade"] = errors_by_grade([s.name for s in samples], set(wrong), grades)
    report["held_out_camus"]["error_montage"] = args.out
    (folder / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    write_card(folder, report)
    log.info("%d mistakes drawn in %s; by grade %s", mistakes, args.out,
             report["held_out_camus"]["wrong_by_expert_grade"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
