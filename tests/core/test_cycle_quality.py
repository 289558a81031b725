"""Regional quality per cycle, approval thresholds, the best cycle, explanations, the live tracker."""
from __future__ import annotations

import math

import numpy as np
import pytest

from echoquality.core.cycle_quality import (
    APPROVED, BORDERLINE, REJECTED, aligned_trace, best_cycle, cycle_quality, explain, region_words, status_of,
)
from echoquality.core.cycle_tracker import CycleTracker
from echoquality.core.cycles import find_cycles
from tests.core.synthetic_cycles import area_curve, noisy

A4C = ("inferoseptal", "anterolateral")
FPS = 60
PERIODS = [0.9, 0.85, 0.95]


@pytest.fixture
def recording():
    """Three complete cycles; every region 'good' (4.0) in every frame."""
    area, _, _ = area_curve(PERIODS, FPS, duration_s=sum(PERIODS) + 0.2)
    area = noisy(area, 0.02, seed=11)
    scores = np.full((len(area), 8), 4.0)
    cycles = [c for c in find_cycles(area, FPS) if c.complete]
    assert len(cycles) == 3
    return area, scores, cycles


def qualities(scores, cycles):
    return [cycle_quality(c, scores, FPS) for c in cycles]


@pytest.mark.parametrize("score, status", [(2.5, APPROVED), (4.9, APPROVED), (2.49, BORDERLINE),
                                           (2.0, BORDERLINE), (1.99, REJECTED), (math.nan, REJECTED)])
def test_documented_thresholds(score, status):
    assert status_of(score) == status


def test_all_good_is_feasible_everywhere(recording):
    _, scores, cycles = recording
    qs = qualities(scores, cycles)
    assert all(all(q.feasible.values()) for q in qs)
    assert np.allclose(qs[0].median, 4.0)
    assert explain(qs, "EF", A4C).startswith("EF: feasible in 3 of 3 cycles, best cycle")


def test_one_wall_poor_in_two_cycles(recording):
    _, scores, cycles = recording
    for c in cycles[:2]:
        scores[c.start:c.end + 1, 3:6] = 1.8          # the right (anterolateral) wall poor
    qs = qualities(scores, cycles)
    assert [q.feasible["EF"] for q in qs] == [False, False, True]
    assert all(q.feasible["MAPSE"] for q in qs), "the annulus is not needed to be myocardium"
    assert best_cycle(qs, "EF") is qs[2]
    text = explain(qs, "EF", A4C)
    assert text.startswith("EF: feasible in 1 of 3 cycles, best cycle 3")
    assert "anterolateral wall poor in 2 of 3 cycles" in text


def test_not_feasible_names_the_region(recording):
    _, scores, cycles = recording
    scores[:, 0] = 2.2                                  # basal inferoseptal borderline everywhere
    scores[:, 7] = np.nan                               # right annulus never found
    qs = qualities(scores, cycles)
    assert qs[0].approvals["EF"].status[0] == BORDERLINE
    assert explain(qs, "EF", A4C) == "EF: not feasible, basal inferoseptal borderline in 3 of 3 cycles."
    assert explain(qs, "MAPSE", A4C) == "MAPSE: not feasible, anterolateral annulus not found in 3 of 3 cycles."


def test_poor_at_end_systole_only(recording):
    """A region good over most of the cycle but poor at ES: EF and GLS need ES, the median hides it."""
    _, scores, cycles = recording
    for c in cycles:
        scores[c.es_frame - 2:c.es_frame + 3, 2] = 1.5  # apical inferoseptal
    q = qualities(scores, cycles)[0]
    assert q.median[2] == pytest.approx(4.0)
    ef = q.approvals["EF"]
    assert ef.status[2] == REJECTED and ef.worst_phase[2] == "ES"
    assert not q.feasible["EF"] and not q.feasible["GLS"] and q.feasible["MAPSE"]


def test_best_cycle_is_the_one_with_the_best_weakest_region(recording):
    _, scores, cycles = recording
    scores[cycles[0].start:cycles[0].end + 1, :6] = 3.0
    scores[cycles[1].start:cycles[1].end + 1, :6] = 4.5
    scores[cycles[1].start:cycles[1].end + 1, 4] = 2.6  # best mean, weakest region only just ok
    scores[cycles[2].start:cycles[2].end + 1, :6] = 3.5
    qs = qualities(scores, cycles)
    assert best_cycle(qs, "EF") is qs[2]
    assert best_cycle([], "EF") is None


def test_quality_trace_aligned_to_the_cycle(recording):
    _, scores, cycles = recording
    c = cycles[0]
    span = np.arange(c.start, c.end + 1)
    scores[span, 0] = np.linspace(2.0, 4.0, span.size)      # rises evenly over the cycle
    scores[span[::2], 1] = np.nan                            # scored every other frame only
    scores[:, 7] = np.nan                                     # never scored
    trace = aligned_trace(c, scores, points=11)
    assert trace.shape == (11, 8)
    assert np.allclose(trace[:, 0], np.linspace(2.0, 4.0, 11))
    assert np.allclose(trace[:, 1], 4.0) and np.isnan(trace[:, 7]).all()


def test_no_cycles_explained():
    assert explain([], "GLS", A4C) == "GLS: no cardiac cycle found."


def test_region_words():
    assert region_words(A4C)[0] == "basal inferoseptal"
    assert region_words(("inferior", "anterior"))[3:] == ["apical anterior", "mid anterior", "basal anterior",
                                                          "inferior annulus", "anterior annulus"]


def test_live_tracker_matches_the_offline_cycles(recording):
    area, scores, cycles = recording
    scores[cycles[1].start:cycles[1].end + 1, 3:6] = 1.5     # cycle 2 not feasible for EF
    tracker = CycleTracker(FPS)
    marks = []
    for i, (a, s) in enumerate(zip(area, scores)):
        marks += tracker.push(i, i / FPS, a, s, payload=f"frame {i}")
    marks += tracker.finish()
    live = [q.cycle for q in tracker.cycles]
    complete = [c for c in live if c.complete]
    assert len(complete) >= 2                                # the first ED falls in the warm-up edge
    for c in complete:
        ref = min(cycles, key=lambda r: abs(r.ed_frame - c.ed_frame))
        assert abs(ref.ed_frame - c.ed_frame) <= 1 and abs(ref.es_frame - c.es_frame) <= 1
        assert c.heart_rate_bpm == pytest.approx(ref.heart_rate_bpm, abs=2)
    best = tracker.best["EF"]
    assert best.cycle.ed_frame != cycles[1].ed_frame and best.feasible["EF"]
    # what was attached to the frames of the best cycle is kept, to replay it
    assert tracker.best_payloads["EF"] == [f"frame {i}" for i in range(best.cycle.start, best.cycle.end + 1)]
    assert marks and {p.kind for p in marks} == {"ED", "ES"}
