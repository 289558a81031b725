"""Playback: a recording replayed as an iterator of `Frame`s (looping, paced in real time), and `open_source`.

`open_source(spec)` gives an iterator of `Frame`s for a file or a live scanner. Frame rate comes from the file (`fps` overrides it); spacing comes from the file
(`spacing` overrides it) or, when unknown, `vocabulary.default_spacing`.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

from echoquality.core.records import Frame
from echoquality.core.vocabulary import default_spacing
from echoquality.sources.base import SourceError, parse_source, source_stem
from echoquality.sources.files import DEFAULT_FPS, Recording, read_recording
from echoquality.sources.limits import (MAX_FPS, MAX_SPACING_MM, MIN_FPS, MIN_SPACING_MM, valid_fps,
                                        valid_spacing)

log = logging.getLogger(__name__)

__all__ = ["FrameSource", "SourceError", "open_source", "source_stem"]


class FrameSource:
    """Iterator of `Frame`s from one recording, optionally looping (`FrameGate` paces and pauses it)."""

    def __init__(self, spec: str, recording_factory, fps: float | None, spacing: tuple[float, float] | None,
                 loop: bool = False):
        self.spec = spec
        self._factory = recording_factory
        self._recording: Recording = recording_factory()
        self.fps = float(fps or self._recording.fps or DEFAULT_FPS)
        self.fps_from_file = fps is None and self._recording.fps is not None
        file_spacing = self._recording.spacing
        if file_spacing is not None and valid_spacing(file_spacing) is None:
            log.warning("%s: pixel spacing %s mm in the file is not plausible; taken as unknown", spec, file_spacing)
            file_spacing = None
        self._spacing = spacing or file_spacing
        self.spacing_known = self._spacing is not None
        self.n_frames = self._recording.n_frames
        self.loop = loop
        self._closed = False

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        recording = self._recording
        while not self._closed:
            produced = 0
            for raw in recording.frames:
                if self._closed:
                    return
                time_s = raw.time_s if raw.time_s is not None and not self.loop else index / self.fps
                spacing = self._spacing or default_spacing(raw.image.shape[0])
                yield Frame(raw.image, index, float(time_s), spacing, self.spec, self.spacing_known,
                            colour=raw.colour, declared_mode=raw.declared_mode)
                index += 1
                produced += 1
            if not self.loop or produced == 0:
                return
            recording = self._factory()

    def close(self) -> None:
        self._closed = True


def open_source(spec: str, fps: float | None = None, spacing: tuple[float, float] | None = None,
                loop: bool = False, timeout_s: float | None = None):
    """Open a file (video, .npy, image, DICOM, .mhd) or a live `igtl://host:port[/device]` stream.

    Raises `SourceError` naming the input and the problem.
    """
    if fps is not None and valid_fps(fps) is None:
        raise SourceError(f"{spec}: frame rate must be a number from {MIN_FPS:g} to {MAX_FPS:g}, got {fps}")
    if spacing is not None and (len(spacing) != 2 or valid_spacing(spacing) is None):
        raise SourceError(f"{spec}: pixel spacing must be two numbers from {MIN_SPACING_MM:g} to {MAX_SPACING_MM:g} "
                          f"mm, got {spacing}")
    if timeout_s is not None and not (math.isfinite(timeout_s) and timeout_s > 0):
        raise SourceError(f"{spec}: timeout must be a positive number of seconds, got {timeout_s}")
    if parse_source(spec).live:
        from echoquality.sources.igtl.receiver import open_igtl_source
        return open_igtl_source(spec, timeout_s=timeout_s)
    path = Path(spec)
    return FrameSource(spec, lambda: read_recording(path), fps, spacing, loop)


class FrameGate:
    """Lets frames of a source into the chain: paused / playing / one step, paced at `fps` when given.

    Runs in the thread that iterates it (the chain's frame reader); the control methods may be called from any thread.
    Frames with an index below `start_frame` are skipped (to resume a file where it was). When
    paced and the analysis falls behind, late frames are dropped so that replay keeps real time.
    """

    def __init__(self, frames: Iterable[Frame], fps: float | None = None, paused: bool = False,
                 start_frame: int = 0, on_frame: Callable[[Frame], None] | None = None):
        self._frames = frames
        self.fps = fps
        self.start_frame = start_frame
        self.on_frame = on_frame
        self._cond = threading.Condition()
        self._paused = paused
        self._steps = 0
        self._stopped = False
        self.sent_count = 0
        self.skipped = 0
        self.last_index = -1

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def play(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def step(self) -> None:
        """Let one more frame in (while paused)."""
        with self._cond:
            self._steps += 1
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _wait_turn(self) -> bool:
        """Block while paused; False when stopped."""
        with self._cond:
            while self._paused and self._steps == 0 and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return False
            if self._paused:
                self._steps -= 1
            return True

    def _sleep_until(self, due: float) -> bool:
        """Wait until `due` (perf_counter); False when stopped meanwhile."""
        with self._cond:
            while not self._stopped:
                left = due - time.perf_counter()
                if left <= 0:
                    return True
                self._cond.wait(left)
            return False

    def __iter__(self) -> Iterator[Frame]:
        due = None
        was_paused = self._paused
        for frame in self._frames:
            if frame.index < self.start_frame:
                continue
            if not self._wait_turn():
                return
            stepping = self._paused
            if self.fps and not stepping:
                period = 1.0 / self.fps
                now = time.perf_counter()
                if due is None or was_paused:
                    due = now                      # (re)start the clock: after a pause, never burst
                elif now - due >= period:
                    due += period                  # late: drop this frame to stay in real time
                    self.skipped += 1
                    continue
                elif not self._sleep_until(due):
                    return
                due += period
            was_paused = stepping
            with self._cond:
                self.sent_count += 1
                self.last_index = frame.index
            if self.on_frame is not None:
                self.on_frame(frame)
            yield frame
