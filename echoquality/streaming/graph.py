"""The whole chain in one place: source → preprocess → gate → segmentation → regions → quality → (split screen) → results.

Read it as a compose(): the stages, then every connection by port name. With `parallel` the chain
runs as two halves on two threads joined by a `Handoff` (front: preprocess, gate, segmentation;
back: regions, quality, split screen, results), so that the segmentation of frame n+1 runs while
frame n is divided and scored: both cores work on one stream, frames stay in order.
"""
from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable

import fast

from echoquality.core.framing import NETWORK_SIZE
from echoquality.core.quality import QualityMethod
from echoquality.core.records import Frame, FrameResult
from echoquality.core.segmentation import SegmentationModel
from echoquality.core.view import AUTO, ViewModel, checks_view
from echoquality.streaming.bridge import FrameSource, Handoff, HandoffSink, HandoffSource, flow
from echoquality.streaming.codec import is_end_marker
from echoquality.streaming.stages import (DivideMyocardium, Gate, Preprocess, RegionalQuality, Results, Segment,
                                          SplitScreen)

log = logging.getLogger(__name__)
HANDED_OFF = ("frame", "image", "sector", "gate", "labels")   # what the back half needs of each frame
SWITCH_INTERVAL_S = 0.001


@dataclass
class Pipeline:
    """The process objects of one analysis chain (kept here so that they stay alive)."""
    frames: FrameSource
    preprocess: Preprocess
    gate: Gate
    labels: Segment
    regions: DivideMyocardium
    scores: RegionalQuality
    split_screen: SplitScreen | None
    results: Results
    handoff: Handoff | None = None          # two halves on two threads (parallel)
    front_end: HandoffSink | None = None
    back_source: HandoffSource | None = None
    _front_error: list = field(default_factory=list)

    def run(self) -> None:
        """Stream every frame through the chain until the source ends (results go to `on_result`)."""
        front, interval = None, sys.getswitchinterval()
        if self.handoff is not None:
            # Both halves hold the GIL between their native calls: hand it over every 1 ms rather than
            # Python's 5 ms, so that one half does not stall the other (measured: fewer frames dropped live).
            sys.setswitchinterval(min(interval, SWITCH_INTERVAL_S))
            front = threading.Thread(target=self._run_front, name="analysis-front", daemon=True)
            front.start()
        try:
            _drain(self.results)
        finally:
            self.frames.close()           # ends a front half still waiting for a frame (the back half failed)
            if self.handoff is not None:
                self.handoff.close()
                front.join()
                sys.setswitchinterval(interval)
        if self._front_error:
            raise self._front_error[0]

    def _run_front(self) -> None:
        try:
            _drain(self.front_end)
        except BaseException as error:  # noqa: BLE001 (re-raised on the caller's thread)
            log.error("front half of the chain failed: %s", error)
            self._front_error.append(error)
            self.handoff.close()


def _drain(end: "fast.ProcessObject") -> None:
    """Pull every frame through the chain ending at `end` until the end marker."""
    for image in fast.DataStream(end):
        if is_end_marker(image):
            break


def build(frames: Iterable[Frame], segmentation: SegmentationModel, method: QualityMethod, method_name: str,
          on_result: Callable[[FrameResult], None], view: str = AUTO,
          title: str = "", max_in_flight: int = 8, split_screen: bool = True, smoothing_s: float = 0.0,
          view_model: ViewModel | None = None, parallel: bool = True, mirror: bool | None = None,
          reuse_fan: bool = False) -> Pipeline:
    """Connect the chain for one source of frames; each analysed frame reaches `on_result` as a `FrameResult`.

    The gate decides per frame whether it is scored (`FrameResult.status`) and names its view:
    `view` 'auto' recognises it with `view_model` (default: the bundled view classifier); a4c,
    a2c or alax is taken as given.

    Live sources use max_in_flight=1: a new frame is taken only when the last one is done, so the
    source keeps the newest frame (and counts the dropped ones) while the analysis is busy.
    Without `split_screen` (a GUI drawing the panels itself) no split-screen image is rendered.
    `smoothing_s` smooths the scores over time (0: every frame on its own, as `analyze` reports them).
    `parallel`: two halves on two threads (see the module docstring); live sources then keep two frames
    in flight (one per half) instead of one. `mirror`: average the segmentation with the mirrored
    frame's, and the quality model's likewise (None: each model's own default; live chains pass False
    to halve their cost). `reuse_fan` (live chains): keep the last frame's fan while it fits (see `Preprocess`).
    """
    source = FrameSource.create(frames, max(max_in_flight, 2) if parallel else max_in_flight)
    if checks_view(view) and view_model is None:
        from echoquality.inference.registry import shared_view_model
        view_model = shared_view_model()
    pre = Preprocess.create(getattr(segmentation, "framing", "fan"), NETWORK_SIZE, reuse_fan)
    check = Gate.create(view, view_model)
    segment = Segment.create(segmentation, mirror)
    divide = DivideMyocardium.create()
    score = RegionalQuality.create(method, method_name, smoothing_s, mirror)
    render = SplitScreen.create(title) if split_screen else None
    results = Results.create(on_result, method_name, split_screen, source)

    flow(source, pre, ("frame", "frame"))
    flow(pre, check, ("frame", "frame"), ("image", "image"))
    flow(pre, segment, ("image", "image"), ("sector", "sector"))
    flow(check, segment, ("gate", "gate"))
    handoff = front_end = None
    if parallel:      # the back half reads the front's images from the handoff instead of from the stages
        handoff = Handoff(HANDED_OFF)
        front_end = HandoffSink.create(handoff)
        flow(pre, front_end, ("frame", "frame"), ("image", "image"), ("sector", "sector"))
        flow(check, front_end, ("gate", "gate"))
        flow(segment, front_end, ("labels", "labels"))
        back = HandoffSource.create(handoff)
        frame_from, image_from, sector_from, gate_from, labels_from = back, back, back, back, back
    else:
        frame_from, image_from, sector_from, gate_from, labels_from = pre, pre, pre, check, segment

    flow(labels_from, divide, ("labels", "labels"))
    flow(sector_from, divide, ("sector", "sector"))
    flow(gate_from, divide, ("gate", "gate"))
    flow(image_from, score, ("image", "image"), ("sector", "sector"))
    flow(divide, score, ("regions", "regions"), ("lv_lumen", "lv_lumen"))
    flow(gate_from, score, ("gate", "gate"))
    if render is not None:
        flow(frame_from, render, ("frame", "frame"))
        flow(divide, render, ("regions", "regions"))
        flow(score, render, ("scores", "scores"))
        flow(render, results, ("split_screen", "split_screen"))
    flow(frame_from, results, ("frame", "frame"))
    flow(labels_from, results, ("labels", "labels"))
    flow(divide, results, ("regions", "regions"), ("lv_lumen", "lv_lumen"))
    flow(score, results, ("scores", "scores"))
    return Pipeline(source, pre, check, segment, divide, score, render, results, handoff, front_end,
                    back if parallel else None)
