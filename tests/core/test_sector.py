"""Sector (fan) mask on real frames: E95 demo loop and CAMUS images."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from echoquality.core.sector import sector_mask

ROOT = Path(__file__).resolve().parents[2]
LOOP = ROOT / "data" / "samples" / "e95_a4c.mp4"
CAMUS = ROOT.parent / "shared" / "data" / "camus_subset"


def e95_frames(step: int = 20) -> list[np.ndarray]:
    """Every step-th frame of the demo loop, grayscale."""
    cap = cv2.VideoCapture(str(LOOP))
    frames, i = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % step == 0:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        i += 1
    cap.release()
    return frames


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def check_fan(image: np.ndarray, mask: np.ndarray) -> None:
    """The mask holds nearly every imaged pixel, little black outside, and is convex."""
    assert mask.dtype == bool and mask.shape == image.shape[:2]
    bright = cv2.blur(image, (3, 3)) > 20
    near_mask = cv2.dilate(mask.view(np.uint8), np.ones((5, 5), np.uint8)).view(bool)
    assert (bright & ~near_mask).sum() <= 0.001 * bright.sum()  # at most the fan's rim is left out
    # Outside pixels in the mask: only the fan's own dark pixels (blood pools), not the black surround.
    contours, _ = cv2.findContours(mask.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    assert len(contours) == 1
    hull_area = cv2.contourArea(cv2.convexHull(contours[0]))
    assert cv2.contourArea(contours[0]) >= 0.98 * hull_area
    assert 0.2 < mask.mean() < 0.9


@pytest.mark.skipif(not LOOP.exists(), reason="demo loop missing")
def test_e95_frames():
    frames = e95_frames()
    assert len(frames) >= 9
    masks = [sector_mask(f) for f in frames]
    for f, m in zip(frames, masks):
        check_fan(f, m)
        assert m[-5, f.shape[1] // 2] and not m[5, 5] and not m[5, -5]
    # The fan does not move during the loop.
    assert min(iou(masks[0], m) for m in masks) > 0.98


@pytest.mark.skipif(not LOOP.exists(), reason="demo loop missing")
def test_text_and_ecg_outside_the_fan_are_ignored():
    frame = e95_frames(step=1000)[0]
    clean = sector_mask(frame)
    marked = frame.copy()
    cv2.putText(marked, "GE Vivid E95  HR 72 bpm", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
    cv2.putText(marked, "12 cm", (560, 560), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 220, 1)
    xs = np.arange(frame.shape[1])
    ys = (570 + 10 * np.sin(xs / 8)).astype(int)
    marked[ys, xs] = 200                                    # an ECG trace across the bottom
    marked[ys - 1, xs] = 200
    cv2.rectangle(marked, (600, 100), (615, 300), 180, -1)  # a grey-scale bar
    got = sector_mask(marked)
    assert iou(clean, got) > 0.98
    assert not got[30, 60] and not got[200, 607]
    # Colour frames are accepted.
    assert iou(clean, sector_mask(cv2.cvtColor(marked, cv2.COLOR_GRAY2BGR))) > 0.98


@pytest.mark.skipif(not CAMUS.is_dir(), reason="CAMUS subset not available")
def test_camus_images():
    paths = sorted((CAMUS / "images").glob("*.png"))[::10]
    for p in paths:
        image = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        check_fan(image, sector_mask(image))
        small = cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA)
        assert iou(sector_mask(small), cv2.resize(sector_mask(image).view(np.uint8), (256, 256),
                                                  interpolation=cv2.INTER_NEAREST).view(bool)) > 0.97


@pytest.mark.parametrize("image", [np.zeros((256, 256), np.uint8), np.full((3, 3), 100, np.uint8),
                                   np.zeros((1, 1), np.uint8), np.zeros((0, 0), np.uint8)],
                         ids=["black", "3x3", "1x1", "empty"])
def test_blank_or_tiny_frames_give_an_empty_mask(image):
    m = sector_mask(image)
    assert m.shape == image.shape and not m.any()


def test_a_drawn_fan_is_recovered():
    image = np.zeros((300, 400), np.uint8)
    cv2.ellipse(image, (200, 0), (280, 280), 90, -40, 40, 255, -1)   # a 80-degree fan from the top
    rng = np.random.default_rng(1)
    speckle = (rng.rayleigh(40, image.shape)).clip(0, 255).astype(np.uint8)
    truth = image > 0
    image = np.where(truth, speckle, 0).astype(np.uint8)
    image[120:200, 170:230] = 0                                        # a black blood pool inside
    assert iou(sector_mask(image), truth) > 0.97
    with pytest.raises(ValueError):
        sector_mask(np.zeros((4, 4, 2, 2), np.uint8))
