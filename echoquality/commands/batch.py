"""`batch ARCHIVE... --out DIR`: analyse an archive of recordings on a Dask cluster (local by default),
resumably; prints a progress bar and where the summary table is."""
from __future__ import annotations

import datetime
import sys
from pathlib import Path

from echoquality.batch.engine import BatchProgress, ClusterError, connect, run_batch, statuses
from echoquality.commands.stop import StopRequest
from echoquality.inference.backends import ModelError


class ProgressBar:
    """One line on stderr: files done, files/s and frames/s of the analysis, ETA."""

    def __init__(self):
        self.shown = 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, p: BatchProgress) -> None:
        interval = 0.2 if self.tty else 5.0
        if p.elapsed - self.shown < interval and p.done < p.total:
            return
        self.shown = p.elapsed
        files_s, frames_s, eta = p.rates()
        done = p.done / p.total if p.total else 1.0
        left = "0:00:00" if p.done >= p.total else str(datetime.timedelta(seconds=round(eta))) if eta else "?"
        line = (f"batch [{'#' * int(done * 30):<30}] {p.done}/{p.total} files ({p.reused} reused, {p.failed} failed)"
                f" {files_s:5.2f} files/s {frames_s:6.1f} frames/s ETA {left}")
        sys.stderr.write(f"\r{line}" if self.tty else line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def batch_command(archives: list[str], out_dir: str, settings, cluster: str | None = None,
                  workers: int | None = None, redo_failed: bool = False) -> int:
    """0 when every file has its row (failed files included: see the table), 128 + the signal when stopped
    (Ctrl-C, SIGTERM, SIGHUP: the recordings in flight are dropped, the table written), 2 when the cluster or
    the models cannot be used."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"error: {out}: cannot write results ({error.strerror or error})", file=sys.stderr)
        return 2
    try:
        client = connect(cluster, workers)
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    bar = ProgressBar()
    stop = StopRequest().install()   # again: starting the cluster may have replaced the handlers
    try:
        with client:
            where = cluster or f"a local cluster of {len(client.scheduler_info()['workers'])} workers"
            print(f"analysing on {where}")
            report = run_batch(archives, out, settings, client, redo_failed=redo_failed, on_progress=bar,
                               should_stop=lambda: stop.requested)
            if client.cluster is not None:
                client.cluster.close()
    except (ModelError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        bar.close()
        sys.stderr.flush()
        stop.__exit__()
    counts = statuses(report.rows)
    p = report.progress
    files_s, frames_s, _ = p.rates()
    print(f"{p.total} recordings: {p.analysed} analysed, {p.reused} reused from earlier runs; "
          f"{files_s:.2f} files/s, {frames_s:.1f} frames/s over {p.elapsed:.1f} s")
    print(f"rows: {counts['done']} done, {counts['failed']} failed, {counts['skipped']} skipped (not recordings)"
          + (f", {counts['pending']} pending" if counts["pending"] else ""))
    print(f"recordings: {report.table[0]} ({report.table[1].name})")
    print(f"frames: {out / 'frames'}")
    if report.interrupted:
        print("interrupted: finished recordings are kept; run again to do the rest", file=sys.stderr)
        return stop.exit_status
    return 0
