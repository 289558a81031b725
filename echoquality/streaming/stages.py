"""The process objects of the chain: each a few lines around a numpy function of `core`.

Ports are named; values enter and leave FAST only through `codec`.
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from echoquality.core import gate
from echoquality.core.cleanup import clean_labels
from echoquality.core.fan import Fan, fan_still_fits, grayscale
from echoquality.core.framing import NETWORK_SIZE, network_view
from echoquality.core.quality import QualityMethod, one_pass_form, smooth_scores
from echoquality.core.records import FrameResult
from echoquality.core.regions import Landmarks, divide_myocardium
from echoquality.core.render import compose_split_screen
from echoquality.core.segmentation import SegmentationModel, segment
from echoquality.core.view import AUTO, ViewModel, ViewSmoother, canonical_image, checks_view, recognise
from echoquality.core.vocabulary import N_REGIONS, VIEWS
from echoquality.streaming import codec
from echoquality.streaming.bridge import FrameSource, Stage, input_images
from echoquality.streaming.codec import to_fast, to_numpy

log = logging.getLogger(__name__)

FAN_SEARCH_EVERY = 15   # frames (a quarter of a second at 60 frames/s) a reused fan lives at most


class Preprocess(Stage):
    """frame → image (the network view: canonical framing of the fan), sector (the fan at network size), frame.

    The framing travels in the frame data of the image and sector (`codec.set_framing`), so results
    map back to the frame. Later stages take the frame from here rather than from the source, so
    that every stage sees the same frames even when the source drops frames (newest-frame-only).
    `framing` is the segmentation model's ("fan" for this project's models, "frame" for the paper's).
    `reuse_fan` (live chains): the last frame's fan is kept while it still fits the new frame
    (`core.fan.fan_still_fits`: a change of depth, width or zoom is noticed) and searched for again at
    least every FAN_SEARCH_EVERY frames; saves the search (about 1.3 ms) on most frames.
    """

    inputs = ("frame",)
    outputs = ("image", "sector", "frame")

    def __init__(self, framing: str = "fan", size: int = NETWORK_SIZE, reuse_fan: bool = False):
        super().__init__()
        self.framing, self.size, self.reuse_fan = framing, size, reuse_fan
        self._box: tuple[int, int, int, int] | None = None   # the last frame's box: steady framing over a loop
        self._fan: Fan | None = None                          # the last fan searched for (reuse_fan)
        self._reused = 0

    def _known_fan(self, pixels: np.ndarray) -> Fan | None:
        """The last frame's fan while it still fits (at most FAN_SEARCH_EVERY frames); None: search again."""
        if self.reuse_fan and self._fan is not None and self._reused < FAN_SEARCH_EVERY - 1 \
                and fan_still_fits(self._fan, pixels):
            self._reused += 1
            return self._fan
        self._reused = 0
        return None

    def process(self, frame):
        pixels = grayscale(to_numpy(frame))
        known = self._known_fan(pixels)
        view = network_view(pixels, codec.frame_tag(frame).spacing, self.size, self._box, self.framing, known)
        self._box = view.framing.box
        self._fan = view.fan
        image = codec.set_fan(codec.set_framing(to_fast(view.image, frame), view.framing), view.fan, self.framing)
        sector = codec.set_framing(to_fast(view.sector.astype(np.uint8), frame), view.framing)
        return (image, sector, frame)


class Gate(Stage):
    """frame, image → gate: is it a grey-scale apical B-mode view, and which view (`core.gate`, `core.view`).

    The content checks judge the frame as it came (its colour map, the mode its file declares);
    the view classifier sees the canonical framing of the fan, its probabilities smoothed over
    time. An explicit view names the regions; for a2c or a4c the classifier still stops a frame it
    calls 'other' (`checks_view`); an explicit alax is not second-guessed (never learnt).
    """

    inputs = ("frame", "image")
    outputs = ("gate",)

    def __init__(self, view: str = AUTO, view_model: ViewModel | None = None):
        super().__init__()
        if view == AUTO and view_model is None:
            raise ValueError("view 'auto' needs a view model")
        self.view, self.model = view, view_model
        self.smoother = ViewSmoother(other_limit=getattr(view_model, "other_limit", None))

    def process(self, frame, image):
        pixels = to_numpy(frame)
        tag = codec.frame_tag(frame)
        found = codec.fan_of(image)        # Preprocess found the fan (its view is the canonical one with framing "fan")
        if found is None:
            framed = network_view(pixels, tag.spacing)
            fan, canonical = framed.fan, framed.image
        else:
            fan = found[0]
            canonical = to_numpy(image) if found[1] == "fan" else canonical_image(pixels, fan, tag.spacing)
        verdict = gate.content_verdict(pixels, fan, codec.frame_colour(frame), codec.frame_declared_mode(frame))
        view, confidence, probabilities = self.view, float("nan"), np.full(3, np.nan, np.float32)
        if verdict.ok and checks_view(self.view) and self.model is not None:
            probabilities = recognise(self.model, canonical).astype(np.float32)
            estimate = self.smoother.update(probabilities, tag.time_s)
            view, confidence, verdict = gate.judge_view(self.view, estimate)
        elif self.view == AUTO:
            view = "other"
        out = to_fast(probabilities.reshape(1, 3), frame)
        return (codec.set_gate(out, codec.GateTag(verdict.status, view, confidence)),)


class Segment(Stage):
    """image, sector, gate → labels (0 background, 1 LV, 2 MYO, 3 LA, 4 AO), one plausible component each,
    inside the fan; none for a frame the gate stopped or the model is unsure of (`core.segmentation.segment`).
    `mirror`: see `SegmentationModel.scores`."""

    inputs = ("image", "sector", "gate")
    outputs = ("labels",)

    def __init__(self, model: SegmentationModel, mirror: bool | None = None):
        super().__init__()
        self.model, self.mirror = model, mirror

    def process(self, image, sector, verdict):
        pixels = to_numpy(image)
        if codec.gate_tag(verdict).status != gate.OK:
            return (to_fast(np.zeros(pixels.shape[:2], np.uint8), image),)
        inside = to_numpy(sector) > 0
        labels = clean_labels(segment(self.model, pixels, self.mirror, inside), inside)
        return (to_fast(labels, image),)


class DivideMyocardium(Stage):
    """labels, sector, gate → regions (map 0 none, 1..8), lv_lumen; landmarks optionally smoothed over frames.

    The walls are named after the gate's view (the one given, or the recognised one).
    """

    inputs = ("labels", "sector", "gate")
    outputs = ("regions", "lv_lumen")

    def __init__(self, smoothing: float = 0.0):
        super().__init__()
        self.smoothing = smoothing
        self.previous: Landmarks | None = None

    def process(self, labels, sector, verdict):
        label_map = to_numpy(labels)
        view = codec.gate_tag(verdict).view
        spacing = codec.framing_of(labels).network_spacing
        regions = divide_myocardium(label_map, spacing, to_numpy(sector).astype(bool), view if view in VIEWS else "a4c",
                                    self.previous, self.smoothing)
        self.previous = regions.landmarks
        return codec.regions_to_fast(regions, labels)


class RegionalQuality(Stage):
    """image, regions, lv_lumen, sector → scores (8, NaN where invalid) on the 1–5 scale.

    With `smoothing_s` > 0 the scores are smoothed over time with that time constant (live display).
    `mirror` False: the method's one-pass form (no mirror averaging; live chains).
    """

    inputs = ("image", "regions", "lv_lumen", "sector", "gate")
    outputs = ("scores",)

    def __init__(self, method: QualityMethod, method_name: str, smoothing_s: float = 0.0, mirror: bool | None = None):
        super().__init__()
        self.method = one_pass_form(method) if mirror is False else method
        self.method_name = method_name
        self.smoothing_s = smoothing_s
        self._previous: tuple[float, np.ndarray] | None = None  # (time_s, smoothed scores)

    def process(self, image, regions_image, lumen, sector, verdict):
        regions = codec.regions_from_fast(regions_image, lumen, to_numpy(sector).astype(bool))
        tag = codec.gate_tag(verdict)
        if tag.status == gate.OK:
            tag = codec.GateTag(gate.anatomy_verdict(regions.lv_lumen.astype(np.uint8), regions.valid).status,
                                tag.view, tag.confidence)
        if tag.status != gate.OK:   # no scores, and smoothing starts afresh on the next scored frame
            self._previous = None
            return (codec.set_gate(codec.scores_to_fast(np.full(N_REGIONS, np.nan), image), tag, final=True),)
        scores = self.method(to_numpy(image), regions)
        if self.smoothing_s > 0:
            time_s = codec.frame_tag(image).time_s
            last_time, last = self._previous or (time_s, None)
            scores = smooth_scores(last, scores, time_s - last_time, self.smoothing_s)
            self._previous = (time_s, scores)
        return (codec.set_gate(codec.scores_to_fast(scores, image), tag, final=True),)


class SplitScreen(Stage):
    """frame, regions, scores → split screen (RGB at 2× the frame's width)."""

    inputs = ("frame", "regions", "scores")
    outputs = ("split_screen",)

    def __init__(self, title: str = ""):
        super().__init__()
        self.title = title

    def process(self, frame, regions, scores):
        status = codec.gate_tag(scores, final=True).status
        region_map = codec.framing_of(regions).to_frame(to_numpy(regions).astype(np.uint8))
        composed = compose_split_screen(to_numpy(frame), region_map, codec.scores_from_fast(scores), self.title,
                                        gate.REASONS.get(status, status))
        return (to_fast(composed, frame),)


class Results(Stage):
    """frame, labels, regions, lv_lumen, scores[, split_screen] → one `FrameResult` per frame to `on_result`.

    The end of the chain: every frame (also one that failed, with its error) becomes one typed
    record; the end marker is passed on so that the caller's loop over the stream can stop.
    Each finished frame is reported to the source (see `FrameSource`'s `max_in_flight`).
    """

    outputs = ("frame",)

    def __init__(self, on_result: Callable[[FrameResult], None], method: str, split_screen: bool,
                 source: FrameSource | None = None):
        self.inputs = ("frame", "labels", "regions", "lv_lumen", "scores") + (("split_screen",) if split_screen else ())
        super().__init__()
        self.on_result, self.method, self.source = on_result, method, source

    def execute(self) -> None:
        images = dict(zip(self.inputs, input_images(self, self.n_inputs)))
        frame = images["frame"]
        try:
            if not codec.is_end_marker(frame):
                self.on_result(self.result(images))
        except Exception:  # the consumer's fault must not stop the stream
            log.exception("frame %s: result handler failed", codec.frame_tag(frame).index)
        if self.source is not None:
            self.source.frame_done()
        self.addOutputData(0, frame)

    def result(self, images: dict) -> FrameResult:
        """The typed record of one frame from the images at the inputs."""
        error = next((e for e in map(codec.frame_error, images.values()) if e is not None), None)
        frame = codec.fast_to_frame(images["frame"])
        tag = codec.frame_tag(images["frame"])
        if error is not None:
            if codec.frame_error(images["frame"]) is not None:  # failed before the frame was passed on
                frame.image = np.zeros((0, 0), np.uint8)
            return FrameResult(frame, method=self.method, view="other", error=error, status=gate.ERROR,
                               entered_at=tag.entered_at)
        split = images.get("split_screen")
        spent = {name: ms for image in images.values() for name, ms in codec.timings(image).items()}
        verdict = codec.gate_tag(images["scores"], final=True)
        return FrameResult(frame, labels=to_numpy(images["labels"]).copy(),
                           region_map=to_numpy(images["regions"]).astype(np.uint8),
                           lv_lumen=to_numpy(images["lv_lumen"]) > 0,
                           scores=codec.scores_from_fast(images["scores"]), method=self.method, view=verdict.view,
                           status=verdict.status, view_confidence=verdict.confidence,
                           valid=codec.valid_from_fast(images["regions"]),
                           split_screen=None if split is None else to_numpy(split).copy(),
                           timings_ms=spent, entered_at=tag.entered_at,
                           framing=codec.framing_of(images["labels"]))
