"""Headless analysis: run the chain over inputs and write results.csv, cycles.csv, per-input summaries
and quality-trace pictures, masks, region maps and videos.

Rows are written whole as frames finish, so a failure later in a source, or in another source,
never loses results already computed. Exit status: 0 all inputs analysed; 1 an input (or its video)
failed, the others were analysed; 2 bad arguments, models or output folder; 3 an output could not be
written (disk full): the run stopped, rows already written are whole; 128 + the signal when
stopped by SIGINT (130), SIGTERM (143) or SIGHUP (129).
"""
from __future__ import annotations

import collections
import itertools
import json
import logging
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from echoquality.core.gate import OK
from echoquality.core.records import FrameResult
from echoquality.core.view import AUTO, checks_view
from echoquality.core.vocabulary import N_REGIONS, REGION_NAMES
from echoquality.inference.backends import ModelError
from echoquality.inference.registry import DEFAULT_SEGMENTATION, load_segmentation_model, load_view_model, resolve_method
from echoquality.outputs.cycle_plot import write_plot
from echoquality.outputs.cycles_report import CycleRecorder, CyclesCsv, SourceCycles, biplane_summary, write_summary
from echoquality.outputs.masks import MapWriter
from echoquality.outputs.results_csv import OutputError, ResultsCsv, output_error, score_cell
from echoquality.outputs.video import VideoError, VideoWriter
from echoquality.sources import SourceError, is_live, open_source, source_stem
from echoquality.sources.files import error_reason
from echoquality.commands.stop import StopRequest
from echoquality.streaming.batched import run_batched
from echoquality.streaming.graph import build

log = logging.getLogger(__name__)


@dataclass
class AnalysisSettings:
    method: str = ""
    view: str = AUTO
    segmentation: str = ""
    backend: str = "auto"
    save_masks: bool = False
    save_regions: bool = False
    save_video: bool = False
    max_frames: int | None = None
    timeout_s: float | None = None
    fps: float | None = None
    spacing: tuple[float, float] | None = None
    views: tuple[str, ...] = ()        # one view per input (empty: `view` for every input)
    same_patient: bool = False         # the inputs are of one patient: biplane EF from its A4C and A2C
    batch_size: int = 1                # > 1: recorded inputs analysed N frames at a time (streaming/batched.py)


@dataclass
class SourceSummary:
    source: str
    frames: int = 0
    seconds: float = 0.0
    score_sums: np.ndarray = field(default_factory=lambda: np.zeros(N_REGIONS))
    score_counts: np.ndarray = field(default_factory=lambda: np.zeros(N_REGIONS, int))
    error: str | None = None
    notes: list[str] = field(default_factory=list)    # outputs of this input that went wrong or were adapted
    stream: str = ""  # live sources: frames received/dropped/corrupt, reconnects, latency
    cycles: list[str] = field(default_factory=list)   # one sentence per measurement
    statuses: collections.Counter = field(default_factory=collections.Counter)   # frames per gate status
    views: collections.Counter = field(default_factory=collections.Counter)      # scored frames per view

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


class OutputFolder:
    """The output contract of `analyze` in one folder: results.csv, cycles.csv, <stem>_summary.json,
    <stem>_cycles.png, masks/, regions/, <stem>_split.mp4."""

    def __init__(self, out_dir: Path, settings: AnalysisSettings):
        self.out_dir = out_dir
        self.settings = settings
        out_dir.mkdir(parents=True, exist_ok=True)
        self.results = ResultsCsv(out_dir / "results.csv")
        self.cycles = CyclesCsv(out_dir / "cycles.csv")
        self._recorder: CycleRecorder | None = None
        self.reports: list[Path] = []
        self.found: list[SourceCycles] = []      # every input's cycles (for the biplane EF)
        self.masks = MapWriter(out_dir, "masks") if settings.save_masks else None
        self.regions = MapWriter(out_dir, "regions") if settings.save_regions else None
        self._video: VideoWriter | None = None
        self.videos: list[Path] = []
        self.stems: set[str] = set()
        self.stem = ""
        self.notes: list[str] = []          # of the current input: outputs that went wrong or were adapted
        self.error: OutputError | None = None   # an output that cannot be written (disk full): the run stops

    def unique_stem(self, spec: str) -> str:
        """The input's file stem, numbered (_2, _3...) when an earlier input of this run had the same one."""
        stem, n = source_stem(spec) or "input", 1
        while (stem if n == 1 else f"{stem}_{n}") in self.stems:
            n += 1
        stem = stem if n == 1 else f"{stem}_{n}"
        self.stems.add(stem)
        return stem

    def start_source(self, spec: str, fps: float, view: str) -> None:
        self.stem = self.unique_stem(spec)
        self.notes = []
        if self.stem != source_stem(spec):
            self.notes.append(f"outputs named {self.stem}_* (an earlier input has the same name)")
        self._recorder = CycleRecorder(spec, view, fps)
        self._video = VideoWriter(self.out_dir / f"{self.stem}_split.mp4", fps) if self.settings.save_video else None

    def write(self, result: FrameResult) -> None:
        """Write one frame's outputs, its results row last; OutputError (the run stops) when a file cannot be written."""
        frame = result.frame
        if self.masks is not None and result.labels is not None:
            self.masks.write(self.stem, frame.index, result.at_frame_size(result.labels))
        if self.regions is not None and result.region_map is not None:
            self.regions.write(self.stem, frame.index, result.at_frame_size(result.region_map))
        if self._video is not None and result.split_screen is not None:
            try:
                self._video.write(result.split_screen)
            except VideoError as error:        # this video only: the results go on
                self.notes.append(f"video not written: {error}")
                self._video = None
            else:
                if self._video.path not in self.videos:
                    self.videos.append(self._video.path)
        self.results.write(result)
        if self._recorder is not None:
            self._recorder.add(result)

    def _close_video(self) -> None:
        video, self._video = self._video, None
        if video is None:
            return
        try:
            video.close()
        except VideoError as error:
            self.notes.append(f"video not written: {error}")
            if video.path in self.videos:
                self.videos.remove(video.path)
            return
        if video.resized:
            w, h = video.size
            self.notes.append(f"video: {video.resized} frames of another size than the first were scaled "
                              f"into its {w}x{h}")

    def end_source(self, method: str = "") -> list[str]:
        """Close the input's video; write its cycles, summary and picture; their one-line reasons."""
        self._close_video()
        recorder, self._recorder = self._recorder, None
        if recorder is None or not recorder.area:
            return []
        found = recorder.finish()
        self.found.append(found)
        self.cycles.write(found)
        summary_path = self.out_dir / f"{self.stem}_summary.json"
        plot_path = self.out_dir / f"{self.stem}_cycles.png"
        write_summary(summary_path, found, method)
        write_plot(plot_path, found)
        self.reports += [summary_path, plot_path]
        return list(found.sentences().values())

    def close(self) -> None:
        try:
            self._close_video()
        finally:
            self.results.close()
            self.cycles.close()


def analyze_source(spec: str, settings: AnalysisSettings, segmentation, method, method_name: str,
                   outputs: OutputFolder, stop: StopRequest | None = None, view_model=None) -> SourceSummary:
    """Run the chain over one input; returns what was done (with the source's error, if any).

    With `settings.batch_size` > 1 a recorded input goes through the batched counterpart of the chain
    (`streaming/batched.py`: same steps and results, the networks on N frames at a time); a live input
    always through the chain, one frame at a time.

    An output that cannot be written (disk full) is kept in `outputs.error` and ends the input.
    """
    summary = SourceSummary(spec)
    live = is_live(spec)
    stop = stop or StopRequest()
    try:
        source = open_source(spec, fps=settings.fps, spacing=settings.spacing, timeout_s=settings.timeout_s)
        stop.source = source        # a signal while waiting for the first frame closes it
        if stop.requested:
            stop.close_source()
        frames = iter(source)
        first = next(frames, None)
    except SourceError as error:
        summary.error = str(error)
        return summary
    if first is None:
        if stop.requested:
            return summary
        waited = f" within {settings.timeout_s:g} s" if live and settings.timeout_s else ""
        summary.error = f"{spec}: no frames received{waited}"
        return summary
    stream = stop.frames(itertools.chain([first], frames))
    stream = itertools.takewhile(lambda _: outputs.error is None, stream)
    if settings.max_frames is not None:
        stream = itertools.islice(stream, settings.max_frames)
    outputs.start_source(spec, getattr(source, "fps", None) or 30.0, settings.view)
    counters = getattr(source, "counters", None)
    progress = Progress(outputs.stem, min(filter(None, [getattr(source, "n_frames", None),
                                                         settings.max_frames]), default=None))

    def on_result(result: FrameResult) -> None:
        if outputs.error is not None:
            return
        try:
            outputs.write(result)
        except OutputError as error:      # disk full: stop this run, keep what is written
            outputs.error = error
            stop.close_source()
            return
        if result.error is None:
            seen = ~np.isnan(result.scores)
            summary.score_sums[seen] += result.scores[seen]
            summary.score_counts[seen] += 1
        summary.frames += 1
        summary.statuses[result.status] += 1
        if result.status == OK:
            summary.views[result.view] += 1
        if result.frame.timestamp is not None and counters is not None:
            counters.record_latency(time.time() - result.frame.timestamp)
        progress.step()

    batched = settings.batch_size > 1 and not live
    if settings.batch_size > 1 and live:
        log.warning("%s: live input, analysed one frame at a time (--batch-size %d is for recorded inputs)",
                    spec, settings.batch_size)
    source_error: str | None = None
    start = time.perf_counter()
    try:
        if batched:    # the chain's steps on chunks of frames, without FAST
            source_error = run_batched(stream, segmentation, method, method_name, on_result, settings.batch_size,
                                       settings.view, view_model, title=outputs.stem,
                                       split_screen=settings.save_video).error
        else:
            pipeline = build(stream, segmentation, method, method_name, on_result, settings.view, title=outputs.stem,
                             max_in_flight=1 if live else 8, split_screen=settings.save_video, view_model=view_model,
                             mirror=False if live else None, reuse_fan=live)   # live: cheaper, keeps up with the scanner
            pipeline.run()
            source_error = pipeline.frames.error
    finally:
        summary.seconds = time.perf_counter() - start
        progress.close()
        try:
            if outputs.error is None:
                summary.cycles = outputs.end_source(method_name)
        except OutputError as error:
            outputs.error = error
        finally:
            summary.notes = outputs.notes
            stop.source = None
            close = getattr(source, "close", None)
            if close:
                close()
    if source_error:
        summary.error = source_error
    if counters is not None:
        summary.stream = counters.summary()
    return summary


def print_summary(summaries: list[SourceSummary], out_dir: Path, outputs: list[tuple[str, Path]]) -> None:
    """The closing summary: frames, frames/s and mean quality per region for each input."""
    for s in summaries:
        if s.frames:
            rate = s.frames / s.seconds if s.seconds > 0 else float("nan")
            means = ", ".join(f"{n} {score_cell(m) or '-'}" for n, m in zip(REGION_NAMES, s.mean_scores))
            print(f"{s.source}: {s.frames} frames, {rate:.1f} frames/s; mean quality: {means}")
            scored = s.statuses.get(OK, 0)
            views = ", ".join(f"{v} {n}" for v, n in s.views.most_common())
            line = f"{s.source}: {scored} of {s.frames} frames scored" + (f" (views: {views})" if views else "")
            stopped = [(status, n) for status, n in s.statuses.most_common() if status != OK]
            if stopped:
                line += "; not scored: " + ", ".join(f"{status} {n}" for status, n in stopped)
            print(line)
        for sentence in s.cycles:
            print(f"{s.source}: {sentence}")
        for note in s.notes:
            print(f"{'error' if note.startswith('video not written') else 'note'}: {s.source}: {note}",
                  file=sys.stderr)
        if s.stream:
            print(f"{s.source}: {s.stream}")
        if s.error:
            print(f"error: {s.error}" + (f" (after {s.frames} frames; their results are kept)" if s.frames else ""),
                  file=sys.stderr)
    print(f"results: {out_dir / 'results.csv'}")
    print(f"cycles: {out_dir / 'cycles.csv'}")
    for name, path in outputs:
        print(f"{name}: {path}")


def write_biplane(outputs: OutputFolder, out: Path) -> str:
    """--same-patient: biplane_summary.json from the A4C and the A2C input; the line to print."""
    by_view = {v: [f for f in outputs.found if f.view == v] for v in ("a4c", "a2c")}
    if len(by_view["a4c"]) != 1 or len(by_view["a2c"]) != 1:
        return (f"biplane EF: needs exactly one A4C and one A2C input (--view per input); got "
                f"{len(by_view['a4c'])} A4C and {len(by_view['a2c'])} A2C")
    report = biplane_summary(by_view["a4c"][0], by_view["a2c"][0])
    path = out / "biplane_summary.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return f"{report['explanation']} ({path})"


def analyze(inputs: list[str], out_dir: str | Path, settings: AnalysisSettings,
            stop: StopRequest | None = None) -> int:
    """Analyse every input; the exit status is described in the module docstring."""
    stop = (stop or StopRequest()).install()
    try:
        return _analyze(inputs, out_dir, settings, stop)
    finally:
        stop.__exit__()


def _analyze(inputs: list[str], out_dir: str | Path, settings: AnalysisSettings, stop: StopRequest) -> int:
    if not str(out_dir).strip():
        print("error: the output folder name is empty", file=sys.stderr)
        return 2
    out = Path(out_dir)
    try:
        segmentation = load_segmentation_model(settings.segmentation or DEFAULT_SEGMENTATION, settings.backend)
        method, method_name = resolve_method(settings.method, settings.backend)
        view_model = load_view_model() if any(map(checks_view, (settings.view,) + tuple(settings.views))) else None
    except (ModelError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        outputs = OutputFolder(out, settings)
    except OSError as error:
        print(f"error: {out}: cannot write results ({error.strerror or error})", file=sys.stderr)
        return 2
    stop.install()     # again: loading the models may have replaced the handlers
    summaries = []
    try:
        for k, spec in enumerate(inputs):
            if stop.requested or outputs.error is not None:
                break
            own = replace(settings, view=settings.views[k]) if settings.views else settings
            try:
                summaries.append(analyze_source(spec, own, segmentation, method, method_name, outputs, stop,
                                                view_model))
            except OutputError as error:
                outputs.error = outputs.error or error
            except Exception as error:   # a bug on one input must not cost the others or the summary
                log.debug("%s", spec, exc_info=True)
                summaries.append(SourceSummary(spec, error=f"{spec}: cannot be analysed ({error_reason(error)})"))
    finally:
        try:
            outputs.close()
        except OSError as error:
            outputs.error = outputs.error or error
    written = [(name, out / name) for name, wanted in (("masks", settings.save_masks),
                                                       ("regions", settings.save_regions)) if wanted]
    biplane = None
    if settings.same_patient and not stop.requested and outputs.error is None:
        try:
            biplane = write_biplane(outputs, out)
        except OSError as error:
            outputs.error = output_error(out / "biplane_summary.json", error)
    reports = [("summary" if p.suffix == ".json" else "quality traces", p) for p in outputs.reports]
    print_summary(summaries, out, written + [("video", video) for video in outputs.videos] + reports)
    if outputs.error is not None:
        print(f"error: {outputs.error.strerror or outputs.error}; the run stopped, rows already written are whole",
              file=sys.stderr)
        return 3
    if biplane is not None:
        print(biplane)
    if stop.requested:
        print("interrupted: results of the analysed frames are kept", file=sys.stderr)
        return stop.exit_status
    failed = any(s.error or any(n.startswith("video not written") for n in s.notes) for s in summaries)
    return 1 if failed else 0
