"""The batched path (`analyze --batch-size N`) against the chain on real frames: the same result for every frame."""
from __future__ import annotations

import itertools
import threading
from dataclasses import replace

import numpy as np
import pytest

from echoquality.core.records import Frame, FrameResult
from echoquality.inference.registry import (DEFAULT_SEGMENTATION, MODELS_DIR, load_segmentation_model,
                                            resolve_method)
from echoquality.sources import SourceError, open_source
from echoquality.streaming.batched import run_batched
from echoquality.streaming.graph import build
from tests.helpers import DEMO_LOOP

pytestmark = pytest.mark.skipif(not (MODELS_DIR / DEFAULT_SEGMENTATION / "model.onnx").is_file(),
                                reason="the bundled segmentation model is not present")

BLANK = (5, 6)      # frames blanked out: the gate stops them (status 'blank') in the middle of a chunk


@pytest.fixture(scope="module")
def segmentation():
    return load_segmentation_model()


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    """The first 11 frames of the demo loop, two of them blank: 4 + 4 + 3 in chunks of 4 (the last not full)."""
    loop = list(itertools.islice(open_source(str(DEMO_LOOP)), 11))
    return [replace(f, image=np.zeros_like(f.image)) if f.index in BLANK else f for f in loop]


def chain_results(frames, segmentation, method: str, view: str, **options) -> list[FrameResult]:
    results: list[FrameResult] = []
    quality, name = resolve_method(method)
    build(iter(frames), segmentation, quality, name, results.append, view, **options).run()
    return results


def batched_results(frames, segmentation, method: str, view: str, batch_size: int = 4, **options
                    ) -> list[FrameResult]:
    results: list[FrameResult] = []
    quality, name = resolve_method(method)
    run_batched(iter(frames), segmentation, quality, name, results.append, batch_size, view, **options)
    return results


@pytest.mark.parametrize("method, view", [("e2e", "auto"), ("gcnr", "a4c")])
def test_batched_results_equal_the_chain(frames, segmentation, method, view):
    chain = chain_results(frames, segmentation, method, view, split_screen=True)
    batched = batched_results(frames, segmentation, method, view, split_screen=True)
    assert [r.frame.index for r in batched] == [r.frame.index for r in chain] == list(range(11))
    assert [r.status for r in batched] == [r.status for r in chain]
    assert [r.status for r in batched if r.frame.index in BLANK] == ["blank", "blank"]
    assert [r.view for r in batched] == [r.view for r in chain]
    for a, b in zip(chain, batched):
        assert b.error is None and b.method == a.method
        np.testing.assert_allclose(b.scores, a.scores, atol=1e-4, equal_nan=True)
        np.testing.assert_allclose(b.view_confidence, a.view_confidence, atol=1e-4, equal_nan=True)
        assert np.array_equal(b.labels, a.labels) and np.array_equal(b.region_map, a.region_map)
        assert np.array_equal(b.lv_lumen, a.lv_lumen) and np.array_equal(b.valid, a.valid)
        assert b.framing == a.framing and np.array_equal(b.frame.image, a.frame.image)
        assert b.frame.time_s == a.frame.time_s and b.split_screen.shape == a.split_screen.shape
        steps = {"Preprocess", "Gate", "DivideMyocardium", "SplitScreen"} | ({"Segment", "RegionalQuality"}
                                                                               if b.status == "ok" else set())
        assert steps <= set(b.timings_ms)


class FailsOnCall:
    """The real quality method, failing on its n-th frame; its batched form (when asked) always fails."""

    def __init__(self, method, bad_call: int, batched: bool):
        self.method, self.calls, self.bad_call, self.lock = method, 0, bad_call, threading.Lock()
        if batched:
            self.batched = self.fail_batch

    def fail_batch(self, images, regions_list):
        raise RuntimeError("cannot score these frames together")

    def __call__(self, image, regions):
        with self.lock:
            self.calls += 1
            call = self.calls
        if call == self.bad_call:
            raise RuntimeError("cannot score this frame")
        return self.method(image, regions)


@pytest.mark.parametrize("batched", [True, False])
def test_a_frame_that_fails_fails_alone(frames, segmentation, batched):
    method, name = resolve_method("gcnr")
    results: list[FrameResult] = []
    run = run_batched(iter(frames[:4]), segmentation, FailsOnCall(method, 3, batched), name, results.append, 4,
                      "a4c", workers=1)
    assert run.frames == 4 and run.chunks == 1 and run.error is None
    assert [r.status for r in results] == ["ok", "ok", "error", "ok"]
    assert results[2].error == "RegionalQuality: cannot score this frame" and results[2].view == "other"
    assert np.isnan(results[2].scores).all() and not np.isnan(results[3].scores).all()


class SegmentsOneByOne:
    """The real segmentation model, failing on any batch of several frames and on its n-th call."""

    def __init__(self, model, bad_call: int):
        self.model, self.name, self.framing, self.calls, self.bad_call = model, model.name, model.framing, 0, bad_call

    def predict(self, batch):
        self.calls += 1
        if len(batch) > 1 or self.calls == self.bad_call:
            raise RuntimeError("cannot segment this frame")
        return self.model.predict(batch)


def test_a_failed_batch_is_done_again_frame_by_frame(frames, segmentation):
    method, name = resolve_method("gcnr")
    results: list[FrameResult] = []
    run_batched(iter(frames[:4]), SegmentsOneByOne(segmentation, 4), method, name, results.append, 4, "a4c",
                workers=1)
    assert [r.status for r in results] == ["ok", "ok", "error", "ok"]      # call 1: the batch, 2-5: frames 0-3
    assert results[2].error == "Segment: cannot segment this frame"


def test_a_source_failing_mid_stream_keeps_the_frames_before(frames, segmentation):
    def source():
        yield from frames[:5]
        raise SourceError("loop.mp4: cannot decode frame 5")

    method, name = resolve_method("gcnr")
    results: list[FrameResult] = []
    run = run_batched(source(), segmentation, method, name, results.append, 4, "a4c")
    assert run.error == "loop.mp4: cannot decode frame 5" and run.chunks == 2
    assert [r.frame.index for r in results] == [0, 1, 2, 3, 4] and {r.status for r in results} == {"ok"}


def test_batch_size_must_be_positive(segmentation):
    method, name = resolve_method("gcnr")
    with pytest.raises(ValueError, match="batch size"):
        run_batched(iter([]), segmentation, method, name, print, 0, "a4c")
