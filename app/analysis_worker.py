"""Analysis off the UI thread: a QThread that loads the models, opens the source and runs the FAST chain.

Frames pass through a `FrameGate` (play / pause / step, real-time pacing of files, recording of
the stream), then through `echoquality.streaming.graph.build`, whose `FrameResult`s become
`AnalysedFrame`s (numpy only) sent to the UI with a queued Qt signal.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from PyQt6.QtCore import QThread, pyqtSignal

from echoquality.core.records import Frame, FrameResult
from echoquality.core.render import colour_regions, region_centres
from echoquality.core.view import checks_view
from echoquality.core.vocabulary import N_REGIONS
from echoquality.sources import is_live
from echoquality.sources.playback import FrameGate

from .image_panel import DisplayImage, prepare_display, resize_for_display

log = logging.getLogger(__name__)

# Frames in the chain at once. Live: one per half of the chain (the chain runs as two halves on two
# threads: `echoquality.streaming.graph`), so the scanner's newest frame waits at the source (lowest
# latency). Replay: two as well, so reading the next frame overlaps the analysis.
# The window is a real-time display: one segmentation pass per frame (no mirror averaging, which
# doubles its cost; the scores are smoothed over time anyway). `analyze` keeps it for recordings.
SCORE_SMOOTHING_S = 0.25  # time constant of the displayed scores (steadier colours while scanning)
LIVE_IN_FLIGHT = 1
FILE_IN_FLIGHT = 2

# Worker states shown in the status bar.
LOADING, OPENING, PLAYING, PAUSED, ENDED, FAILED, STOPPED = (
    "loading models", "opening", "playing", "paused", "ended", "failed", "stopped")


REPLAY_WIDTH = 192     # frames kept to replay the best cycles are this wide (pixels)


def cycle_thumbnail(image: np.ndarray) -> np.ndarray:
    """`image` at REPLAY_WIDTH pixels wide (aspect kept): what the cycle panel keeps of each frame."""
    h, w = image.shape[:2]
    return resize_for_display(image, (REPLAY_WIDTH, max(1, round(h * REPLAY_WIDTH / w))))


@dataclass(frozen=True)
class AnalysisRequest:
    """What to analyse and how."""
    source: str
    view: str = "auto"                    # auto (recognised per frame) or a4c, a2c, alax as given
    method: str = ""
    segmentation: str = ""
    backend: str = "auto"
    loop: bool = False
    start_frame: int = 0
    paused: bool = False
    fps: float | None = None              # replay rate overriding the file's (None: the file's)


@dataclass
class AnalysedFrame:
    """One frame and everything the window draws for it."""
    result: FrameResult                     # frame, region map (network size), scores, method, view
    quality_image: np.ndarray | None        # (H, W, 3) RGB: the frame with the regions coloured (None: not scored)
    label_points: np.ndarray                # (8, 2) (x, y) region centres as fractions of the frame, NaN if absent
    error: str | None = None                # why the analysis of this frame failed
    sent_at: float = 0.0                    # time.perf_counter() when the frame entered the chain
    received_at: float = field(default_factory=time.perf_counter)
    left_display: DisplayImage | None = None       # the frame, and the quality image, ready to blit at the panels'
    right_display: DisplayImage | None = None      # last sizes (`image_panel.prepare_display`); None: the UI resizes
    thumbnail: np.ndarray | None = None     # the shown image at the width kept for cycle replay (`cycle_thumbnail`)

    @property
    def frame(self) -> Frame:
        return self.result.frame


class AnalysisWorker(QThread):
    """Runs one source through the chain until it ends or `stop()` is called."""

    analysed = pyqtSignal(object)        # AnalysedFrame
    state_changed = pyqtSignal(str)      # LOADING, OPENING, PLAYING, PAUSED, ENDED, FAILED, STOPPED
    failed = pyqtSignal(str)             # one clear message naming the input and the problem

    def __init__(self, request: AnalysisRequest, parent=None):
        super().__init__(parent)
        self.request = request
        self.state = LOADING
        self.source = None
        self.n_frames: int | None = None
        self.fps: float | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._paused = request.paused
        self._pending_steps = 0
        self._gate: FrameGate | None = None
        self._recorder = None
        self._lock = threading.Lock()
        # (width, height) of the left and right panels as last drawn (set by the window): frames are resized
        # for them here, off the UI thread (resizing was a third of the UI thread's time at 60 frames/s).
        self.display_sizes: tuple[tuple[int, int] | None, tuple[int, int] | None] = (None, None)

    # ---------------------------------------------------------------- controls (any thread)

    def stop(self) -> None:
        """Ask the worker to end: the source is closed and the chain drains."""
        self._stop.set()
        with self._lock:
            gate, source = self._gate, self.source
        if gate is not None:
            gate.stop()
        if source is not None and hasattr(source, "close"):
            # a live source may take seconds to close (a connect in progress): never on the caller's thread
            threading.Thread(target=self._close_source, args=(source,), daemon=True, name="close source").start()

    def _close_source(self, source) -> None:
        try:
            source.close()
        except Exception:   # closing must never raise into the UI
            log.exception("closing %s", self.request.source)

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            if self._gate is not None:
                self._gate.pause()
        if self.state == PLAYING:
            self._set_state(PAUSED)

    def play(self) -> None:
        with self._lock:
            self._paused = False
            self._pending_steps = 0
            if self._gate is not None:
                self._gate.play()
        if self.state == PAUSED:
            self._set_state(PLAYING)

    def step(self) -> None:
        """One frame (pauses); before the source is open, the step waits for it."""
        self.pause()
        with self._lock:
            if self._gate is not None:
                self._gate.step()
            else:
                self._pending_steps += 1

    def set_loop(self, loop: bool) -> None:
        if self.source is not None and hasattr(self.source, "loop"):
            self.source.loop = loop

    def set_recorder(self, recorder) -> None:
        """Frames entering the chain go to `recorder.add_frame` (None: stop recording frames)."""
        self._recorder = recorder

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def live(self) -> bool:
        return is_live(self.request.source)

    @property
    def frames_sent(self) -> int:
        return self._gate.sent_count if self._gate is not None else 0

    @property
    def source_state(self) -> str | None:
        """The live source's connection state (connecting, streaming, frozen, disconnected); None for files."""
        return getattr(self.source, "state", None) if self.live else None

    @property
    def counters(self):
        """The live source's counters (None for files)."""
        return getattr(self.source, "counters", None)

    # ---------------------------------------------------------------- the thread

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    def _fail(self, message: str) -> None:
        self.error = message
        log.error("%s", message)
        self._set_state(FAILED)
        self.failed.emit(message)

    def run(self) -> None:
        try:
            self._run()
        except Exception as error:   # whatever happens here, the window must live on
            log.exception("analysis of %s failed", self.request.source)
            self._fail(f"{self.request.source}: analysis stopped ({error})")

    def _run(self) -> None:
        from echoquality.inference.backends import ModelError
        from echoquality.inference.registry import shared_method, shared_segmentation_model, shared_view_model
        from echoquality.sources import SourceError, open_source

        request = self.request
        self._set_state(LOADING)
        try:
            segmentation = shared_segmentation_model(request.segmentation, request.backend)
            method, method_name = shared_method(request.method, request.backend)
            view_model = shared_view_model() if checks_view(request.view) else None
        except (ModelError, ValueError, ImportError, OSError) as error:
            self._fail(f"cannot load the models: {error}")
            return
        if self._stop.is_set():
            self._set_state(STOPPED)
            return
        self._set_state(OPENING)
        try:
            source = open_source(request.source) if self.live else \
                open_source(request.source, fps=request.fps, loop=request.loop)
        except (SourceError, ValueError, OSError) as error:
            self._fail(str(error))
            return
        self.n_frames = getattr(source, "n_frames", None)
        self.fps = getattr(source, "fps", None)
        with self._lock:
            gate = FrameGate(source, None if self.live else self.fps, self._paused, request.start_frame,
                             on_frame=self._record_frame)
            for _ in range(self._pending_steps):
                gate.step()
            self.source, self._gate = source, gate
        if self._stop.is_set():
            self.stop()
        self._set_state(PAUSED if self._paused else PLAYING)
        self._stream(gate, segmentation, method, method_name, view_model)
        if hasattr(source, "close"):
            source.close()
        if self.state != FAILED:
            self._set_state(STOPPED if self._stop.is_set() else ENDED)

    def _record_frame(self, frame: Frame) -> None:
        recorder = self._recorder
        if recorder is not None:
            recorder.add_frame(frame)

    def _stream(self, gate: FrameGate, segmentation, method, method_name: str, view_model=None) -> None:
        from echoquality.streaming.graph import build

        # The window draws its own panels from the result: no split-screen image in the chain.
        request = self.request
        in_flight = LIVE_IN_FLIGHT if self.live else FILE_IN_FLIGHT
        pipeline = build(gate, segmentation, method, method_name, self._on_result, request.view,
                         max_in_flight=in_flight, split_screen=False, smoothing_s=SCORE_SMOOTHING_S,
                         view_model=view_model, mirror=False, reuse_fan=True)
        pipeline.run()
        if pipeline.frames.error and not self._stop.is_set():
            self._fail(f"{request.source}: {pipeline.frames.error}")

    def _on_result(self, result: FrameResult) -> None:
        """Result callback (worker thread): colour the regions and send the frame to the UI."""
        quality_image, centres = None, np.full((N_REGIONS, 2), np.nan)
        if result.error is None and result.status == "ok":   # a frame the gate stopped is shown without regions
            quality_image = colour_regions(result.frame.image, result.at_frame_size(result.region_map), result.scores)
            centres = region_centres(result.region_map, result.framing)
        left_size, right_size = self.display_sizes
        image = result.frame.image
        shown = image if quality_image is None else quality_image       # what the right panel shows
        left = prepare_display(image, left_size) if left_size and image.size else None
        if shown is image and right_size == left_size:   # a frame without regions: both panels show the frame
            right = left
        else:
            right = prepare_display(shown, right_size) if right_size and image.size else None
        thumbnail = cycle_thumbnail(shown) if image.size else None
        self.analysed.emit(AnalysedFrame(result, quality_image, centres, result.error, result.entered_at,
                                         left_display=left, right_display=right, thumbnail=thumbnail))
