"""The regional degradation generator on real CAMUS frames: degraded regions lose contrast and label;
gain, gamma and dynamic range leave labels unchanged; mirroring mirrors the labels."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from echoquality.core.vocabulary import REGION_NAMES
from training.quality.degrade import (MIRROR_ORDER, apply_operation, blob, degrade, geometric_augment,
                                      invariance_augment, prepare_frame, region_means, wedge)

NAMES = ("patient0012_4CH_ED", "patient0011_2CH_ED", "patient0033_4CH_ES")

def _frame(camus, name):
    image = cv2.imread(str(camus / "images" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    labels = cv2.imread(str(camus / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    return prepare_frame(name, image, labels, "a2c" if "2CH" in name else "a4c")

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("op", ["shadow", "clutter", "contrast"])
def test_degraded_region_loses_contrast_and_label(camus, name, op):
    g = _frame(camus, name)
    rng = np.random.default_rng(0)
    region = 1  # mid_left
    w = wedge(g, region, rng, from_transducer=True) if op == "shadow" else blob(g, region, rng)
    image = g.image.astype(np.float32)
    out, severity = apply_operation(image, op, w, 1.0, g, rng)
    out = np.clip(out, 0, 255)                     # as degrade() stores it (uint8)
    drop = severity * region_means(g, w)
    assert drop[region] > 2.0                      # strong degradation: at least two categories down
    inside = g.region_map == region + 1
    # Blood-like reference: the darkest 30 % of the non-region pixels the degradation reaches (a
    # percentile over the whole sector can leave only a handful of pixels on a bright ES frame).
    near = g.sector & (g.region_map == 0) & (w > 0.5)
    lumen_like = near & (image < np.percentile(image[near], 30))
    before = image[inside].mean() - image[lumen_like].mean()
    after = out[inside].mean() - out[lumen_like].mean()
    assert after < 0.85 * before                   # tissue/blood contrast reduced

@pytest.mark.parametrize("name", NAMES)
def test_labels_ignore_gain_and_gamma(camus, name):
    """Same geometry, frame shown with another gain or gamma: same degradations give the same labels."""
    base = _frame(camus, name)
    for gain, gamma in ((0.8, 1.0), (1.2, 1.0), (1.0, 0.9), (1.0, 1.1)):
        shown = np.clip(255.0 * (base.image / 255.0) ** gamma * gain, 0, 255).astype(np.uint8)
        changed = dataclasses.replace(base, image=shown)
        for seed in range(3):
            image_a, a, _ = degrade(base, np.random.default_rng(seed))
            image_b, b, _ = degrade(changed, np.random.default_rng(seed))
            np.testing.assert_array_equal(a, b)
            assert not np.array_equal(image_a, image_b)


def test_invariance_augment_keeps_labels_and_changes_image(camus):
    g = _frame(camus, NAMES[0])
    rng = np.random.default_rng(3)
    image, labels, _ = degrade(g, rng)
    changed = [invariance_augment(image, rng) for _ in range(10)]
    assert any(np.abs(c.astype(int) - image).mean() > 3 for c in changed)

def test_clean_frame_keeps_base_quality_and_degradation_lowers_labels(camus):
    g = _frame(camus, NAMES[0])
    rng = np.random.default_rng(1)
    labels = np.stack([degrade(g, rng)[1] for _ in range(40)])
    assert labels.max() <= 5 and labels.min() >= 1
    assert np.all(labels <= g.base_quality + 1e-6)
    assert (labels < g.base_quality - 1).any(axis=1).mean() > 0.3

def test_mirroring_swaps_left_and_right():
    names = np.array(REGION_NAMES)[MIRROR_ORDER]
    for original, mirrored in zip(REGION_NAMES, names):
        assert mirrored == original.replace("left", "@").replace("right", "left").replace("@", "right")
    image = np.zeros((256, 256), np.uint8)
    image[:, :10] = 200
    labels, valid = np.arange(1, 9, dtype=np.float32) / 2 + 0.5, np.ones(8, bool)
    for seed in range(20):
        region_map = np.zeros((256, 256), np.uint8)
        region_map[100:120, 20:40] = 1                      # basal_left on the image's left
        out, lab, _, moved = geometric_augment(image, labels, valid, np.random.default_rng(seed), p=1.0,
                                               region_map=region_map)
        np.testing.assert_array_equal(lab, labels[MIRROR_ORDER])
        ys, xs = np.nonzero(moved)
        assert set(np.unique(moved[moved > 0])) == {6} and xs.mean() > 128   # now basal_right, on the right


def test_anisotropy_stretches_width_against_height_and_is_silent_when_off():
    from training.quality.degrade import geometric_augment
    image = np.zeros((256, 256), np.uint8)
    image[96:160, 96:160] = 200                            # a centred square
    labels, valid = np.ones(8, np.float32), np.ones(8, bool)
    widths = []
    for seed in range(30):
        out, *_ = geometric_augment(image, labels, valid, np.random.default_rng(seed), p=0.0, anisotropy=(0.5, 0.5001))
        ys, xs = np.nonzero(out > 100)
        widths.append((np.ptp(xs) + 1) / (np.ptp(ys) + 1))
    assert all(w == 1.0 for w in widths)                   # p = 0: nothing drawn, nothing changed
    out, *_ = geometric_augment(image, labels, valid, np.random.default_rng(0), p=1.0, anisotropy=(0.5, 0.5001))
    plain, *_ = geometric_augment(image, labels, valid, np.random.default_rng(0), p=1.0)
    ys, xs = np.nonzero(out > 100)
    py, px = np.nonzero(plain > 100)
    ratio = ((np.ptp(xs) + 1) / (np.ptp(ys) + 1)) / ((np.ptp(px) + 1) / (np.ptp(py) + 1))
    assert ratio == pytest.approx(0.5, rel=0.15)           # width / height halved against the same draw without it
    # Off (None), the random stream is the one the shipped recipe used.
    a = np.random.default_rng(5); geometric_augment(image, labels, valid, a, p=0.5)
    b = np.random.default_rng(5); geometric_augment(image, labels, valid, b, p=0.5, anisotropy=None)
    assert a.random() == b.random()


def test_small_move_moves_the_frame_and_its_regions_together():
    from training.quality.fit import small_move
    image = np.zeros((256, 256), np.uint8)
    image[100:140, 60:100] = 200
    regions = np.zeros((256, 256), np.uint8)
    regions[100:140, 60:100] = 3
    moved_any = False
    for seed in range(10):
        img, rmap = small_move(image, regions, np.random.default_rng(seed))
        ys, xs = np.nonzero(rmap == 3)
        assert img[ys, xs].mean() > 150                    # the region still lies on its bright patch
        assert set(np.unique(rmap).tolist()) <= {0, 3}      # nearest neighbour: no new codes
        moved_any |= not np.array_equal(rmap, regions)
    assert moved_any
