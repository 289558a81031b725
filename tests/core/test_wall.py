"""Wall completion: the myocardium laid where the network left the LV border bare."""
from __future__ import annotations

import cv2
import numpy as np

from echoquality.core.cleanup import clean_labels
from echoquality.core.vocabulary import LA, LV, MYO
from echoquality.core.wall import complete_wall, wall_thickness_px
from training.segmentation.metrics import dice


def heart(lateral_wall: bool = True) -> np.ndarray:
    """An apex-up LV (ellipse) lined by an 8-pixel wall, the LA below; optionally without its right-hand wall."""
    lab = np.zeros((256, 256), np.uint8)
    cv2.ellipse(lab, (128, 130), (58, 98), 0, 180, 360, MYO, -1)
    cv2.rectangle(lab, (70, 130), (186, 150), MYO, -1)
    cv2.ellipse(lab, (128, 130), (50, 90), 0, 180, 360, LV, -1)
    cv2.rectangle(lab, (78, 130), (178, 150), LV, -1)
    cv2.ellipse(lab, (128, 185), (45, 34), 0, 0, 360, LA, -1)
    if not lateral_wall:
        lab[:, 150:][lab[:, 150:] == MYO] = 0
    return lab


def test_a_whole_wall_is_left_as_it_is():
    lab = heart()
    assert np.array_equal(complete_wall(lab), lab)


def test_a_missing_side_wall_is_laid_at_the_other_walls_thickness_and_not_over_the_valve():
    whole, bare = heart(), heart(lateral_wall=False)
    out = complete_wall(bare)
    added = (out == MYO) & (bare != MYO)
    assert added.any() and not added[:, :140].any()             # only on the bare side
    assert not (added & ((whole == LV) | (whole == LA))).any()   # outside the LV, never over the LA
    assert dice(out, whole, MYO) > dice(bare, whole, MYO) + 0.15
    assert 6 <= wall_thickness_px(bare) <= 11
    assert np.array_equal(out[out != MYO], bare[out != MYO])      # nothing else changes


def test_the_band_stays_inside_the_fan():
    bare = heart(lateral_wall=False)
    sector = np.ones_like(bare, bool)
    sector[:, 181:] = False                                    # the fan's edge cuts through where the wall would be
    out = complete_wall(bare, sector)
    assert ((out == MYO) & (bare != MYO)).any() and not (out[:, 181:] == MYO).any()


def test_a_sliver_of_wall_on_a_blob_is_not_made_into_a_heart():
    lab = np.zeros((256, 256), np.uint8)
    cv2.circle(lab, (128, 128), 40, LV, -1)
    lab[80:92, 110:146] = MYO                                  # wall along a small part of the border only
    assert np.array_equal(complete_wall(lab), lab)
    assert np.array_equal(complete_wall(np.zeros_like(lab)), np.zeros_like(lab))


def test_clean_up_completes_the_wall_unless_asked_not_to():
    bare = heart(lateral_wall=False)
    assert not np.array_equal(clean_labels(bare), clean_labels(bare, complete=False))
    assert np.array_equal(clean_labels(bare, complete=False), bare)


def test_on_real_camus_frames_where_the_network_leaves_a_wall_out_the_completed_wall_is_closer_to_the_experts(camus):
    """The shipped network draws no wall along part of the LV in these frames; the experts did."""
    from echoquality.core.framing import network_view
    from echoquality.inference.registry import load_segmentation_model

    model = load_segmentation_model("camus_seg_lite", "onnxruntime-cpu")
    for name in ("patient0137_2CH_ED", "patient0278_2CH_ED", "patient0499_4CH_ED"):
        image = cv2.imread(str(camus / "images" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        mask = cv2.imread(str(camus / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        view = network_view(image)
        reference = view.framing.to_network(mask, nearest=True) * view.sector
        raw = model.predict(view.image[None, None].astype(np.float32), False)[0]
        without, with_wall = clean_labels(raw, view.sector, complete=False), clean_labels(raw, view.sector)
        assert dice(with_wall, reference, MYO) > dice(without, reference, MYO) + 0.05, name
