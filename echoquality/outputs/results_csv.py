"""results.csv: one row per analysed frame, flushed as it is written (the `analyze` output contract).

Each row goes to the file in one write; when a write fails (a full disk, a removed drive) the
file is cut back to its last whole row and `OutputError` says so, so rows already written stay
whole and readable.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from echoquality.core.records import FrameResult
from echoquality.core.vocabulary import REGION_NAMES

CSV_COLUMNS = ("source", "frame", "time_s", "method", "view") + REGION_NAMES + ("global", "status")


class OutputError(OSError):
    """An output file could not be written; the message names it and the cause, on one line."""


def output_error(path: Path | str, error: OSError) -> OutputError:
    """OutputError naming `path` and the cause of `error` (e.g. 'No space left on device')."""
    return OutputError(error.errno, f"{path}: cannot write ({error.strerror or error})")


def score_cell(value: float) -> str:
    """A score as written in the CSV: three decimals, empty when invalid (NaN)."""
    return "" if np.isnan(value) else f"{value:.3f}"


def csv_line(values) -> bytes:
    """One CSV row as the bytes written to the file."""
    text = io.StringIO()
    csv.writer(text).writerow(values)
    return text.getvalue().encode("utf-8")


class RowFile:
    """A CSV file written one whole row at a time (unbuffered: one write per row, then the next)."""

    def __init__(self, path: Path, header) -> None:
        self.path = Path(path)
        try:
            # O_NONBLOCK: a FIFO put in its place fails at once instead of waiting for a reader
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NONBLOCK
            self._fd = os.open(self.path, flags, 0o644)
        except OSError as error:
            raise output_error(self.path, error) from None
        self.length = 0
        self.write_row(header)

    def write_row(self, values) -> None:
        data = csv_line(values)
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as error:
            try:
                os.ftruncate(self._fd, self.length)   # no half row: back to the last whole one
                os.lseek(self._fd, self.length, os.SEEK_SET)
            except OSError:
                pass
            raise output_error(self.path, error) from None
        self.length += len(data)

    def sync(self) -> None:
        """Make the rows written so far durable (fsync)."""
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            except OSError as error:
                raise output_error(self.path, error) from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class ResultsCsv(RowFile):
    """Writes `path` with the header, then one whole row per `FrameResult`."""

    def __init__(self, path: Path):
        super().__init__(path, CSV_COLUMNS)

    def write(self, result: FrameResult) -> None:
        frame, scores = result.frame, result.scores
        self.write_row([frame.source, frame.index, f"{frame.time_s:.4f}", result.method, result.view]
                       + [score_cell(s) for s in scores] + [score_cell(result.global_score), result.status])
