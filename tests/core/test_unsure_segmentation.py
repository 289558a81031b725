"""A segmentation the model is unsure of stops the frame: the share of close calls (pure core), and the shipped
model on a real apical loop and on real parasternal sectors it was not trained on (real ONNX sessions)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from echoquality.core.framing import network_view
from echoquality.core.segmentation import labels_from_scores, segment, segment_batch, uncertain_share
from echoquality.inference.backends import ModelError
from echoquality.inference.registry import DEFAULT_SEGMENTATION, load_segmentation_model, resolve_model
from echoquality.sources.playback import open_source
from tests.helpers import DEMO_LOOP

NON_APICAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "non_apical"


def scores_with(winner_margin: np.ndarray) -> np.ndarray:
    """(4, H, W) scores: background wins by -margin where margin > 0 is LV's lead (probability rises with it)."""
    scores = np.zeros((4,) + winner_margin.shape, np.float32)
    scores[1] = winner_margin
    return scores


def test_sure_pixels_give_no_close_calls_and_unsure_ones_all():
    sure = scores_with(np.full((64, 64), 8.0))            # LV wins with probability ~1
    unsure = scores_with(np.full((64, 64), 0.5))          # LV wins with ~0.35 among four
    assert uncertain_share(sure) == 0.0
    assert uncertain_share(unsure) == 1.0
    assert 0.7 > np.exp(0.5) / (np.exp(0.5) + 3)          # the level the default share is taken at


def test_share_counts_labelled_pixels_inside_the_sector_only():
    margin = np.full((64, 64), 8.0)
    margin[:, :16] = 0.5                                  # a quarter is a close call
    margin[:, 48:] = -5.0                                 # a quarter is background (not counted)
    share = uncertain_share(scores_with(margin), step=1)
    assert share == pytest.approx(16 / 48)
    sector = np.zeros((64, 64), bool)
    sector[:, 16:] = True                                 # the close calls lie outside the fan
    assert uncertain_share(scores_with(margin), sector, step=1) == 0.0


def test_nothing_labelled_counts_as_unsure():
    assert uncertain_share(scores_with(np.full((32, 32), -3.0))) == 1.0


@pytest.fixture(scope="module")
def model():
    return load_segmentation_model(DEFAULT_SEGMENTATION, backend="onnxruntime-cpu")


def test_the_default_model_carries_its_calibrated_limit(model):
    assert model.max_uncertain_share is not None and 0.1 < model.max_uncertain_share < 0.5


def test_real_apical_frames_keep_their_labels(model):
    frames = [f for k, f in enumerate(open_source(str(DEMO_LOOP))) if k % 40 == 0]
    views = [network_view(f.image, f.spacing) for f in frames]
    labels = segment_batch(model, np.stack([v.image for v in views]), np.stack([v.sector for v in views]))
    for v, lab in zip(views, labels):
        assert uncertain_share(model.scores(v.image[None, None].astype(np.float32))[0], v.sector) \
            < model.max_uncertain_share
        assert {1, 2, 3} <= set(np.unique(lab[v.sector]).tolist())


def parasternal_sector(name: str) -> np.ndarray:
    from training.view.samples import read_dicom_screen, sector_of
    path = NON_APICAL / f"{name}.dcm"
    if not path.is_file():
        pytest.skip("../shared/data/non_apical is not present")
    screen, box = read_dicom_screen(path)
    return sector_of(screen, box)


def test_a_real_parasternal_view_the_model_is_unsure_of_gets_no_labels(model, tmp_path):
    view = network_view(parasternal_sector("1E5H70ZT"))
    scores = model.scores(view.image[None, None].astype(np.float32))[0]
    assert uncertain_share(scores, view.sector) > model.max_uncertain_share
    assert (labels_from_scores(scores[None])[0] > 0).any()          # the network did draw something
    assert not segment(model, view.image, sector=view.sector).any()  # ... which the app drops
    # Without the calibration (e.g. the paper's published models) nothing is dropped.
    graph = onnx.load(str(resolve_model(DEFAULT_SEGMENTATION)))
    kept = {p.key: p.value for p in graph.metadata_props if p.key != "max_uncertain_share"}
    del graph.metadata_props[:]
    helper.set_model_props(graph, kept)
    onnx.save(graph, str(tmp_path / "model.onnx"))
    plain = load_segmentation_model(tmp_path, backend="onnxruntime-cpu")
    assert plain.max_uncertain_share is None
    assert segment(plain, view.image, sector=view.sector).any()


@pytest.mark.parametrize("value", ["0", "1.5", "high", "-0.2"])
def test_a_bad_limit_in_the_metadata_is_a_clear_error(tmp_path, value):
    graph = onnx.load(str(resolve_model(DEFAULT_SEGMENTATION)))
    kept = {p.key: p.value for p in graph.metadata_props}
    del graph.metadata_props[:]
    helper.set_model_props(graph, {**kept, "max_uncertain_share": value})
    onnx.save(graph, str(tmp_path / "model.onnx"))
    with pytest.raises(ModelError, match="max_uncertain_share"):
        load_segmentation_model(tmp_path, backend="onnxruntime-cpu")
