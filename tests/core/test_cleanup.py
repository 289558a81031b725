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


def test_large_maps_with_many_components_are_cleaned_the_same_way():
    """Maps above 16-bit component labels (a frame-size map with speckle-like debris) take 32-bit labels."""
    small = heart()
    dirty = np.kron(small, np.ones((4, 4), np.uint8))          # 800 x 800: labels past 65535 possible
    debris = np.zeros_like(dirty, bool)
    debris[::2, ::2] = True                                      # 160,000 isolated specks
    debris[76:724, 176:604] = False                              # none touching the heart
    out = clean_labels(np.where(debris, LA, dirty).astype(np.uint8))
    assert np.array_equal(out, np.kron(small, np.ones((4, 4), np.uint8)))
