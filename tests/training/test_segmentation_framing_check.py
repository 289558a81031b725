"""The framing check on real held-out CAMUS frames: re-cut like exports whose fan fills the image, still segmented."""
from __future__ import annotations

import numpy as np

from echoquality.inference.registry import load_segmentation_model, resolve_model
from training.segmentation.dataset import load_folder
from training.segmentation.framing_check import CUTS, EXPORT_SIZE, check, held_out, recut


def test_recut_fills_the_export_with_the_fan_and_keeps_the_mask_aligned(camus):
    sample = load_folder(camus)[0]
    image, mask = recut(sample.image, sample.mask, CUTS[1])
    assert image.shape == mask.shape == (EXPORT_SIZE, EXPORT_SIZE)
    assert (image[0] > 8).any() and (image[:, 0] > 8).any() and (image[-1] > 8).any()   # the fan touches the edges
    assert set(np.unique(mask)) == {0, 1, 2, 3}
    assert image[mask == 2].mean() > image[mask == 1].mean()        # the wall is brighter than the blood pool
    same = recut(sample.image, sample.mask, CUTS[0])
    assert same[0] is sample.image and same[1] is sample.mask


def test_held_out_frames_stay_segmented_however_the_fan_is_cut(camus):
    folder = resolve_model("camus_seg_lite").parent
    frames = held_out(load_folder(camus), folder)
    assert len(frames) == 27
    rows = check(load_segmentation_model("camus_seg_lite"), frames[:3])
    assert [r["cut"] for r in rows] == [c.name for c in CUTS]
    for row in rows:
        assert row["LV"] > 0.8 and row["MYO"] > 0.6 and row["LA"] > 0.6, row
