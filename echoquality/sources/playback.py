"""Playback: a recording replayed as an iterator of `Frame`s (looping, paced in real time), and `open_source`.

`open_source(spec)` gives an iterator of `Frame`s for a file or a live scanner. Frame rate comes from the file (`fps` overrides it); spacing comes from the file
(`spacing` overrides it) or, when unknown, `vocabulary.default_spacing`.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterator

from echoquality.core.records import Frame
from echoquality.core.vocabulary import default_spacing
from echoquality.sources.base import SourceError, parse_source, source_stem
from echoquality.sources.files import DEFAULT_FPS, Recording, read_recording

log = logging.getLogger(__name__)

__all__ = ["FrameSource", "SourceError", "open_source", "source_stem"]


class FrameSource:
    """Iterator of `Frame`s from one recording, optionally looping and paced in real time."""

    def __init__(self, spec: str, recording_factory, fps: float | None, spacing: tuple[float, float] | None,
                 loop: bool = False, realtime: bool = False):
        self.spec = spec
        self._factory = recording_factory
        self._recording: Recording = recording_factory()
        self.fps = float(fps or self._recording.fps or DEFAULT_FPS)
        self.fps_from_file = fps is None and self._recording.fps is not None
        self._spacing = spacing or self._recording.spacing
        self.spacing_known = self._spacing is not None
        self.n_frames = self._recording.n_frames
        self.loop = loop
        self.realtime = realtime
        self._closed = False

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        start = time.perf_counter()
        recording = self._recording
        while not self._closed:
            produced = 0
            for raw in recording.frames:
                if self._closed:
                    return
                time_s = raw.time_s if raw.time_s is not None and not self.loop else index / self.fps
                if self.realtime:
                    delay = start + index / self.fps - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                spacing = self._spacing or default_spacing(raw.image.shape[0])
                yield Frame(raw.image, index, float(time_s), spacing, self.spec, self.spacing_known)
                index += 1
                produced += 1
            if not self.loop or produced == 0:
                return
            recording = self._factory()

    def close(self) -> None:
        self._closed = True


def open_source(spec: str, fps: float | None = None, spacing: tuple[float, float] | None = None,
                loop: bool = False, realtime: bool = False, timeout_s: float | None = None):
    """Open a file (video, .npy, image, DICOM, .mhd) or a live `igtl://host:port[/device]` stream.

    Raises `SourceError` naming the input and the problem.
    """
    if fps is not None and fps <= 0:
        raise SourceError(f"{spec}: frame rate must be positive, got {fps}")
    if spacing is not None and (len(spacing) != 2 or min(spacing) <= 0):
        raise SourceError(f"{spec}: pixel spacing must be two positive numbers (mm), got {spacing}")
    if parse_source(spec).live:
        from echoquality.sources.igtl.receiver import open_igtl_source
        return open_igtl_source(spec, timeout_s=timeout_s)
    path = Path(spec)
    return FrameSource(spec, lambda: read_recording(path), fps, spacing, loop, realtime)
