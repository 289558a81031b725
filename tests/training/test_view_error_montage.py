"""The view classifier's mistake montage: grades read from a CAMUS-style csv, mistakes counted per grade."""
from pathlib import Path

import numpy as np
import pytest

from training.view.error_montage import caption_tile, errors_by_grade, expert_grades, montage

SHARED_CAMUS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "camus_subset"


def test_errors_by_grade_counts_frames_and_mistakes_per_grade():
    grades = {"a": "Good", "b": "Good", "c": "Poor"}
    got = errors_by_grade(["a", "b", "c", "d"], {"b", "c"}, grades)
    assert got == {"Good": {"frames": 2, "wrong": 1}, "Poor": {"frames": 1, "wrong": 1},
                   "unknown": {"frames": 1, "wrong": 0}}


def test_expert_grades_read_the_real_camus_labels(tmp_path):
    if not SHARED_CAMUS.is_dir():
        pytest.skip("../shared/data/camus_subset is not present")
    grades = expert_grades(SHARED_CAMUS)
    assert len(grades) == 149 and set(grades.values()) == {"Good", "Medium", "Poor"}
    assert expert_grades(tmp_path) == {}


def test_montage_pads_rows_and_keeps_tiles():
    tile = caption_tile(np.full((256, 256), 100, np.uint8), ["one", "two"])
    out = montage([tile] * 7, per_row=5)
    assert out.shape == (2 * tile.shape[0], 5 * tile.shape[1], 3)
    assert out[:tile.shape[0], :tile.shape[1]].mean() > 0 and out[tile.shape[0]:, 2 * tile.shape[1]:].max() == 0
