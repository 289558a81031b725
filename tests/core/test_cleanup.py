"""Anatomical clean-up of label maps."""
from __future__ import annotations

import numpy as np

from echoquality.core.cleanup import LA, LV, MYO, clean_labels


def heart() -> np.ndarray:
    lab = np.zeros((200, 200), np.uint8)
    lab[30:130, 60:140] = MYO
    lab[40:125, 75:125] = LV
    lab[130:180, 70:130] = LA
    return lab


def test_a_clean_heart_is_kept():
    lab = heart()
    assert np.array_equal(clean_labels(lab), lab)


def test_stray_blobs_outside_the_fan_and_in_wrong_places_are_removed():
    lab = heart()
    dirty = lab.copy()
    dirty[2:12, 2:12] = LV             # a corner blob (outside the fan)
    dirty[185:195, 5:25] = MYO         # wall far from the LV
    dirty[5:20, 150:190] = LA          # an "atrium" above the ventricle
    dirty[60:70, 90:100] = 0           # a hole in the LV
    sector = np.ones_like(lab, bool)
    sector[:15, :15] = False
    out = clean_labels(dirty, sector)
    assert np.array_equal(out, lab)


def test_no_lv_means_nothing_is_kept():
    lab = heart()
    lab[lab == LV] = 0
    assert not clean_labels(lab).any()


def test_outside_the_sector_is_background():
    lab = heart()
    sector = np.zeros_like(lab, bool)
    sector[:, :100] = True
    out = clean_labels(lab, sector)
    assert not out[:, 100:].any() and (out == LV).any() and (out == LA).any()
