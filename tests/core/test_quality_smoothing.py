"""Temporal smoothing of the displayed scores."""
from __future__ import annotations

import numpy as np
import pytest

from echoquality.core.quality import smooth_scores

NAN = np.nan


def test_first_frame_and_zero_time_constant_pass_scores_through():
    scores = np.array([3.0, NAN, 5.0, 1, 2, 3, 4, 5])
    assert np.array_equal(smooth_scores(None, scores, 0.1, 0.25), scores, equal_nan=True)
    assert np.array_equal(smooth_scores(np.full(8, 1.0), scores, 0.1, 0.0), scores, equal_nan=True)


def test_scores_move_towards_the_new_value_by_the_elapsed_time():
    previous, now = np.full(8, 2.0), np.full(8, 4.0)
    short = smooth_scores(previous, now, 0.02, 0.25)
    long = smooth_scores(previous, now, 1.0, 0.25)
    assert np.all((2.0 < short) & (short < long) & (long < 4.0))
    assert short[0] == pytest.approx(2.0 + 2.0 * (1 - np.exp(-0.02 / 0.25)))


def test_invalid_now_is_invalid_at_once_and_new_regions_start_at_their_score():
    previous = np.array([3.0, NAN, 3, 3, 3, 3, 3, 3])
    now = np.array([NAN, 5.0, 3, 3, 3, 3, 3, 3])
    out = smooth_scores(previous, now, 0.02, 0.25)
    assert np.isnan(out[0]) and out[1] == 5.0


def test_a_restart_in_time_starts_afresh():
    out = smooth_scores(np.full(8, 1.0), np.full(8, 5.0), -3.0, 0.25)
    assert np.all(out == 5.0)
