"""Headless analysis: run the chain over inputs and write results.csv, masks, region maps and videos.

Rows are written and flushed as frames finish, so a failure later in a source, or in another
source, never loses results already computed.
"""
from __future__ import annotations

import csv
import itertools
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .fast_bridge import frame_error, is_end_marker, to_numpy
from .preprocess import to_frame_size
from .quality import parse_scores
from .sources import SourceError, open_source, source_stem
from .types import N_REGIONS, REGION_NAMES

log = logging.getLogger(__name__)

CSV_COLUMNS = ("source", "frame", "time_s", "method", "view") + REGION_NAMES + ("global",)
LUMEN = N_REGIONS + 1  # value of the LV lumen in the regions image passed between stages


@dataclass
class AnalysisSettings:
    method: str = ""
    view: str = "a4c"
    segmentation: str = ""
    backend: str = "auto"
    save_masks: bool = False
    save_regions: bool = False
    save_video: bool = False
    max_frames: int | None = None
    timeout_s: float | None = None
    fps: float | None = None
    spacing: tuple[float, float] | None = None


@dataclass
class SourceSummary:
    source: str
    frames: int = 0
    seconds: float = 0.0
    score_sums: np.ndarray = field(default_factory=lambda: np.zeros(N_REGIONS))
    score_counts: np.ndarray = field(default_factory=lambda: np.zeros(N_REGIONS, int))
    error: str | None = None
    stream: str = ""  # live sources: frames received/dropped/corrupt, reconnects, latency

    @property
    def mean_scores(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.score_counts > 0, self.score_sums / np.maximum(self.score_counts, 1), np.nan)


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, label: str, total: int | None):
        self.label, self.total, self.count, self.start, self.shown = label, total, 0, time.perf_counter(), 0.0

    def step(self) -> None:
        self.count += 1
        now = time.perf_counter()
        interval = 0.2 if sys.stderr.isatty() else 5.0
        if now - self.shown > interval or self.count == self.total:
            self.shown = now
            rate = self.count / max(now - self.start, 1e-9)
            if self.total:
                done = min(self.count / self.total, 1.0)
                bar = "#" * int(done * 30)
                line = f"\r{self.label} [{bar:<30}] {self.count}/{self.total} {rate:5.1f} frames/s"
            else:
                line = f"\r{self.label} {self.count} frames {rate:5.1f} frames/s"
            sys.stderr.write(line if sys.stderr.isatty() else line[1:] + "\n")
            sys.stderr.flush()

    def close(self) -> None:
        if self.count and sys.stderr.isatty():
            sys.stderr.write("\n")


class StopRequest:
    """Ctrl-C ends the analysis cleanly: frames in progress finish and files are closed; twice aborts."""

    def __init__(self):
        self.requested = False
        self.source = None
        self._previous = None

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        sys.stderr.write("\nstopping after the frames in progress (Ctrl-C again to abort)\n")
        close = getattr(self.source, "close", None)
        if close is not None:
            close()

    def frames(self, stream):
        """`stream` until a stop is requested."""
        for frame in stream:
            if self.requested:
                return
            yield frame


def _cell(value: float) -> str:
    return "" if np.isnan(value) else f"{value:.3f}"


class ResultWriter:
    """Writes the output contract of `analyze` for one output folder."""

    def __init__(self, out_dir: Path, settings: AnalysisSettings):
        self.out_dir = out_dir
        self.settings = settings
        out_dir.mkdir(parents=True, exist_ok=True)
        self._csv_file = open(out_dir / "results.csv", "w", newline="")
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(CSV_COLUMNS)
        self._csv_file.flush()
        for name, wanted in (("masks", settings.save_masks), ("regions", settings.save_regions)):
            if wanted:
                (out_dir / name).mkdir(exist_ok=True)
        self._video: cv2.VideoWriter | None = None
        self.videos: list[Path] = []

    def start_source(self, spec: str, fps: float) -> None:
        self.stem = source_stem(spec)
        self.fps = fps
        self._video = None

    def write_frame(self, spec: str, index: int, time_s: float, method: str, scores: np.ndarray,
                    labels: np.ndarray | None, regions: np.ndarray | None, frame_shape: tuple[int, int],
                    split: np.ndarray | None) -> None:
        valid = scores[~np.isnan(scores)]
        overall = float(valid.mean()) if valid.size else float("nan")
        self._csv.writerow([spec, index, f"{time_s:.4f}", method, self.settings.view]
                           + [_cell(s) for s in scores] + [_cell(overall)])
        self._csv_file.flush()
        name = f"{self.stem}_{index:04d}.png"
        if self.settings.save_masks and labels is not None:
            cv2.imwrite(str(self.out_dir / "masks" / name), to_frame_size(labels, frame_shape))
        if self.settings.save_regions and regions is not None:
            cv2.imwrite(str(self.out_dir / "regions" / name), to_frame_size(regions, frame_shape))
        if self.settings.save_video and split is not None:
            self._write_video_frame(split)

    def _write_video_frame(self, rgb: np.ndarray) -> None:
        h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
        if self._video is None:
            path = self.out_dir / f"{self.stem}_split.mp4"
            self._video = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            self.videos.append(path)
        self._video.write(np.ascontiguousarray(rgb[:h, :w, ::-1]))

    def end_source(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None

    def close(self) -> None:
        self.end_source()
        self._csv_file.close()


def analyze_source(spec: str, settings: AnalysisSettings, segmentation, method, method_name: str,
                   writer: ResultWriter, stop: StopRequest | None = None) -> SourceSummary:
    """Run the chain over one input; returns what was done (with the source's error, if any)."""
    from .graph import build
    from .fast_bridge import Sink

    summary = SourceSummary(spec)
    try:
        source = open_source(spec, fps=settings.fps, spacing=settings.spacing, timeout_s=settings.timeout_s)
        frames = iter(source)
        first = next(frames, None)
    except SourceError as error:
        summary.error = str(error)
        return summary
    if first is None:
        waited = f" within {settings.timeout_s:g} s" if spec.startswith("igtl://") and settings.timeout_s else ""
        summary.error = f"{spec}: no frames received{waited}"
        return summary
    stream = itertools.chain([first], frames)
    if stop is not None:
        stop.source = source
        stream = stop.frames(stream)
    if settings.max_frames is not None:
        stream = itertools.islice(stream, settings.max_frames)
    writer.start_source(spec, getattr(source, "fps", None) or 30.0)
    counters = getattr(source, "counters", None)
    progress = Progress(source_stem(spec), min(filter(None, [getattr(source, "n_frames", None),
                                                              settings.max_frames]), default=None))

    def on_frame(scored, labels, split=None) -> None:
        if is_end_marker(scored):
            return
        error = frame_error(scored)
        index, time_s = int(scored.getFrameData("index")), float(scored.getFrameData("time_s"))
        shape = tuple(int(v) for v in scored.getFrameData("frame_shape").split())
        if error is None:
            scores = parse_scores(scored.getFrameData("scores"))
            region_map = to_numpy(scored)
            region_map = np.where(region_map <= N_REGIONS, region_map, 0).astype(np.uint8)
            video = None if split is None or frame_error(split) is not None else to_numpy(split)
            writer.write_frame(spec, index, time_s, method_name, scores, to_numpy(labels), region_map, shape, video)
            seen = ~np.isnan(scores)
            summary.score_sums[seen] += scores[seen]
            summary.score_counts[seen] += 1
        else:
            writer.write_frame(spec, index, time_s, method_name, np.full(N_REGIONS, np.nan), None, None, shape, None)
        summary.frames += 1
        stamp = scored.getFrameData("timestamp")
        if stamp and counters is not None:
            counters.record_latency(time.time() - float(stamp))
        progress.step()

    start = time.perf_counter()
    live = spec.startswith("igtl://")
    pipeline = build(stream, segmentation, method, method_name, settings.view, title=source_stem(spec),
                     max_in_flight=1 if live else 8, split_screen=settings.save_video)
    sink = Sink.create(on_frame, 3 if settings.save_video else 2, pipeline.frames) \
        .connect(0, pipeline.scores, 0).connect(1, pipeline.labels, 0)
    if settings.save_video:
        sink.connect(2, pipeline.split_screen, 0)
    import fast
    for image in fast.DataStream(sink):
        if is_end_marker(image):
            break
    summary.seconds = time.perf_counter() - start
    progress.close()
    writer.end_source()
    close = getattr(source, "close", None)
    if close:
        close()
    if pipeline.frames.error:
        summary.error = pipeline.frames.error
    if counters is not None:
        summary.stream = counters.summary()
    return summary


def print_summary(summaries: list[SourceSummary], out_dir: Path, outputs: list[tuple[str, Path]]) -> None:
    """The closing summary: frames, frames/s and mean quality per region for each input."""
    for s in summaries:
        if s.frames:
            rate = s.frames / s.seconds if s.seconds > 0 else float("nan")
            means = ", ".join(f"{n} {_cell(m) or '-'}" for n, m in zip(REGION_NAMES, s.mean_scores))
            print(f"{s.source}: {s.frames} frames, {rate:.1f} frames/s; mean quality: {means}")
        if s.stream:
            print(f"{s.source}: {s.stream}")
        if s.error:
            print(f"error: {s.error}" + (f" (after {s.frames} frames; their results are kept)" if s.frames else ""),
                  file=sys.stderr)
    print(f"results: {out_dir / 'results.csv'}")
    for name, path in outputs:
        print(f"{name}: {path}")


def analyze(inputs: list[str], out_dir: str | Path, settings: AnalysisSettings) -> int:
    """Analyse every input; exit status 0 only when all of them were read without error."""
    from .model_registry import DEFAULT_SEGMENTATION, ModelError, load_segmentation_model
    from .quality import resolve_method

    out = Path(out_dir)
    try:
        segmentation = load_segmentation_model(settings.segmentation or DEFAULT_SEGMENTATION, settings.backend)
        method, method_name = resolve_method(settings.method, settings.backend)
    except (ModelError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        writer = ResultWriter(out, settings)
    except OSError as error:
        print(f"error: {out}: cannot write results ({error.strerror or error})", file=sys.stderr)
        return 2
    summaries = []
    with StopRequest() as stop:
        try:
            for spec in inputs:
                if stop.requested:
                    break
                summaries.append(analyze_source(spec, settings, segmentation, method, method_name, writer, stop))
        finally:
            writer.close()
    outputs = [(name, out / name) for name, wanted in (("masks", settings.save_masks),
                                                       ("regions", settings.save_regions)) if wanted]
    print_summary(summaries, out, outputs + [("video", video) for video in writer.videos])
    if stop.requested:
        print("interrupted: results of the analysed frames are kept", file=sys.stderr)
        return 130
    return 1 if any(s.error for s in summaries) else 0
