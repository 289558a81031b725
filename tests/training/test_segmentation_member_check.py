"""The member check: two trainings of the segmentation recipe compared on held-out CAMUS and a real loop."""
from __future__ import annotations

import argparse

from echoquality.inference.registry import load_segmentation_model
from training.segmentation.member_check import held_out_dice, loop_agreement
from training.segmentation.real_frames import DEFAULT_LOOPS
from training.segmentation.train import init_seed


def test_a_model_against_itself_agrees_fully_and_its_average_is_itself(camus):
    model = load_segmentation_model("camus_seg_lite", "onnxruntime-cpu")
    held = held_out_dice([model, model], camus, seed=0)
    assert held["both, one pass each"] == held["model 1, one pass"] == held["model 2, one pass"]
    assert held["both, mirror averaged"] == held["model 1, mirror averaged"]
    assert 0.85 < held["model 1, mirror averaged"]["LV"] < 0.95 and held["model 1, one pass"]["MYO"] > 0.7
    echotk = DEFAULT_LOOPS[1]
    assert echotk.is_file()
    agreement = loop_agreement([model, model], echotk)
    assert {k: v["p5"] for k, v in agreement.items()} == {"LV": 1.0, "MYO": 1.0, "LA": 1.0}


def test_the_initialisation_seed_follows_the_split_seed_unless_given():
    assert init_seed(argparse.Namespace(seed=3, init_seed=None)) == 3
    assert init_seed(argparse.Namespace(seed=3, init_seed=1)) == 1
