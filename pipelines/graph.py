"""The whole chain in one place: source → preprocess → segmentation → regions → quality → split screen."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .fast_bridge import FrameStreamer
from .preprocess import Preprocess
from .quality import QualityMethod, RegionalQuality
from .regions_stage import DivideMyocardium
from .segmentation import Segment, SegmentationModel
from .splitscreen import SplitScreen
from .types import Frame


@dataclass
class Pipeline:
    """The process objects of one analysis chain (kept here so that they stay alive)."""
    frames: FrameStreamer
    preprocess: Preprocess
    labels: Segment
    regions: DivideMyocardium
    scores: RegionalQuality
    split_screen: SplitScreen | None


def build(frames: Iterable[Frame], segmentation: SegmentationModel, method: QualityMethod, method_name: str,
          view: str = "a4c", newest_frame_only: bool = False, title: str = "", max_in_flight: int = 8,
          split_screen: bool = True, smoothing_s: float = 0.0) -> Pipeline:
    """Connect the chain for one source of frames.

    Live sources use max_in_flight=1: a new frame is taken only when the last one is done, so the
    source keeps the newest frame (and counts the dropped ones) while the analysis is busy.
    Without `split_screen` (a GUI drawing the panels itself) the chain ends at the scores.
    `smoothing_s` smooths the scores over time (0: every frame on its own, as `analyze` reports them).
    """
    source = FrameStreamer.create(frames, newest_frame_only, max_in_flight)
    pre = Preprocess.create().connect(source)
    labels = Segment.create(segmentation).connect(0, pre, 0)
    regions = DivideMyocardium.create(view).connect(0, labels, 0).connect(1, pre, 1)
    scores = RegionalQuality.create(method, method_name, smoothing_s).connect(0, pre, 0).connect(1, regions, 0) \
        .connect(2, pre, 1)
    split = SplitScreen.create(title).connect(0, pre, 2).connect(1, scores, 0) if split_screen else None
    return Pipeline(source, pre, labels, regions, scores, split)
