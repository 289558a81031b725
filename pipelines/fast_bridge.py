"""The glue between numpy stages and FAST: images with per-frame metadata, a streamer, a stage base.

FAST passes only its own data objects between process objects, so every stage sends a
`fast.Image` whose frame data carries the frame's identity (index, time, source, spacing) and
small per-frame values (scores as text). A stream ends with an end-of-stream marker image
flagged as FAST's last frame, so that sources whose length is unknown (live scanners) end cleanly.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Iterable

import fast
import numpy as np

from .types import Frame

log = logging.getLogger(__name__)

END_OF_STREAM = "end_of_stream"
FRAME_ERROR = "frame_error"


def to_fast(array: np.ndarray, like: "fast.Image | None" = None, **frame_data: str) -> "fast.Image":
    """A FAST image of `array` carrying the frame data of `like` plus `frame_data`."""
    image = fast.Image.createFromArray(np.ascontiguousarray(array))
    if like is not None:
        image.setFrameData(like.getFrameData())
    for key, value in frame_data.items():
        image.setFrameData(key, str(value))
    return image


def to_numpy(image: "fast.Image") -> np.ndarray:
    """The pixels of a FAST image as (H, W) or (H, W, C)."""
    array = np.asarray(image)
    return array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array


def frame_to_fast(frame: Frame) -> "fast.Image":
    """A source frame as a FAST image with its identity in the frame data."""
    image = to_fast(frame.image, index=frame.index, time_s=repr(frame.time_s), source=frame.source,
                    spacing=f"{frame.spacing[0]!r} {frame.spacing[1]!r}",
                    spacing_known=int(frame.spacing_known),
                    timestamp="" if frame.timestamp is None else repr(frame.timestamp))
    image.setSpacing([float(frame.spacing[1]), float(frame.spacing[0]), 1.0])
    return image


def fast_to_frame(image: "fast.Image") -> Frame:
    """The source frame a FAST image was made from (see `frame_to_fast`)."""
    sy, sx = (float(v) for v in image.getFrameData("spacing").split())
    stamp = image.getFrameData("timestamp")
    return Frame(to_numpy(image).copy(), int(image.getFrameData("index")), float(image.getFrameData("time_s")),
                 (sy, sx), image.getFrameData("source"), image.getFrameData("spacing_known") == "1",
                 float(stamp) if stamp else None)


def end_marker() -> "fast.Image":
    """The image that ends a stream."""
    image = to_fast(np.zeros((2, 2), np.uint8), **{END_OF_STREAM: "1"})
    image.setLastFrame("end")
    return image


def is_end_marker(image: "fast.Image") -> bool:
    return image.hasFrameData(END_OF_STREAM)


def error_marker(like: "fast.Image", message: str) -> "fast.Image":
    """The image a stage sends instead of its result when it failed on a frame."""
    return to_fast(np.zeros((2, 2), np.uint8), like, **{FRAME_ERROR: message})


def frame_error(image: "fast.Image") -> str | None:
    """The failure carried by an error marker, else None."""
    return image.getFrameData(FRAME_ERROR) if image.hasFrameData(FRAME_ERROR) else None


class FrameStreamer(fast.PythonStreamer):
    """Feeds `Frame`s from a Python iterable into FAST, then an end marker.

    A source error mid-stream ends the stream; the message is kept in `error` so that results
    of the frames already sent are not lost. At most `max_in_flight` frames are taken from the
    source before the consumer reports them done (`frame_done`): a live source then keeps only
    its newest frame while the analysis is busy, instead of FAST queueing stale ones.
    """

    def __init__(self, frames: Iterable[Frame] | None = None, newest_frame_only: bool = False,
                 max_in_flight: int = 8):
        super().__init__()
        self.createOutputPort(0)
        self.frames = frames
        self.sent = 0
        self.error: str | None = None
        self._in_flight = threading.BoundedSemaphore(max_in_flight)
        if newest_frame_only:
            self.setStreamingMode(fast.StreamingMode_NewestFrameOnly)

    def frame_done(self) -> None:
        """The consumer has finished a frame (or marker) this streamer sent."""
        try:
            self._in_flight.release()
        except ValueError:  # more reports than frames: nothing is waiting
            pass

    def _next_frames(self):
        for frame in self.frames:
            yield frame
            while not self._in_flight.acquire(timeout=0.5):
                if self.isStopped():
                    return

    def generateStream(self) -> None:
        try:
            self._in_flight.acquire()
            for frame in self._next_frames():
                if self.isStopped():
                    break
                self.addOutputData(0, frame_to_fast(frame))
                self.frameAdded()
                self.sent += 1
        except Exception as error:  # a source fault must end the stream, never the app
            self.error = str(error)
            log.error("%s", error)
        try:
            self.addOutputData(0, end_marker())
            self.frameAdded()
        except Exception:  # the pipeline was stopped while we were finishing
            pass


class Stage(fast.PythonProcessObject):
    """A process object with `n_inputs` inputs and `n_outputs` outputs around `process`.

    Subclasses implement `process(*images) -> tuple of fast.Image`; end markers pass through.
    """

    n_inputs = 1
    n_outputs = 1

    def __init__(self):
        super().__init__()
        for i in range(self.n_inputs):
            self.createInputPort(i)
        for i in range(self.n_outputs):
            self.createOutputPort(i)

    def execute(self) -> None:
        inputs = [self.getInputData(i) for i in range(self.n_inputs)]
        marker = next((im for im in inputs if is_end_marker(im) or frame_error(im) is not None), None)
        if marker is not None:
            outputs = [marker] * self.n_outputs
        else:
            try:
                outputs = self.process(*inputs)
            except Exception as error:  # one bad frame must not stop the stream
                message = f"{type(self).__name__}: {error}"
                log.error("frame %s: %s", inputs[0].getFrameData("index"), message)
                outputs = [error_marker(inputs[0], message)] * self.n_outputs
        for i, image in enumerate(outputs):
            self.addOutputData(i, image)

    def process(self, *inputs: "fast.Image") -> tuple:
        raise NotImplementedError


class Sink(Stage):
    """Calls `on_frame(*input_images)` for every frame and marker, then passes input 0 on.

    With `streamer`, each finished frame is reported to it (see `FrameStreamer.max_in_flight`).
    """

    def __init__(self, on_frame: Callable[..., None], n_inputs: int = 1, streamer: FrameStreamer | None = None):
        self.n_inputs = n_inputs
        super().__init__()
        self.on_frame = on_frame
        self.streamer = streamer

    def execute(self) -> None:
        inputs = [self.getInputData(i) for i in range(self.n_inputs)]
        try:
            self.on_frame(*inputs)
        except Exception:  # the consumer's fault must not stop the stream
            log.exception("frame %s: result handler failed", inputs[0].getFrameData("index"))
        if self.streamer is not None:
            self.streamer.frame_done()
        self.addOutputData(0, inputs[0])
