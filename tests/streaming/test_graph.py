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


def same_results(a: list[FrameResult], b: list[FrameResult]) -> None:
    assert [r.frame.index for r in a] == [r.frame.index for r in b]
    for x, y in zip(a, b):
        assert x.error == y.error and x.status == y.status and x.view == y.view
        assert np.array_equal(x.labels, y.labels) and np.array_equal(x.region_map, y.region_map)
        assert np.allclose(x.scores, y.scores, equal_nan=True)
        if x.split_screen is not None or y.split_screen is not None:
            assert np.array_equal(x.split_screen, y.split_screen)


def test_two_halves_on_two_threads_give_the_sequential_results_in_order():
    frames = first_frames(10)
    model = load_segmentation_model()
    sequential = run(frames, model, "e2e", split_screen=True, parallel=False)
    parallel = run(frames, model, "e2e", split_screen=True, parallel=True)
    assert [r.frame.index for r in parallel] == list(range(10))
    same_results(sequential, parallel)


class FailingMethod:
    """A quality method failing on one call: the back half's stage fails for that frame only."""

    def __init__(self, method, bad_call: int):
        self.method, self.calls, self.bad_call = method, 0, bad_call

    def __call__(self, image, regions):
        self.calls += 1
        if self.calls == self.bad_call:
            raise RuntimeError("cannot score this frame")
        return self.method(image, regions)


def test_failures_in_either_half_are_reported_per_frame_when_parallel():
    quality, name = resolve_method("gcnr")
    results: list[FrameResult] = []
    build(iter(first_frames(4)), FailsOnFrame(load_segmentation_model(), bad_call=2), FailingMethod(quality, 3),
          name, results.append, "a4c", parallel=True, split_screen=False).run()
    assert [r.frame.index for r in results] == [0, 1, 2, 3]
    assert results[1].error == "Segment: cannot segment this frame"
    assert results[3].error == "RegionalQuality: cannot score this frame"     # the 3rd scored frame
    assert results[0].error is None and results[2].error is None


def test_a_live_chain_keeps_at_most_one_frame_per_half_in_flight():
    frames = first_frames(8)
    taken: list[int] = []
    in_flight_at_result: list[int] = []

    def source():
        for frame in frames:
            taken.append(frame.index)
            yield frame

    quality, name = resolve_method("gcnr")
    build(source(), load_segmentation_model(), quality, name,
          lambda r: in_flight_at_result.append(len(taken) - r.frame.index - 1), "a4c",
          max_in_flight=1, parallel=True, split_screen=False).run()
    assert len(in_flight_at_result) == 8
    assert max(in_flight_at_result) <= 1      # besides the frame just finished, at most one more was taken
