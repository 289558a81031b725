"""The glue between numpy stages and FAST: a source of frames, a stage base with named ports, a sink.

Values cross into and out of FAST only through `codec`. A stream ends with an end-of-stream
marker image flagged as FAST's last frame, so that sources whose length is unknown (live
scanners) end cleanly; a stage that fails on a frame sends an error marker for it instead.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Iterable, Sequence

import fast
import numpy as np

from echoquality.core.records import Frame
from echoquality.streaming.codec import (add_timing, end_marker, error_marker, frame_error, frame_tag, frame_to_fast,
                                         is_end_marker, to_fast, to_numpy)

log = logging.getLogger(__name__)

_END = object()   # the reader's last item: the source has no more frames
_POLL_S = 0.2     # how often a waiting thread looks whether its side was closed


def _put_until_closed(q: queue.Queue, item, closed: threading.Event) -> bool:
    """Put `item` in `q`, waiting while it is full; False (not put) once `closed` is set."""
    while not closed.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _get_until_closed(q: queue.Queue, closed: threading.Event):
    """The next item of `q`, waiting while it is empty; None once `closed` is set."""
    while not closed.is_set():
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            continue
    return None


class FrameSource(fast.PythonProcessObject):
    """Feeds `Frame`s from a Python iterable into FAST, then an end marker.

    A plain thread reads the source (decoding, waiting for a live scanner) into a one-frame queue;
    the chain's own thread turns each frame into a FAST image when the chain is pulled. No FAST
    object is touched by the reader: FAST's streamer threads, adding images while the chain's
    threads ran, crashed the process about once in 7,000 pipelines (none in 48,000 since).

    A source error mid-stream ends the stream; the message is kept in `error` so that results
    of the frames already sent are not lost. At most `max_in_flight` frames are taken from the
    source before the consumer reports them done (`frame_done`): a live source then keeps only
    its newest frame while the analysis is busy, instead of a queue of stale ones.
    """

    def __init__(self, frames: Iterable[Frame] | None = None, max_in_flight: int = 8):
        super().__init__()
        self.createOutputPort(0)
        self.setModified(True)
        self.frames = frames
        self.sent = 0
        self.error: str | None = None
        self._in_flight = threading.BoundedSemaphore(max_in_flight)
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._closed = threading.Event()
        self._reader: threading.Thread | None = None

    def frame_done(self) -> None:
        """The consumer has finished a frame (or marker) this source sent."""
        try:
            self._in_flight.release()
        except ValueError:  # more reports than frames: nothing is waiting
            pass

    def close(self) -> None:
        """End the reader (the chain stopped or failed); frames not yet read stay in the source."""
        self._closed.set()

    def _permit(self) -> bool:
        """Wait until fewer than `max_in_flight` frames are out; False once closed."""
        while not self._in_flight.acquire(timeout=_POLL_S):
            if self._closed.is_set():
                return False
        return True

    def _read(self) -> None:
        try:
            if self._permit():
                for frame in self.frames:
                    if not _put_until_closed(self._queue, frame, self._closed) or not self._permit():
                        return
        except Exception as error:  # a source fault must end the stream, never the app
            self.error = str(error)
            log.error("%s", error)
        _put_until_closed(self._queue, _END, self._closed)

    def execute(self) -> None:
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name="frame reader", daemon=True)
            self._reader.start()
        item = _get_until_closed(self._queue, self._closed)
        if item is None or item is _END:
            self.addOutputData(0, end_marker())
        else:
            self.addOutputData(0, frame_to_fast(item))
            self.sent += 1
            self.setModified(True)   # run again on the next pull (a source without inputs runs only when modified)


def input_images(process_object: fast.PythonProcessObject, n: int) -> list:
    """The `n` inputs of a Python process object as FAST data objects (Images: all our ports carry them).

    `PythonProcessObject.getInputData` evaluates the class name as a string on every call (7 µs, with the
    GIL held); the chain reads about twenty inputs a frame, beside the UI thread that needs the GIL too.
    """
    out = []
    for port in range(n):
        data = process_object._getInputData(port)
        kind = data.getNameOfClass()
        out.append(fast.Image.fromDataObject(data) if kind == "Image" else getattr(fast, kind).fromDataObject(data))
    return out


class Stage(fast.PythonProcessObject):
    """A process object with named input and output ports around `process`.

    Subclasses name their ports (`inputs`, `outputs`) and implement
    `process(*images) -> tuple of fast.Image` in the order of `outputs`; markers pass through.
    """

    inputs: Sequence[str] = ("in",)
    outputs: Sequence[str] = ("out",)

    def __init__(self):
        super().__init__()
        for i in range(self.n_inputs):
            self.createInputPort(i)
        for i in range(self.n_outputs):
            self.createOutputPort(i)

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    def output_port(self, name: str) -> int:
        return list(self.outputs).index(name)

    def input_port(self, name: str) -> int:
        return list(self.inputs).index(name)

    def execute(self) -> None:
        inputs = input_images(self, self.n_inputs)
        marker = next((im for im in inputs if is_end_marker(im) or frame_error(im) is not None), None)
        if marker is not None:
            outputs = [marker] * self.n_outputs
        else:
            try:
                start = time.perf_counter()
                outputs = self.process(*inputs)
                spent_ms = (time.perf_counter() - start) * 1e3
                for image in outputs:
                    add_timing(image, type(self).__name__, spent_ms)
            except Exception as error:  # one bad frame must not stop the stream
                message = f"{type(self).__name__}: {error}"
                log.error("frame %s: %s", frame_tag(inputs[0]).index, message)
                outputs = [error_marker(inputs[0], message)] * self.n_outputs
        for i, image in enumerate(outputs):
            self.addOutputData(i, image)

    def process(self, *inputs: "fast.Image") -> tuple:
        raise NotImplementedError


class Sink(Stage):
    """Calls `on_frame(*input_images)` for every frame and marker, then passes input 0 on.

    With `source`, each finished frame is reported to it (see `FrameSource`'s `max_in_flight`).
    """

    def __init__(self, on_frame: Callable[..., None], n_inputs: int | Sequence[str] = 1,
                 source: FrameSource | None = None):
        self.inputs = tuple(n_inputs) if not isinstance(n_inputs, int) else tuple(f"in{i}" for i in range(n_inputs))
        super().__init__()
        self.on_frame = on_frame
        self.source = source

    def execute(self) -> None:
        inputs = input_images(self, self.n_inputs)
        try:
            self.on_frame(*inputs)
        except Exception as error:  # the consumer's fault must not stop the stream: one line (traceback at DEBUG)
            log.error("frame %s: result handler failed (%s: %s)", frame_tag(inputs[0]).index,
                      type(error).__name__, error)
            log.debug("result handler", exc_info=True)
        if self.source is not None:
            self.source.frame_done()
        self.addOutputData(0, inputs[0])


def flow(upstream: fast.ProcessObject, downstream: Stage, *ports: tuple[str, str]) -> None:
    """Connect named ports: `flow(a, b, ("labels", "labels"), ...)` sends a's output to b's input.

    A FAST object without named ports (the frame source) has one output, called "frame".
    """
    for out_name, in_name in ports:
        named = isinstance(upstream, (Stage, HandoffSource))
        out = upstream.output_port(out_name) if named else ("frame",).index(out_name)
        downstream.connect(downstream.input_port(in_name), upstream, out)


class Handoff:
    """Two halves of a chain on two threads: the front's last stage puts each frame's images here,
    the back's source takes them in order (at most `depth` waiting), so that both cores work on
    consecutive frames at once. `close` ends both sides (a stopped or failed chain never hangs)."""

    def __init__(self, ports: Sequence[str], depth: int = 1):
        self.ports = tuple(ports)
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self.closed = threading.Event()

    def put(self, images: tuple) -> None:
        _put_until_closed(self._queue, images, self.closed)

    def get(self) -> tuple | None:
        """The next frame's images, or None once closed."""
        return _get_until_closed(self._queue, self.closed)

    def close(self) -> None:
        self.closed.set()


_TICK = np.zeros((2, 2), np.uint8)


def _detached(image: "fast.Image") -> "fast.Image":
    """A new FAST image with the pixels and frame data of `image` (an end marker: a new end marker)."""
    return end_marker() if is_end_marker(image) else to_fast(to_numpy(image), image)


class HandoffSink(Stage):
    """The front half's end: hands every frame's images (and the markers) to the back half."""

    def __init__(self, handoff: Handoff):
        self.inputs = handoff.ports
        super().__init__()
        self.handoff = handoff

    def execute(self) -> None:
        images = input_images(self, self.n_inputs)
        # The back half gets its own copies: a FAST image of the front half's pipeline, added to the back half's
        # from another thread while the front half moved on, crashed the process (about once in 1,000
        # pipelines in stress runs); copying costs well under 1 ms.
        self.handoff.put(tuple(_detached(image) for image in images))
        # The front half's own output only paces it (and ends it).
        self.addOutputData(0, end_marker() if is_end_marker(images[0]) else to_fast(_TICK))


class HandoffSource(fast.PythonProcessObject):
    """The back half's source: one output port per handed-off image, frames in the order they came.

    Not a FAST streamer: it runs on the back half's own thread, each time the chain is pulled, and waits
    there for the front half's next frame (see `FrameSource` for why no FAST streamer threads are used).
    """

    def __init__(self, handoff: Handoff | None = None):
        super().__init__()
        self.handoff = handoff
        for i in range(len(handoff.ports) if handoff else 0):
            self.createOutputPort(i)
        self.setModified(True)

    def output_port(self, name: str) -> int:
        return self.handoff.ports.index(name)

    def execute(self) -> None:
        images = self.handoff.get()
        if images is None:   # closed before the end marker: end the back half too
            marker = end_marker()
            images = (marker,) * len(self.handoff.ports)
        for i, image in enumerate(images):
            self.addOutputData(i, image)
        self.setModified(True)   # run again on the next pull (a source without inputs runs only when modified)
