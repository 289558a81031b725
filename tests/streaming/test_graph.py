"""The whole chain on real frames: one typed FrameResult per frame, failures per frame, nothing lost."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from echoquality.core.records import FrameResult
from echoquality.core.vocabulary import LV, N_REGIONS
from echoquality.inference.registry import (DEFAULT_SEGMENTATION, MODELS_DIR, load_segmentation_model,
                                            resolve_method)
from echoquality.sources import open_source
from echoquality.streaming.graph import build
from tests.helpers import DEMO_LOOP

pytestmark = pytest.mark.skipif(not (MODELS_DIR / DEFAULT_SEGMENTATION / "model.onnx").is_file(),
                                reason="the bundled segmentation model is not present")


def first_frames(n: int):
    return list(itertools.islice(open_source(str(DEMO_LOOP)), n))


def run(frames, segmentation, method: str = "gcnr", **options) -> list[FrameResult]:
    results: list[FrameResult] = []
    quality, name = resolve_method(method)
    build(iter(frames), segmentation, quality, name, results.append, "a4c", **options).run()
    return results


def test_every_frame_becomes_one_typed_result():
    frames = first_frames(4)
    results = run(frames, load_segmentation_model(), split_screen=True)
    assert [r.frame.index for r in results] == [0, 1, 2, 3]
    for frame, result in zip(frames, results):
        assert result.error is None and result.method == "gcnr" and result.view == "a4c"
        assert np.array_equal(result.frame.image, frame.image)
        assert result.labels.shape == result.region_map.shape == result.lv_lumen.shape
        assert result.lv_lumen.dtype == bool and result.lv_lumen.any()
        assert not (result.lv_lumen & (result.region_map > 0)).any()        # the lumen is not a region
        assert (result.labels[result.lv_lumen] == LV).all()
        assert result.scores.shape == (N_REGIONS,) and result.valid.shape == (N_REGIONS,)
        assert np.array_equal(np.isnan(result.scores), ~result.valid)
        assert result.split_screen.shape == (frame.image.shape[0], 2 * frame.image.shape[1], 3)
        assert {"Preprocess", "Segment", "DivideMyocardium", "RegionalQuality"} <= set(result.timings_ms)
        assert result.entered_at > 0


class FailsOnFrame:
    """The real model, failing on one frame (as a model may on a broken frame)."""

    def __init__(self, model, bad_call: int):
        self.model, self.name, self.calls, self.bad_call = model, model.name, 0, bad_call

    def predict(self, batch):
        self.calls += 1
        if self.calls == self.bad_call:
            raise RuntimeError("cannot segment this frame")
        return self.model.predict(batch)


def test_a_frame_that_fails_is_reported_and_the_stream_goes_on():
    results = run(first_frames(3), FailsOnFrame(load_segmentation_model(), bad_call=2), split_screen=False)
    assert [r.frame.index for r in results] == [0, 1, 2]
    assert results[1].error == "Segment: cannot segment this frame"
    assert np.isnan(results[1].scores).all() and results[1].labels is None
    assert results[0].error is None and results[2].error is None and results[2].split_screen is None
