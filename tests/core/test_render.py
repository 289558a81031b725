"""Rendering: colours follow the quality category, invalid regions stay visible; label positions."""
from __future__ import annotations

import numpy as np
import pytest

from echoquality.core.framing import framing_for
from echoquality.core.render import CATEGORY_COLOURS, INVALID_COLOUR, colour_regions, compose_split_screen, \
    region_centres, region_colours


def test_region_colours_follow_rounded_category():
    scores = np.array([1.0, 1.6, 2.5, 3.49, 4.2, 5.0, np.nan, 4.5])
    colours = region_colours(scores)
    assert (colours[0] == CATEGORY_COLOURS[0]).all()      # 1 → red
    assert (colours[1] == CATEGORY_COLOURS[1]).all()      # 1.6 → 2 poor
    assert (colours[2] == CATEGORY_COLOURS[2]).all()      # 2.5 → 3 (halves round up)
    assert (colours[3] == CATEGORY_COLOURS[2]).all()
    assert (colours[6] == INVALID_COLOUR).all()
    assert (colours[7] == CATEGORY_COLOURS[4]).all()


def test_split_screen_has_bmode_left_and_coloured_regions_right():
    image = np.full((60, 80), 100, np.uint8)
    regions = np.zeros((60, 80), np.uint8)
    regions[10:30, 10:30] = 1
    regions[35:55, 40:70] = 7
    scores = np.array([5.0, 3, 3, 3, 3, 3, np.nan, 3])
    out = compose_split_screen(image, regions, scores)
    assert out.shape == (60, 160, 3)
    assert (out[20, 20] == 100).all()                     # left: untouched B-mode
    right = out[:, 80:]
    assert right[20, 20, 1] > right[20, 20, 0]            # excellent region tinted dark green
    assert (right[5, 75] == 100).all()                    # outside regions: B-mode
    hatched = right[36:54, 41:69]
    assert (hatched == 100).all(axis=2).any() and (hatched != 100).any(axis=2).any()  # invalid: hatched grey


def test_region_map_must_be_at_the_frame_size():
    regions = np.zeros((32, 32), np.uint8)
    regions[:16] = 2
    with pytest.raises(ValueError, match="frame's size"):
        colour_regions(np.zeros((64, 100), np.uint8), regions, np.full(8, 4.0))


def test_region_centres_are_fractions_and_nan_when_absent():
    region_map = np.zeros((100, 200), np.uint8)
    region_map[10:20, 0:20] = 1
    centres = region_centres(region_map)
    assert centres[0] == pytest.approx([10 / 200, 15 / 100])
    assert np.isnan(centres[1:]).all()
    # Through a framing: a 256x256 network map of a 400x200 frame whose right half was framed.
    net = np.zeros((256, 256), np.uint8)
    net[0:64, 96:128] = 1                       # top-left of the placed box (rows 0..256, columns 96..160)
    framing = framing_for((0, 100, 400, 200), (400, 200), (1.0, 1.0))
    centres = region_centres(net, framing)
    assert centres[0] == pytest.approx([(100 + 25) / 200, 50 / 400], abs=0.01)


def test_region_centres_match_the_plain_mean_and_ignore_other_codes():
    rng = np.random.default_rng(3)
    region_map = rng.integers(0, 12, (64, 80)).astype(np.uint8)      # codes 9..11 are not regions
    region_map[region_map == 5] = 0                                  # region 5 absent
    rows, cols = np.indices(region_map.shape)
    centres = region_centres(region_map)
    for k in range(1, 9):
        if k == 5:
            assert np.isnan(centres[k - 1]).all()
            continue
        inside = region_map == k
        assert centres[k - 1] == pytest.approx([(cols[inside] + 0.5).mean() / 80, (rows[inside] + 0.5).mean() / 64])


def _colour_regions_reference(image, region_map, scores):
    """Straightforward full-frame colouring (what `colour_regions` does on the regions' box only)."""
    import cv2

    from echoquality.core.render import FILL_ALPHA, region_colours
    rgb = np.repeat(image[..., None], 3, axis=2)
    rows, cols = np.indices(image.shape)
    inside = (region_map >= 1) & (region_map <= 8)
    colour = np.zeros(image.shape + (3,), np.uint16)
    colour[inside] = region_colours(scores).astype(np.uint16)[region_map[inside].astype(int) - 1]
    hatch = ((rows + cols) // 4) % 2 == 1
    invalid = np.zeros(image.shape, bool)
    invalid[inside] = np.isnan(scores)[region_map[inside].astype(int) - 1]
    fill = inside & ~(invalid & hatch)
    alpha = int(FILL_ALPHA * 256)
    rgb[fill] = ((rgb[fill].astype(np.uint16) * (256 - alpha) + colour[fill] * alpha) >> 8).astype(np.uint8)
    edges = inside & (cv2.morphologyEx(region_map, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0)
    rgb[edges] = colour[edges]
    return rgb


def test_colouring_the_regions_box_equals_colouring_the_whole_frame():
    from echoquality.core.render import colour_regions
    rng = np.random.default_rng(3)
    for k in range(12):
        image = rng.integers(0, 256, (120 + k, 160 - k), dtype=np.uint8)
        region_map = np.zeros_like(image)
        for _ in range(int(rng.integers(0, 6))):
            y, x = int(rng.integers(0, image.shape[0] - 10)), int(rng.integers(0, image.shape[1] - 10))
            region_map[y:y + int(rng.integers(3, 40)), x:x + int(rng.integers(3, 40))] = rng.integers(1, 11)
        if k % 3 == 0:
            region_map[:6, :6], region_map[-4:, -5:] = 2, 7            # regions touching the frame's edges
        scores = rng.uniform(1, 5, 8)
        scores[rng.random(8) < 0.4] = np.nan                            # invalid regions are hatched
        assert np.array_equal(colour_regions(image, region_map, scores),
                              _colour_regions_reference(image, region_map, scores)), k
