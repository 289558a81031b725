"""The process objects of the chain: each a few lines around a numpy function of `core`.

Ports are named; values enter and leave FAST only through `codec`.
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from echoquality.core.cleanup import clean_labels
from echoquality.core.framing import NETWORK_SIZE, network_view
from echoquality.core.quality import QualityMethod, smooth_scores
from echoquality.core.records import FrameResult
from echoquality.core.regions import Landmarks, divide_myocardium
from echoquality.core.render import compose_split_screen
from echoquality.core.segmentation import SegmentationModel, segment
from echoquality.streaming import codec
from echoquality.streaming.bridge import FrameStreamer, Stage
from echoquality.streaming.codec import to_fast, to_numpy

log = logging.getLogger(__name__)


class Preprocess(Stage):
    """frame → image (the network view: canonical framing of the fan), sector (the fan at network size), frame.

    The framing travels in the frame data of the image and sector (`codec.set_framing`), so results
    map back to the frame. Later stages take the frame from here rather than from the source, so
    that every stage sees the same frames even when the source drops frames (newest-frame-only).
    `framing` is the segmentation model's ("fan" for this project's models, "frame" for the paper's).
    """

    inputs = ("frame",)
    outputs = ("image", "sector", "frame")

    def __init__(self, framing: str = "fan", size: int = NETWORK_SIZE):
        super().__init__()
        self.framing, self.size = framing, size
        self._box: tuple[int, int, int, int] | None = None   # the last frame's box: steady framing over a loop

    def process(self, frame):
        view = network_view(to_numpy(frame), codec.frame_tag(frame).spacing, self.size, self._box, self.framing)
        self._box = view.framing.box
        image = codec.set_framing(to_fast(view.image, frame), view.framing)
        sector = codec.set_framing(to_fast(view.sector.astype(np.uint8), frame), view.framing)
        return (image, sector, frame)


class Segment(Stage):
    """image, sector → labels (0 background, 1 LV, 2 MYO, 3 LA, 4 AO), one plausible component each, inside the fan."""

    inputs = ("image", "sector")
    outputs = ("labels",)

    def __init__(self, model: SegmentationModel):
        super().__init__()
        self.model = model

    def process(self, image, sector):
        labels = clean_labels(segment(self.model, to_numpy(image)), to_numpy(sector) > 0)
        return (to_fast(labels, image),)


class DivideMyocardium(Stage):
    """labels, sector → regions (map 0 none, 1..8), lv_lumen; landmarks optionally smoothed over frames."""

    inputs = ("labels", "sector")
    outputs = ("regions", "lv_lumen")

    def __init__(self, view: str = "a4c", smoothing: float = 0.0):
        super().__init__()
        self.view, self.smoothing = view, smoothing
        self.previous: Landmarks | None = None

    def process(self, labels, sector):
        label_map = to_numpy(labels)
        spacing = codec.framing_of(labels).network_spacing
        regions = divide_myocardium(label_map, spacing, to_numpy(sector).astype(bool), self.view,
                                    self.previous, self.smoothing)
        self.previous = regions.landmarks
        return codec.regions_to_fast(regions, labels)


class RegionalQuality(Stage):
    """image, regions, lv_lumen, sector → scores (8, NaN where invalid) on the 1–5 scale.

    With `smoothing_s` > 0 the scores are smoothed over time with that time constant (live display).
    """

    inputs = ("image", "regions", "lv_lumen", "sector")
    outputs = ("scores",)

    def __init__(self, method: QualityMethod, method_name: str, smoothing_s: float = 0.0):
        super().__init__()
        self.method = method
        self.method_name = method_name
        self.smoothing_s = smoothing_s
        self._previous: tuple[float, np.ndarray] | None = None  # (time_s, smoothed scores)

    def process(self, image, regions_image, lumen, sector):
        regions = codec.regions_from_fast(regions_image, lumen, to_numpy(sector).astype(bool))
        scores = self.method(to_numpy(image), regions)
        if self.smoothing_s > 0:
            time_s = codec.frame_tag(image).time_s
            last_time, last = self._previous or (time_s, None)
            scores = smooth_scores(last, scores, time_s - last_time, self.smoothing_s)
            self._previous = (time_s, scores)
        return (codec.scores_to_fast(scores, image),)


class SplitScreen(Stage):
    """frame, regions, scores → split screen (RGB at 2× the frame's width)."""

    inputs = ("frame", "regions", "scores")
    outputs = ("split_screen",)

    def __init__(self, title: str = ""):
        super().__init__()
        self.title = title

    def process(self, frame, regions, scores):
        region_map = codec.framing_of(regions).to_frame(to_numpy(regions).astype(np.uint8))
        composed = compose_split_screen(to_numpy(frame), region_map, codec.scores_from_fast(scores), self.title)
        return (to_fast(composed, frame),)


class Results(Stage):
    """frame, labels, regions, lv_lumen, scores[, split_screen] → one `FrameResult` per frame to `on_result`.

    The end of the chain: every frame (also one that failed, with its error) becomes one typed
    record; the end marker is passed on so that the caller's loop over the stream can stop.
    Each finished frame is reported to the streamer (see `FrameStreamer.max_in_flight`).
    """

    outputs = ("frame",)

    def __init__(self, on_result: Callable[[FrameResult], None], method: str, view: str, split_screen: bool,
                 streamer: FrameStreamer | None = None):
        self.inputs = ("frame", "labels", "regions", "lv_lumen", "scores") + (("split_screen",) if split_screen else ())
        super().__init__()
        self.on_result, self.method, self.view, self.streamer = on_result, method, view, streamer

    def execute(self) -> None:
        images = dict(zip(self.inputs, (self.getInputData(i) for i in range(self.n_inputs))))
        frame = images["frame"]
        try:
            if not codec.is_end_marker(frame):
                self.on_result(self.result(images))
        except Exception:  # the consumer's fault must not stop the stream
            log.exception("frame %s: result handler failed", codec.frame_tag(frame).index)
        if self.streamer is not None:
            self.streamer.frame_done()
        self.addOutputData(0, frame)

    def result(self, images: dict) -> FrameResult:
        """The typed record of one frame from the images at the inputs."""
        error = next((e for e in map(codec.frame_error, images.values()) if e is not None), None)
        frame = codec.fast_to_frame(images["frame"])
        tag = codec.frame_tag(images["frame"])
        if error is not None:
            if codec.frame_error(images["frame"]) is not None:  # failed before the frame was passed on
                frame.image = np.zeros((0, 0), np.uint8)
            return FrameResult(frame, method=self.method, view=self.view, error=error, entered_at=tag.entered_at)
        split = images.get("split_screen")
        spent = {name: ms for image in images.values() for name, ms in codec.timings(image).items()}
        return FrameResult(frame, labels=to_numpy(images["labels"]).copy(),
                           region_map=to_numpy(images["regions"]).astype(np.uint8),
                           lv_lumen=to_numpy(images["lv_lumen"]) > 0,
                           scores=codec.scores_from_fast(images["scores"]), method=self.method, view=self.view,
                           valid=codec.valid_from_fast(images["regions"]),
                           split_screen=None if split is None else to_numpy(split).copy(),
                           timings_ms=spent, entered_at=tag.entered_at,
                           framing=codec.framing_of(images["labels"]))
