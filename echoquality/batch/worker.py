"""What runs on a worker: one recording through exactly the chain `analyze` runs (`analyze_source`), its
per-frame rows written as a Parquet part, then its done marker; returns the recording's summary row.

Models are opened once per worker process (the registry's per-process cache) and checked once against
the fingerprint the driver computed, so a worker with other model files refuses instead of mixing results.
"""
from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import os
import socket
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from distributed import WorkerPlugin

from echoquality.commands.cli import import_fast_quietly

import_fast_quietly()   # before anything imports FAST in a worker process: no banner on the worker's stdout

from echoquality.batch.discover import Recording  # noqa: E402
from echoquality.batch.keys import content_hash, fingerprint, model_folders, record_key  # noqa: E402
from echoquality.batch.store import (DONE, FAILED, FRAME_COLUMNS, marker_path, read_marker,  # noqa: E402
                                     write_frames, write_marker)
from echoquality.core.gate import OK as GATE_OK  # noqa: E402
from echoquality.core.records import FrameResult  # noqa: E402
from echoquality.core.vocabulary import REGION_NAMES  # noqa: E402

log = logging.getLogger(__name__)

MEASUREMENT_KEYS = (("EF", "ef"), ("GLS", "gls"), ("MAPSE", "mapse"))


def fingerprint_settings(settings) -> dict:
    """The settings that change the results (and so belong in the key)."""
    return {"method": settings.method or "e2e", "view": settings.view, "segmentation": settings.segmentation or "",
            "max_frames": settings.max_frames, "fps": settings.fps,
            "spacing": list(settings.spacing) if settings.spacing else None}


def view_model_name(view: str) -> str | None:
    """The view classifier an analysis uses: the bundled one when the view is recognised ('auto')."""
    from echoquality.core.view import AUTO
    from echoquality.inference.registry import DEFAULT_VIEW_MODEL
    return DEFAULT_VIEW_MODEL if view == AUTO else None


def models_fingerprint(settings) -> tuple[str, dict]:
    """(short hash, coverage) of the models and settings of an analysis, computed where this runs."""
    view_model = view_model_name(settings.view)
    return fingerprint(fingerprint_settings(settings), model_folders(settings.segmentation, settings.method,
                                                                     view_model))


@functools.lru_cache(maxsize=4)
def _local_fingerprint(settings_items: tuple) -> str:
    from echoquality.commands.analyze import AnalysisSettings
    return models_fingerprint(AnalysisSettings(**dict(settings_items)))[0]


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class RecordingCollector:
    """Stands in for `analyze`'s OutputFolder for one recording: keeps the per-frame rows (columns of
    store.FRAME_COLUMNS) and finds the recording's cardiac cycles, as `analyze` does."""

    def __init__(self, key: str, view: str):
        self.key, self.view = key, view
        self.rows: dict[str, list] = {c: [] for c in FRAME_COLUMNS}
        self.scores: list[np.ndarray] = []
        self.scored: list[bool] = []
        self.statuses: Counter = Counter()
        self.views: Counter = Counter()
        self.shape: tuple[int, int] | None = None
        self.fps: float | None = None
        self.found = None
        self._recorder = None
        self.stem = ""                       # what `analyze_source` reads of an output folder
        self.notes: list[str] = []
        self.error = None                    # nothing is written per frame here: no output error

    def start_source(self, spec: str, fps: float, view: str | None = None) -> None:
        from echoquality.outputs.cycles_report import CycleRecorder
        from echoquality.sources import source_stem
        self.stem = source_stem(spec)
        self.fps = fps
        self._recorder = CycleRecorder(spec, view or self.view, fps)

    def write(self, result: FrameResult) -> None:
        frame = result.frame
        status = result.status
        scores = np.asarray(result.scores, dtype=np.float64)
        scored = status == GATE_OK
        self.statuses[status] += 1
        if scored:
            self.views[result.view] += 1
        self.scores.append(scores)
        self.scored.append(scored)
        self.shape = self.shape or tuple(frame.image.shape[:2])
        values = [frame.index, float(frame.time_s), result.method, result.view] + [
            None if math.isnan(s) else float(s) for s in scores] + [
            None if math.isnan(result.global_score) else result.global_score, status]
        for column, value in zip(FRAME_COLUMNS, [self.key, frame.source] + values):
            self.rows[column].append(value)
        if self._recorder is not None:
            self._recorder.add(result)

    def end_source(self, method: str = "") -> list[str]:
        recorder, self._recorder = self._recorder, None
        if recorder is None or not recorder.area:
            return []
        self.found = recorder.finish()
        return list(self.found.sentences().values())

    def medians(self) -> list[float | None]:
        """Median score per region (and of the global score) over the scored frames."""
        chosen = [s for s, ok in zip(self.scores, self.scored) if ok]
        if not chosen:
            return [None] * (len(REGION_NAMES) + 1)
        scores = np.array(chosen)
        with warnings.catch_warnings():   # all-NaN regions give NaN, said below as None
            warnings.simplefilter("ignore", RuntimeWarning)
            per_region = np.nanmedian(scores, axis=0)
            overall = np.nanmedian(np.nanmean(scores, axis=1))
        return [None if math.isnan(v) else round(float(v), 4) for v in list(per_region) + [overall]]


def _cycle_columns(cycles: dict | None) -> dict:
    """The row's cycle columns from the recording's cycle summary (cycles_report.summary)."""
    if not cycles:
        return {}
    rates = [c["heart_rate_bpm"] for c in cycles["cycles"] if c.get("complete") and c.get("heart_rate_bpm")]
    row = {"cycles": len(cycles["cycles"]), "heart_rate_bpm": float(np.median(rates)) if rates else None,
           "ef_percent": cycles.get("ejection_fraction", {}).get("percent"),
           "cycles_explained": " ".join(m.get("explanation", "") for m in cycles["measurements"].values()).strip()}
    for name, prefix in MEASUREMENT_KEYS:
        m = cycles["measurements"].get(name, {})
        if m.get("feasible"):
            row.update({f"{prefix}_best_cycle": m.get("best_cycle"), f"{prefix}_ed_frame": m.get("ed_frame"),
                        f"{prefix}_es_frame": m.get("es_frame")})
    return row


def _failed(recording: Recording, error: str, started: float, **extra) -> dict:
    return {"source": recording.source, "status": FAILED, "error": error, "frames": 0, "frames_scored": 0,
            "runtime_s": round(time.perf_counter() - started, 3), "worker": _worker_name(), "reused": False, **extra}


def analyze_recording(recording: Recording, out_dir: str, settings_fields: dict, models: str,
                      redo_failed: bool = False) -> dict:
    """Analyse one recording (or reuse its marker); its summary row. Never raises for a bad file.

    `settings_fields`: the fields of `analyze`'s AnalysisSettings (a plain dict, so that unpacking the task
    on a worker imports nothing before this module has imported FAST quietly).
    A recording whose marker says it failed (an unreadable file) is reused as failed unless `redo_failed`."""
    from echoquality.commands.analyze import AnalysisSettings, analyze_source
    from echoquality.inference.registry import shared_method, shared_segmentation_model
    from echoquality.outputs.cycles_report import summary as cycle_summary

    started = time.perf_counter()
    settings = AnalysisSettings(**settings_fields)
    out = Path(out_dir)
    try:
        stat = [[s.st_size, s.st_mtime_ns] for s in (os.stat(f) for f in recording.files)]
        sha = content_hash(recording.files)
    except OSError as error:
        return _failed(recording, f"{recording.source}: cannot read ({error.strerror or error})", started)
    key = record_key(sha, models)
    ids = {"content_sha256": sha, "models": models, "key": key}
    done = read_marker(marker_path(out, key))
    if done is not None and not (redo_failed and done["row"].get("status") == FAILED):
        # the same content analysed by the same models: a rerun, a copy or a moved file
        return {**done["row"], "source": recording.source, "reused": True}
    try:
        local = _local_fingerprint(tuple(sorted(settings_fields.items())))
        if local != models:
            return _failed(recording, f"this worker's models or settings ({local}) differ from the driver's "
                                      f"({models}): install the same model files on every machine", started, **ids)
        segmentation = shared_segmentation_model(settings.segmentation, settings.backend)
        method, method_name = shared_method(settings.method, settings.backend)
        collector = RecordingCollector(key, settings.view)
        with contextlib.redirect_stderr(io.StringIO()):   # analyze's per-source progress line
            result = analyze_source(recording.source, settings, segmentation, method, method_name, collector)
    except Exception as error:  # a bug or a broken model: recorded, not marked done, retried on the next run
        log.exception("%s: analysis failed", recording.source)
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        return _failed(recording, f"{recording.source}: analysis failed ({last})", started, **ids)

    frames = len(collector.scored)
    cycles = cycle_summary(collector.found, method_name) if collector.found is not None else None
    stopped = ", ".join(f"{status} {n}" for status, n in collector.statuses.most_common() if status != GATE_OK)
    row = {"source": recording.source, "status": DONE if frames else FAILED, "error": result.error,
           "view": collector.views.most_common(1)[0][0] if collector.views else None,
           "frames": frames, "frames_scored": int(sum(collector.scored)), "gate_reasons": stopped or None,
           **dict(zip([f"{r}_median" for r in REGION_NAMES] + ["global_median"], collector.medians())),
           **_cycle_columns(cycles),
           "fps": collector.fps, "width": collector.shape[1] if collector.shape else None,
           "height": collector.shape[0] if collector.shape else None, "method": method_name,
           "runtime_s": round(time.perf_counter() - started, 3), "worker": _worker_name(), "reused": False, **ids}
    if frames:
        write_frames(out, key, collector.rows)
    write_marker(out, key, {"row": row, "cycles": cycles, "files": recording.files, "stat": stat})
    return row


def warm_up(settings_fields: dict) -> str:
    """Open the models of an analysis in this worker process (they stay for its later tasks); its name."""
    from echoquality.inference.registry import shared_method, shared_segmentation_model
    segmentation, method = settings_fields.get("segmentation", ""), settings_fields.get("method", "")
    backend = settings_fields.get("backend", "auto")
    shared_segmentation_model(segmentation, backend)
    shared_method(method, backend)
    if view_model_name(settings_fields.get("view", "")):
        from echoquality.inference.registry import shared_view_model
        shared_view_model()
    return _worker_name()


class IgnoreInterrupts(WorkerPlugin):
    """Worker plugin of a local cluster: the worker process ignores SIGINT (a Ctrl-C meant for the driver,
    which then stops the run and the cluster in order)."""

    def setup(self, worker) -> None:
        import signal
        import threading
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
