"""The whole chain in one place: source → preprocess → gate → segmentation → regions → quality → (split screen) → results.

Read it as a compose(): the stages, then every connection by port name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import fast

from echoquality.core.quality import QualityMethod
from echoquality.core.records import Frame, FrameResult
from echoquality.core.segmentation import SegmentationModel
from echoquality.core.view import AUTO, ViewModel
from echoquality.streaming.bridge import FrameStreamer, flow
from echoquality.streaming.codec import is_end_marker
from echoquality.streaming.stages import (DivideMyocardium, Gate, Preprocess, RegionalQuality, Results, Segment,
                                          SplitScreen)


@dataclass
class Pipeline:
    """The process objects of one analysis chain (kept here so that they stay alive)."""
    frames: FrameStreamer
    preprocess: Preprocess
    gate: Gate
    labels: Segment
    regions: DivideMyocardium
    scores: RegionalQuality
    split_screen: SplitScreen | None
    results: Results

    def run(self) -> None:
        """Stream every frame through the chain until the source ends (results go to `on_result`)."""
        for image in fast.DataStream(self.results):
            if is_end_marker(image):
                break


def build(frames: Iterable[Frame], segmentation: SegmentationModel, method: QualityMethod, method_name: str,
          on_result: Callable[[FrameResult], None], view: str = AUTO, newest_frame_only: bool = False,
          title: str = "", max_in_flight: int = 8, split_screen: bool = True, smoothing_s: float = 0.0,
          view_model: ViewModel | None = None) -> Pipeline:
    """Connect the chain for one source of frames; each analysed frame reaches `on_result` as a `FrameResult`.

    The gate decides per frame whether it is scored (`FrameResult.status`) and names its view:
    `view` 'auto' recognises it with `view_model` (default: the bundled view classifier); a4c,
    a2c or alax is taken as given.

    Live sources use max_in_flight=1: a new frame is taken only when the last one is done, so the
    source keeps the newest frame (and counts the dropped ones) while the analysis is busy.
    Without `split_screen` (a GUI drawing the panels itself) no split-screen image is rendered.
    `smoothing_s` smooths the scores over time (0: every frame on its own, as `analyze` reports them).
    """
    source = FrameStreamer.create(frames, newest_frame_only, max_in_flight)
    if view == AUTO and view_model is None:
        from echoquality.inference.registry import shared_view_model
        view_model = shared_view_model()
    pre = Preprocess.create(getattr(segmentation, "framing", "fan"))
    check = Gate.create(view, view_model)
    segment = Segment.create(segmentation)
    divide = DivideMyocardium.create()
    score = RegionalQuality.create(method, method_name, smoothing_s)
    render = SplitScreen.create(title) if split_screen else None
    results = Results.create(on_result, method_name, split_screen, source)

    flow(source, pre, ("frame", "frame"))
    flow(pre, check, ("frame", "frame"), ("image", "image"))
    flow(pre, segment, ("image", "image"), ("sector", "sector"))
    flow(check, segment, ("gate", "gate"))
    flow(segment, divide, ("labels", "labels"))
    flow(pre, divide, ("sector", "sector"))
    flow(check, divide, ("gate", "gate"))
    flow(pre, score, ("image", "image"), ("sector", "sector"))
    flow(divide, score, ("regions", "regions"), ("lv_lumen", "lv_lumen"))
    flow(check, score, ("gate", "gate"))
    if render is not None:
        flow(pre, render, ("frame", "frame"))
        flow(divide, render, ("regions", "regions"))
        flow(score, render, ("scores", "scores"))
        flow(render, results, ("split_screen", "split_screen"))
    flow(pre, results, ("frame", "frame"))
    flow(segment, results, ("labels", "labels"))
    flow(divide, results, ("regions", "regions"), ("lv_lumen", "lv_lumen"))
    flow(score, results, ("scores", "scores"))
    return Pipeline(source, pre, check, segment, divide, score, render, results)
