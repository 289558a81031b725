"""The chain of `graph.py` on chunks of frames, without FAST: `analyze --batch-size N` for recorded inputs.

Each chunk of N frames goes through the same steps as the chain's stages, calling the same `core`
functions: the network view with a steady box (`Preprocess`), the content gate and the view with its
smoother (`Gate`), segmentation (`Segment`), the region division (`DivideMyocardium`), the anatomy
check and the quality method (`RegionalQuality`), the split screen (`SplitScreen`) and one
`FrameResult` per frame (`Results`), handed on in frame order. The networks see the whole chunk in
one call (segmentation, view classifier, the end-to-end quality model): meant for a GPU (backend
'auto' picks CUDA when one is present); on a CPU it does not pay (README). The per-frame numpy and
OpenCV work runs on a small thread pool, results kept in order. Steps that carry state from frame
to frame (the steady box, the view smoother) run in frame order.

A frame that fails in a step gets an error result as in the chain; a source that fails mid-stream
ends the run with its message (`BatchedRun.error`), the frames before it analysed.
"""
from __future__ import annotations

import itertools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator

import numpy as np

from echoquality.core import gate
from echoquality.core.cleanup import clean_labels
from echoquality.core.framing import NETWORK_SIZE, NetworkView, network_view
from echoquality.core.quality import QualityMethod, batched_form
from echoquality.core.records import Frame, FrameResult
from echoquality.core.regions import Regions, divide_myocardium
from echoquality.core.render import compose_split_screen
from echoquality.core.segmentation import SegmentationModel, segment, segment_batch
from echoquality.core.view import AUTO, ViewModel, ViewSmoother, canonical_image, checks_view, recognise, view_input
from echoquality.core.vocabulary import N_REGIONS, VIEWS

log = logging.getLogger(__name__)

WORKERS = 2    # threads for the per-frame CPU work (numpy, OpenCV and onnxruntime release the GIL)


@dataclass
class FrameWork:
    """One frame on its way through a chunk: what each step found so far (None: not yet, or not needed)."""
    frame: Frame
    entered_at: float
    network: NetworkView | None = None
    status: str = gate.OK
    view: str = "a4c"
    confidence: float = float("nan")
    canonical: np.ndarray | None = None        # what the view classifier sees (view 'auto', content passed)
    probabilities: np.ndarray | None = None    # the view classifier's, before smoothing
    labels: np.ndarray | None = None
    regions: Regions | None = None
    scores: np.ndarray = field(default_factory=lambda: np.full(N_REGIONS, np.nan))
    split_screen: np.ndarray | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def scored(self) -> bool:
        """Still on its way to scores: no error, and every check so far passed."""
        return self.error is None and self.status == gate.OK


@dataclass
class BatchedRun:
    """What a batched run did: frames analysed, and the source's error when it failed mid-stream."""
    frames: int = 0
    chunks: int = 0
    error: str | None = None
    chunk_ms: list[float] = field(default_factory=list)   # wall time of every chunk, in order


def _step(work: FrameWork, stage: str, do: Callable[[FrameWork], None]) -> None:
    """Run one step of one frame, timing it; a failure marks the frame as the chain's stages do."""
    if work.error is not None:
        return
    start = time.perf_counter()
    try:
        do(work)
    except Exception as error:  # one bad frame must not stop the others
        work.error = f"{stage}: {error}"
        log.error("frame %s: %s", work.frame.index, work.error)
    work.timings_ms[stage] = work.timings_ms.get(stage, 0.0) + (time.perf_counter() - start) * 1e3


def _together(works: list[FrameWork], stage: str, batch: Callable[[list[FrameWork]], None],
              each: Callable[[FrameWork], None], map_: Callable = map) -> None:
    """One batched call for `works`, its time shared out over them; when it fails, `each` frame by frame
    (through `map_`), so that only the frames at fault fail, as in the chain."""
    if not works:
        return
    start = time.perf_counter()
    try:
        batch(works)
    except Exception:
        log.debug("%s of frames %s-%s together failed; frame by frame", stage, works[0].frame.index,
                  works[-1].frame.index, exc_info=True)
    else:
        share = (time.perf_counter() - start) * 1e3 / len(works)
        for work in works:
            work.timings_ms[stage] = work.timings_ms.get(stage, 0.0) + share
        return
    list(map_(lambda w: _step(w, stage, each), works))


def _as_carried(scores: np.ndarray) -> np.ndarray:
    """(8,) float64 scores through float32, as the chain carries them between stages."""
    return np.asarray(scores, np.float32).astype(np.float64)


class BatchedChain:
    """The analysis of one source, chunk by chunk (see the module docstring); state kept between chunks."""

    def __init__(self, segmentation: SegmentationModel, method: QualityMethod, method_name: str,
                 view: str = AUTO, view_model: ViewModel | None = None, title: str = "",
                 split_screen: bool = False, pool: ThreadPoolExecutor | None = None):
        if view == AUTO and view_model is None:
            raise ValueError("view 'auto' needs a view model")
        self.segmentation, self.method, self.method_name = segmentation, method, method_name
        self.framing = getattr(segmentation, "framing", "fan")
        self.requested_view, self.view_model = view, view_model
        self.title, self.split_screen = title, split_screen
        self.map = pool.map if pool is not None else map
        self.smoother = ViewSmoother(other_limit=getattr(view_model, "other_limit", None))
        self._box: tuple[int, int, int, int] | None = None    # the last frame's box: steady framing over a loop

    def analyse(self, frames: list[Frame]) -> list[FrameResult]:
        """One `FrameResult` per frame of a chunk, in order."""
        works = [FrameWork(frame, time.perf_counter()) for frame in frames]
        for work in works:                       # in order: the box of one frame steadies the next
            _step(work, "Preprocess", self._preprocess)
        list(self.map(lambda w: _step(w, "Gate", self._content), works))
        self._recognise(works)
        self._segment([w for w in works if w.scored])
        list(self.map(lambda w: _step(w, "DivideMyocardium", self._divide), works))
        self._score([w for w in works if w.scored])
        if self.split_screen:
            list(self.map(lambda w: _step(w, "SplitScreen", self._render), works))
        return [self._result(work) for work in works]

    # --- the steps, as the chain's stages take them ----------------------------------------------------

    def _preprocess(self, work: FrameWork) -> None:
        work.network = network_view(work.frame.image, work.frame.spacing, NETWORK_SIZE, self._box, self.framing)
        self._box = work.network.framing.box

    def _content(self, work: FrameWork) -> None:
        frame, fan = work.frame, work.network.fan
        verdict = gate.content_verdict(frame.image, fan, frame.colour, frame.declared_mode)
        work.status = verdict.status
        work.view = self.requested_view if self.requested_view != AUTO else "other"
        if verdict.ok and checks_view(self.requested_view) and self.view_model is not None:
            work.canonical = work.network.image if self.framing == "fan" else \
                canonical_image(frame.image, fan, frame.spacing)

    def _recognise(self, works: list[FrameWork]) -> None:
        """The view classifier on every frame the content checks passed (one call), smoothed in frame order."""
        def batch(asked: list[FrameWork]) -> None:
            found = self.view_model.predict(np.stack([view_input(w.canonical) for w in asked])[:, None])
            for work, probabilities in zip(asked, np.asarray(found, np.float64)):
                work.probabilities = probabilities

        def each(work: FrameWork) -> None:
            work.probabilities = recognise(self.view_model, work.canonical)
        _together([w for w in works if w.scored and w.canonical is not None], "Gate", batch, each)
        for work in works:
            if work.error is None and work.probabilities is not None:
                estimate = self.smoother.update(work.probabilities.astype(np.float32), work.frame.time_s)
                work.view, work.confidence, verdict = gate.judge_view(self.requested_view, estimate)
                work.status = verdict.status

    def _segment(self, works: list[FrameWork]) -> None:
        """One segmentation call for the frames the gate passed, then each frame's clean-up (one LV, MYO, LA)."""
        def batch(passed: list[FrameWork]) -> None:
            found = segment_batch(self.segmentation, np.stack([w.network.image for w in passed]),
                                  np.stack([w.network.sector for w in passed]))
            for work, labels in zip(passed, found):
                work.labels = labels

        def each(work: FrameWork) -> None:
            work.labels = segment(self.segmentation, work.network.image, sector=work.network.sector)
        _together(works, "Segment", batch, each, self.map)

        def clean(work: FrameWork) -> None:
            work.labels = clean_labels(work.labels, work.network.sector)
        list(self.map(lambda w: _step(w, "Segment", clean), works))

    def _divide(self, work: FrameWork) -> None:
        if work.labels is None:                  # stopped by the gate: an empty label map, as in the chain
            work.labels = np.zeros(work.network.image.shape[:2], np.uint8)
        view = work.view if work.view in VIEWS else "a4c"
        work.regions = divide_myocardium(work.labels, work.network.framing.network_spacing, work.network.sector,
                                         view)
        if work.status == gate.OK:
            work.status = gate.anatomy_verdict(work.regions.lv_lumen.astype(np.uint8), work.regions.valid).status

    def _score(self, works: list[FrameWork]) -> None:
        """The quality method on the scored frames: one call of its batched form when it has one (the
        end-to-end model), else frame by frame on the pool."""
        def each(work: FrameWork) -> None:
            work.scores = _as_carried(self.method(work.network.image, work.regions))

        batched = batched_form(self.method)
        if batched is None:
            list(self.map(lambda w: _step(w, "RegionalQuality", each), works))
            return

        def batch(scored: list[FrameWork]) -> None:
            found = batched(np.stack([w.network.image for w in scored]), [w.regions for w in scored])
            for work, scores in zip(scored, found):
                work.scores = _as_carried(scores)
        _together(works, "RegionalQuality", batch, each, self.map)

    def _render(self, work: FrameWork) -> None:
        region_map = work.network.framing.to_frame(work.regions.region_map.astype(np.uint8))
        work.split_screen = compose_split_screen(work.frame.image, region_map, work.scores, self.title,
                                                 gate.REASONS.get(work.status, work.status))

    def _result(self, work: FrameWork) -> FrameResult:
        """The typed record of one frame, with the fields `stages.Results.result` fills."""
        frame = work.frame
        if work.error is not None:
            if work.network is None:             # failed before the frame was passed on
                frame = replace(frame, image=np.zeros((0, 0), np.uint8))
            return FrameResult(frame, method=self.method_name, view="other", error=work.error, status=gate.ERROR,
                               entered_at=work.entered_at)
        regions = work.regions
        scores = work.scores if work.status == gate.OK else np.full(N_REGIONS, np.nan)
        return FrameResult(frame, labels=work.labels, region_map=regions.region_map.astype(np.uint8),
                           lv_lumen=regions.lv_lumen > 0, scores=scores, method=self.method_name, view=work.view,
                           status=work.status, view_confidence=work.confidence, valid=regions.valid.copy(),
                           split_screen=work.split_screen, timings_ms=dict(work.timings_ms),
                           entered_at=work.entered_at, framing=work.network.framing)


def chunks(frames: Iterable[Frame], size: int, run: BatchedRun) -> Iterator[list[Frame]]:
    """Lists of up to `size` frames; a source failing mid-stream ends them, its message kept in `run.error`."""
    iterator = iter(frames)
    while True:
        chunk: list[Frame] = []
        try:
            chunk.extend(itertools.islice(iterator, size))
        except Exception as error:  # a source fault ends the stream, never the run: the frames read are analysed
            run.error = str(error)
            log.error("%s", error)
        if chunk:
            yield chunk
        if len(chunk) < size or run.error is not None:
            return


def run_batched(frames: Iterable[Frame], segmentation: SegmentationModel, method: QualityMethod, method_name: str,
                on_result: Callable[[FrameResult], None], batch_size: int, view: str = AUTO,
                view_model: ViewModel | None = None, title: str = "", split_screen: bool = False,
                workers: int = WORKERS) -> BatchedRun:
    """Analyse `frames` in chunks of `batch_size`; each frame's `FrameResult` goes to `on_result` in frame order.

    The counterpart of `graph.build(...).run()` for recorded inputs (same arguments, same results).
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be 1 or more, not {batch_size}")
    if checks_view(view) and view_model is None:
        from echoquality.inference.registry import shared_view_model
        view_model = shared_view_model()
    run = BatchedRun()
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="batched") as pool:
        chain = BatchedChain(segmentation, method, method_name, view, view_model, title, split_screen, pool)
        for chunk in chunks(frames, batch_size, run):
            start = time.perf_counter()
            results = chain.analyse(chunk)
            run.chunk_ms.append((time.perf_counter() - start) * 1e3)
            run.chunks += 1
            for result in results:
                try:
                    on_result(result)
                except Exception:  # the consumer's fault must not stop the run
                    log.exception("frame %s: result handler failed", result.frame.index)
                run.frames += 1
    return run
