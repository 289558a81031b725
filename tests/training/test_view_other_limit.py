"""The gate's limit on the probability of 'other': the trade-off table and the choice it makes."""
from __future__ import annotations

import numpy as np
import pytest

from training.view.other_limit import BOUNDING, LIMITS, choose, is_other, trade_off


def test_other_is_called_from_the_limit_or_when_largest():
    p = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4]])
    assert is_other(p, None).tolist() == [False, False, True]
    assert is_other(p, 0.3).tolist() == [False, True, True]
    assert is_other(p, 0.05).tolist() == [True, True, True]


def test_the_lowest_limit_within_bounds_is_chosen_and_lower_limits_stop_more():
    rng = np.random.default_rng(0)
    apical_other = np.concatenate([rng.uniform(0.0, 0.12, 98), [0.22, 0.33]])      # two unsure apical frames
    apical = np.stack([(1 - apical_other) * 0.3, (1 - apical_other) * 0.7, apical_other], axis=1)
    held = {name: apical for name in BOUNDING}
    para_other = rng.uniform(0.05, 0.95, 20)
    para = {"file": np.stack([(1 - para_other) / 2, (1 - para_other) / 2, para_other], axis=1)}
    later = {"file": np.ones(20, bool)}
    rows = trade_off(held, para, later)
    assert [r["limit"] for r in rows] == [None, *LIMITS]
    through = [r["parasternal_through_classifier"] for r in rows[1:]]
    assert through == sorted(through, reverse=True) and through[0] > through[-1]
    # 1 % of 100 frames may be rejected: the limit may stop the 0.33 frame but not also the 0.22 one; of the limits
    # allowed, the one letting the fewest parasternal copies be scored.
    allowed = [r for r in rows if r["limit"] is not None and r["limit"] >= 0.25]
    fewest = min(r["parasternal_scored"] for r in allowed)
    chosen = choose(rows, {"loop": 0.02})
    assert chosen >= 0.25 and next(r for r in rows if r["limit"] == chosen)["parasternal_scored"] == fewest
    # ... the highest of those when several let equally few through, and never within the margin of a real loop.
    flat = [dict(r, parasternal_scored=0) for r in rows]
    assert choose(flat, {"loop": 0.02}) == pytest.approx(0.5)
    assert choose(rows, {"loop": 0.28}) >= 0.38
