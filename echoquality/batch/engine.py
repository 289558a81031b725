"""The batch run on Dask distributed: a local cluster (one single-threaded worker process per core) or a
running scheduler by address; recordings submitted through a bounded window, resumed from the done markers.

What a kill loses: only the recordings in flight. Each recording's Parquet part and marker are written by
its worker before the result comes back; the driver skips every recording whose marker matches (same
files, sizes and modification times, same model fingerprint) without sending it, and a worker skips any
whose content hash + fingerprint is already marked (a copy, a moved file). A worker that dies takes its
task with it: the scheduler gives the task to another worker, and a recording that kills
`distributed.scheduler.allowed-failures` + 1 workers (default 4) is recorded as failed with the reason.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from echoquality.batch.discover import Recording, discover
from echoquality.batch.store import (DONE, FAILED, PENDING, SKIPPED, markers, write_settings, write_table)
from echoquality.batch.worker import IgnoreInterrupts, analyze_recording, models_fingerprint

log = logging.getLogger(__name__)

TABLE_EVERY_S = 30.0      # the recordings table is rewritten this often during a run (and at its end)
POLL_S = 0.05             # how often the driver looks for finished recordings


class ClusterError(Exception):
    """The cluster cannot be started or reached; the message says which and why."""


@dataclass
class BatchProgress:
    """Where a run stands: files of this run done (analysed here or reused), frames analysed here."""
    total: int
    done: int = 0
    analysed: int = 0
    reused: int = 0
    failed: int = 0
    frames: int = 0
    started: float = field(default_factory=time.perf_counter)
    first_result: float | None = None

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def rates(self) -> tuple[float, float, float | None]:
        """(files/s, frames/s, ETA in s) of the analysis (reused files are not counted in the rates)."""
        seconds = max(self.elapsed, 1e-9)
        files_s, frames_s = self.analysed / seconds, self.frames / seconds
        left = self.total - self.done
        return files_s, frames_s, (left / files_s if files_s > 0 else None)


@dataclass
class BatchReport:
    rows: list[dict]
    progress: BatchProgress
    skipped: int
    interrupted: bool
    table: tuple[Path, Path]
    workers: int


def connect(cluster: str | None = None, workers: int | None = None):
    """A Dask client: on the scheduler at `cluster` (tcp://HOST:8786), or on a new local cluster with
    `workers` single-threaded worker processes (default: one per core)."""
    from distributed import Client, LocalCluster

    if logging.getLogger().getEffectiveLevel() > logging.INFO:   # the scheduler and nannies run in this process
        logging.getLogger("distributed").setLevel(logging.ERROR)
    if cluster:
        if cluster.startswith("ray://"):
            raise ClusterError(f"{cluster}: batch runs on Dask; give a Dask scheduler address (tcp://HOST:8786)")
        try:
            return Client(cluster, timeout="20s")
        except (OSError, TimeoutError) as error:
            raise ClusterError(f"{cluster}: cannot reach the Dask scheduler ({error})") from None
    n = workers or os.cpu_count() or 1
    local = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                         silence_logs=logging.CRITICAL)
    client = Client(local)
    client.register_plugin(IgnoreInterrupts())   # Ctrl-C in a terminal reaches the workers too: the driver decides
    return client


def _stat(files: tuple[str, ...]) -> list[list[int]] | None:
    try:
        return [[s.st_size, s.st_mtime_ns] for s in (os.stat(f) for f in files)]
    except OSError:
        return None


def _done_index(out: Path, models: str) -> dict[tuple, dict]:
    """Markers of this fingerprint by (files, their sizes and mtimes): what a rerun need not send."""
    index = {}
    for payload in markers(out):
        row = payload["row"]
        if row.get("models") == models and payload.get("stat"):
            index[(tuple(payload.get("files", ())), str(payload["stat"]))] = row
    return index


def _failed_row(recording: Recording, reason: str) -> dict:
    return {"source": recording.source, "status": FAILED, "error": f"{recording.source}: {reason}",
            "frames": 0, "frames_scored": 0, "reused": False}


def run_batch(archives: list[str], out_dir: str | Path, settings, client, redo_failed: bool = False,
              on_progress: Callable[[BatchProgress], None] | None = None, window: int | None = None,
              should_stop: Callable[[], bool] | None = None) -> BatchReport:
    """Analyse every recording under `archives` on the client's cluster; write DIR/recordings.{parquet,csv}.

    When `should_stop()` turns true, or on KeyboardInterrupt, the recordings in flight are cancelled, the
    table is written (the rows not done 'pending') and the report says `interrupted`."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models, covered = models_fingerprint(settings)
    fields = dataclasses.asdict(settings)
    write_settings(out, covered)
    recordings, skipped = discover(archives)
    rows: dict[str, dict] = {s.source: {"source": s.source, "status": SKIPPED, "error": s.reason, "frames": 0,
                                        "frames_scored": 0, "reused": False} for s in skipped}
    progress = BatchProgress(total=len(recordings))
    index = _done_index(out, models)
    todo: deque[Recording] = deque()
    for recording in recordings:
        row = index.get((recording.files, str(_stat(recording.files))))
        if row is not None and not (redo_failed and row.get("status") == FAILED):
            rows[recording.source] = {**row, "source": recording.source, "reused": True}
            progress.done += 1
            progress.reused += 1
        else:
            todo.append(recording)
            rows[recording.source] = {"source": recording.source, "status": PENDING, "frames": 0,
                                      "frames_scored": 0, "reused": False}
    if on_progress:
        on_progress(progress)

    in_flight: dict = {}
    finished = as_completed()
    capacity = {"n": 0, "checked": 0.0}

    def slots() -> int:
        now = time.monotonic()
        if now - capacity["checked"] > 5.0:   # workers may join or leave
            capacity["n"] = max(1, sum(client.nthreads().values()))
            capacity["checked"] = now
        return window or max(4, 2 * capacity["n"])

    def top_up() -> None:
        while todo and len(in_flight) < slots():
            recording = todo.popleft()
            future = client.submit(analyze_recording, recording, str(out), fields, models, redo_failed,
                                   key=f"analyze-{uuid.uuid4().hex}", pure=False)
            in_flight[future] = recording
            finished.add(future)

    def take(future) -> None:
        recording = in_flight.pop(future)
        try:
            row = future.result()
        except FutureCancelledError:
            row = _failed_row(recording, "cancelled by the scheduler")
        except Exception as error:  # KilledWorker: it took down every worker that tried it
            name = type(error).__name__
            reason = ("a worker died while analysing it, every time it was tried" if name == "KilledWorker"
                      else f"{name}: {error}")
            row = _failed_row(recording, reason)
        rows[recording.source] = row
        progress.done += 1
        if row.get("reused"):
            progress.reused += 1
        else:
            progress.analysed += 1
            progress.frames += int(row.get("frames") or 0)
        progress.failed += row.get("status") == FAILED
        if on_progress:
            on_progress(progress)

    interrupted = False
    last_table = time.monotonic()
    try:
        top_up()
        while in_flight:
            if should_stop is not None and should_stop():
                raise KeyboardInterrupt
            if not finished.has_ready():   # poll: a blocking wait would not see Ctrl-C (it may reach another thread)
                time.sleep(POLL_S)
                continue
            for future in finished.next_batch(block=False):
                take(future)
            top_up()
            if time.monotonic() - last_table > TABLE_EVERY_S:
                write_table(out, list(rows.values()))
                last_table = time.monotonic()
    except KeyboardInterrupt:
        interrupted = True
        client.cancel(list(in_flight))
    table = write_table(out, list(rows.values()))
    n_workers = len(client.scheduler_info().get("workers", {}))
    return BatchReport(list(rows.values()), progress, len(skipped), interrupted, table, n_workers)


def statuses(rows: list[dict]) -> dict[str, int]:
    """Rows per status (done, failed, skipped, pending)."""
    counts = {DONE: 0, FAILED: 0, SKIPPED: 0, PENDING: 0}
    for row in rows:
        counts[row.get("status") or PENDING] = counts.get(row.get("status") or PENDING, 0) + 1
    return counts
