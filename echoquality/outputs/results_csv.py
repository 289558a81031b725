"""results.csv: one row per analysed frame, flushed as it is written (the `analyze` output contract)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from echoquality.core.records import FrameResult
from echoquality.core.vocabulary import REGION_NAMES

CSV_COLUMNS = ("source", "frame", "time_s", "method", "view") + REGION_NAMES + ("global",)


def score_cell(value: float) -> str:
    """A score as written in the CSV: three decimals, empty when invalid (NaN)."""
    return "" if np.isnan(value) else f"{value:.3f}"


class ResultsCsv:
    """Writes `path` with the header, then one flushed row per `FrameResult`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = open(self.path, "w", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(CSV_COLUMNS)
        self._file.flush()

    def write(self, result: FrameResult) -> None:
        frame, scores = result.frame, result.scores
        self._csv.writerow([frame.source, frame.index, f"{frame.time_s:.4f}", result.method, result.view]
                           + [score_cell(s) for s in scores] + [score_cell(result.global_score)])
        self._file.flush()

    def close(self) -> None:
        self._file.close()
