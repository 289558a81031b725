"""Montage of segmentation overlays over one cardiac cycle of a real loop (default: the E95 demo loop).

    .venv/bin/python -m training.segmentation.montage [--model NAME] [--loop VIDEO] [--out docs/segmentation_e95_montage.png]

The cycle runs from one LV-area maximum (end-diastole) to the next; frames are shown at their own size and
aspect with the network's labels resized back (nearest), as the app shows them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

import fast  # noqa: F401  (FAST before anything that may load Qt)
import cv2
import numpy as np

from echoquality.inference.registry import DEFAULT_SEGMENTATION, load_segmentation_model
from echoquality.core.preprocess import network_batch
from echoquality.sources.playback import open_source

COLOURS_BGR = {1: (60, 60, 255), 2: (60, 220, 60), 3: (255, 120, 40)}  # LV red, MYO green, LA blue


def read_loop(path: Path) -> list[np.ndarray]:
    """Gray frames of a loop, read as the app reads it."""
    return [frame.image for frame in open_source(str(path))]


def one_cycle(lv_area: np.ndarray, min_period: int = 20) -> tuple[int, int]:
    """(start, end) frames of one heart cycle: the period is the LV-area curve's strongest autocorrelation lag
    (at least `min_period` frames), the start its largest LV area (end-diastole) within the first period."""
    area = np.convolve(lv_area, np.ones(3) / 3, mode="same")
    centred = area - area.mean()
    n = len(area)
    if n < 2 * min_period:
        return 0, n
    lags = np.arange(min_period, n // 2)
    corr = np.array([np.dot(centred[:-lag], centred[lag:]) / (n - lag) for lag in lags])
    period = int(lags[int(np.argmax(corr))])
    start = int(np.argmax(area[:period]))
    return start, min(n, start + period)


def overlay(gray: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """BGR frame with translucent label fills and outlines."""
    image = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR).astype(np.float32)
    for label, colour in COLOURS_BGR.items():
        region = labels == label
        image[region] = 0.65 * image[region] + 0.35 * np.array(colour, np.float32)
        contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(image, contours, -1, colour, 1)
    return image.astype(np.uint8)


def montage(model_name: str, loop: Path, out: Path, n: int = 12, columns: int = 4, scale: float = 0.5) -> Path:
    """Write the overlay montage of one cycle and return its path."""
    frames = read_loop(loop)
    model = load_segmentation_model(model_name)
    batch = network_batch(frames)
    labels = np.concatenate([model.predict(batch[i:i + 32]) for i in range(0, len(batch), 32)])
    start, end = one_cycle((labels == 1).sum(axis=(1, 2)).astype(float))
    picks = np.linspace(start, end, n, endpoint=False).round().astype(int)
    h, w = frames[0].shape
    tiles = []
    for i in picks:
        full = cv2.resize(labels[i], (w, h), interpolation=cv2.INTER_NEAREST)
        tile = cv2.resize(overlay(frames[i], full), (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, f"frame {i}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    rows = [np.hstack(tiles[r:r + columns]) for r in range(0, len(tiles), columns)]
    sheet = np.vstack(rows)
    caption = np.zeros((30, sheet.shape[1], 3), np.uint8)
    cv2.putText(caption, f"{model.name} on {loop.name}: frames {start}-{end - 1} (one cycle, ED to ED); "
                "LV red, MYO green, LA blue", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), np.vstack([caption, sheet]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_SEGMENTATION)
    parser.add_argument("--loop", default=str(ROOT / "data" / "samples" / "e95_a4c.mp4"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "segmentation_e95_montage.png"))
    args = parser.parse_args(argv)
    print(montage(args.model, Path(args.loop), Path(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
