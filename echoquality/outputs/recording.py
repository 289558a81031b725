"""Recording: the stream as a MetaImage sequence plus the per-frame results, written as they come.

A recording is a folder:

    frames/frame_<index>.mhd (+ .raw)   every frame that entered the analysis, spacing in ElementSpacing
    results.csv                         the `analyze` column contract, one row per analysed frame
    recording.json                      source, frame rate, view, method, start time

Each frame file is written whole and renamed into place, and every results row goes to the file
in one write as it comes, by a background thread; at least every SYNC_INTERVAL_S the files written
since are made durable (fsync of the new frame files, the results and the folders). A killed app
loses only what was still queued (well under a second at scanner rates); a power cut, at most the
last SYNC_INTERVAL_S. The recording reopens as a source: `recording_source(folder)`.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from pathlib import Path

import numpy as np

from echoquality.core.records import Frame, FrameResult
from echoquality.outputs.results_csv import ResultsCsv

log = logging.getLogger(__name__)

SYNC_INTERVAL_S = 1.0      # files written are fsynced at least this often
FRAMES_DIR = "frames"
FRAME_PATTERN = "frame_#.mhd"
INFO_FILE = "recording.json"


def write_metaimage(path: Path, image: np.ndarray, spacing: tuple[float, float]) -> None:
    """Write a 2-D uint8 frame as `path` (.mhd header) + `path`.raw, each renamed into place when complete."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    raw = path.with_suffix(".raw")
    tmp = raw.with_name(raw.name + ".part")
    tmp.write_bytes(image.tobytes())
    os.replace(tmp, raw)
    sy, sx = spacing
    header = (f"ObjectType = Image\nNDims = 2\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
              f"DimSize = {image.shape[1]} {image.shape[0]}\nElementSpacing = {sx!r} {sy!r}\n"
              f"ElementType = MET_UCHAR\nElementDataFile = {raw.name}\n")
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(header)
    os.replace(tmp, path)


def recording_source(folder: str | Path) -> str:
    """The source spec that replays a recording folder (its numbered MetaImage sequence)."""
    return str(Path(folder) / FRAMES_DIR / FRAME_PATTERN)


def is_recording(folder: str | Path) -> bool:
    """True when the folder holds a recording's frames."""
    frames = Path(folder) / FRAMES_DIR
    return frames.is_dir() and any(frames.glob("frame_*.mhd"))


def recording_fps(folder: str | Path) -> float | None:
    """The frame rate stored with a recording (None when unknown)."""
    try:
        fps = float(json.loads((Path(folder) / INFO_FILE).read_text()).get("fps") or 0)
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return fps if fps > 0 else None


def new_recording_folder(parent: str | Path) -> Path:
    """A fresh, time-stamped folder under `parent`."""
    stamp = time.strftime("%Y%m%d_%H%M%S")
    folder = Path(parent) / f"recording_{stamp}"
    n = 1
    while folder.exists():
        n += 1
        folder = Path(parent) / f"recording_{stamp}_{n}"
    return folder


class Recorder:
    """Writes frames and results of one recording from any thread (a writer thread does the disk work)."""

    def __init__(self, folder: str | Path, source: str, fps: float | None, view: str, method: str):
        self.folder = Path(folder)
        (self.folder / FRAMES_DIR).mkdir(parents=True, exist_ok=False)
        self.info = {"source": source, "fps": fps, "view": view, "method": method,
                     "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (self.folder / INFO_FILE).write_text(json.dumps(self.info, indent=1))
        self._results = ResultsCsv(self.folder / "results.csv")
        self.frames_written = 0
        self.first_index: int | None = None
        self.results_written = 0
        self.error: str | None = None
        self._queue: queue.Queue = queue.Queue()
        self._unsynced: list[Path] = []
        self._last_sync = time.monotonic()
        self.syncs = 0
        self._thread = threading.Thread(target=self._write_all, name="recorder", daemon=True)
        self._thread.start()

    def add_frame(self, frame: Frame) -> None:
        """Queue a frame that entered the analysis."""
        if self.first_index is None:
            self.first_index = frame.index
        self._queue.put(("frame", frame))

    def add_result(self, result: FrameResult) -> None:
        """Queue the results row of an analysed frame (only frames of this recording get a row)."""
        if self.first_index is not None and result.frame.index >= self.first_index:
            self._queue.put(("result", result))

    def close(self) -> None:
        """Write what is queued, then close the files."""
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._results.close()
        try:
            (self.folder / INFO_FILE).write_text(json.dumps(
                {**self.info, "frames": self.frames_written, "results": self.results_written}, indent=1))
        except OSError as error:
            log.error("%s: %s", self.folder / INFO_FILE, error)

    def _write_all(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=SYNC_INTERVAL_S)
            except queue.Empty:
                item = ()
            if item is None:
                break
            if self.error is not None:
                continue
            try:
                if item:
                    kind, value = item
                    if kind == "frame":
                        path = self.folder / FRAMES_DIR / f"frame_{value.index}.mhd"
                        write_metaimage(path, value.image, value.spacing)
                        self._unsynced += [path, path.with_suffix(".raw")]
                        self.frames_written += 1
                    else:
                        self._results.write(value)
                        self.results_written += 1
                if time.monotonic() - self._last_sync >= SYNC_INTERVAL_S:
                    self._sync()
            except OSError as error:   # a full or removed disk stops the recording, not the app
                self.error = f"{self.folder}: recording stopped ({error.strerror or error})"
                log.error("%s", self.error)
        if self.error is None:
            try:
                self._sync()
            except OSError as error:
                self.error = f"{self.folder}: recording not made durable ({error.strerror or error})"
                log.error("%s", self.error)

    def _sync(self) -> None:
        """fsync the frame files written since the last sync, the results and both folders."""
        for path in self._unsynced:
            _fsync(path)
        self._results.sync()
        for folder in (self.folder / FRAMES_DIR, self.folder) if self._unsynced else (self.folder,):
            _fsync(folder)
        self._unsynced.clear()
        self._last_sync = time.monotonic()
        self.syncs += 1


def _fsync(path: Path) -> None:
    """Flush a file's or a folder's entries to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
