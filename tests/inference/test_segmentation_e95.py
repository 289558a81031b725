"""The default segmentation model on real loops without labels (E95 demo, echotk GE loop): anatomy that hangs together.

Through the app's own path (framing, network, clean-up, regions), with the real-frame check of
`training.segmentation.real_frames`.
"""
from __future__ import annotations

import pytest

from echoquality.inference.registry import DEFAULT_SEGMENTATION, MODELS_DIR, available_models, load_segmentation_model
from tests.helpers import DEMO_LOOP
from training.segmentation.real_frames import DEFAULT_LOOPS, check_loop


@pytest.fixture(scope="module")
def model():
    return load_segmentation_model(DEFAULT_SEGMENTATION, backend="onnxruntime-cpu")


def test_e95_loop_holds_together(model):
    r = check_loop(DEMO_LOOP, model, model.framing)
    assert r["frames"] == 195
    assert r["one_lv_myo_la_inside_fan_raw"] >= 0.8            # the raw network output, before the clean-up
    assert r["labelled_pixels_outside_fan_raw"] < 0.02
    assert r["six_myocardial_regions_valid"] >= 0.9
    assert 5.0 <= r["wall_thickness_mm"]["median"] <= 16.0      # real walls: about 6-15 mm
    assert r["myo_frame_to_frame_dice"] > 0.85


def test_ge_loop_with_overlays_beside_a_wide_fan(model):
    loop = DEFAULT_LOOPS[1]
    if not loop.is_file():
        pytest.skip("echotk loop not present")
    r = check_loop(loop, model, model.framing)
    assert r["frames"] == 20
    assert r["labelled_pixels_outside_fan_raw"] < 0.02
    assert r["lv_myo_la_present"] >= 0.9
    assert 4.0 <= r["wall_thickness_mm"]["median"] <= 16.0


def test_default_model_is_registered_with_a_card(model):
    assert DEFAULT_SEGMENTATION in available_models()
    card = (MODELS_DIR / DEFAULT_SEGMENTATION / "README.md").read_text()
    assert "CC BY-NC-SA 4.0" in card and "Leclerc" in card and "(N, 1, 256, 256)" in card
    assert model.n_classes == 4 and model.name == DEFAULT_SEGMENTATION
