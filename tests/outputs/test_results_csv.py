"""results.csv: the column contract, empty cells for invalid regions, the global mean of the valid ones."""
from __future__ import annotations

import csv

import numpy as np

from echoquality.core.records import Frame, FrameResult
from echoquality.outputs.results_csv import CSV_COLUMNS, ResultsCsv


def test_rows_follow_the_contract_and_are_on_disk_at_once(tmp_path):
    writer = ResultsCsv(tmp_path / "results.csv")
    frame = Frame(np.zeros((4, 4), np.uint8), 3, 0.05, (0.3, 0.3), "loop.mp4")
    scores = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 3.0, np.nan, 2.5])
    writer.write(FrameResult(frame, scores=scores, method="gcnr", view="a2c"))
    rows = list(csv.reader((tmp_path / "results.csv").open()))      # before close: flushed per row
    writer.close()
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1] == ["loop.mp4", "3", "0.0500", "gcnr", "a2c", "1.000", "2.000", "", "4.000", "5.000", "3.000",
                       "", "2.500", "2.917", "ok"]
