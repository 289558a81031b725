"""Method of disks on shapes of known volume, and on the real CAMUS masks (ED above ES)."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from echoquality.core.ejection_fraction import (
    biplane_volume_ml, ejection_fraction, long_axis, volume_ml,
)
from tests.helpers import CAMUS

CAMUS_MASKS = CAMUS / "masks"


def half_ellipse(length_mm: float, radius_mm: float, spacing: tuple[float, float],
                 shape: tuple[int, int] = (256, 256), with_la: bool = True) -> np.ndarray:
    """Label map of an apical-view LV: the upper half of an ellipse (apex up, flat base), LA below."""
    sy, sx = spacing
    y, x = np.mgrid[:shape[0], :shape[1]]
    ym, xm = y * sy, x * sx
    base_y, cx = 0.8 * shape[0] * sy, 0.5 * shape[1] * sx
    inside = ((ym - base_y) / length_mm) ** 2 + ((xm - cx) / radius_mm) ** 2 <= 1
    labels = np.zeros(shape, np.uint8)
    labels[inside & (ym <= base_y)] = 1
    if with_la:
        labels[(ym > base_y) & (ym <= base_y + 30) & (np.abs(xm - cx) <= radius_mm)] = 3
    return labels


def half_spheroid_ml(length_mm: float, radius_mm: float) -> float:
    return 2 / 3 * math.pi * length_mm * radius_mm ** 2 / 1000


@pytest.mark.parametrize("spacing", [(0.5, 0.5), (0.45, 0.6)])
def test_volume_of_a_half_spheroid(spacing):
    labels = half_ellipse(80, 25, spacing)
    axis = long_axis(labels, spacing)
    assert axis.length_mm == pytest.approx(80, abs=1.5)
    assert volume_ml(labels, spacing) == pytest.approx(half_spheroid_ml(80, 25), rel=0.04)


def test_base_without_la_and_from_a_plain_mask():
    spacing = (0.5, 0.5)
    expected = half_spheroid_ml(80, 25)
    labels = half_ellipse(80, 25, spacing, with_la=False)
    assert volume_ml(labels, spacing) == pytest.approx(expected, rel=0.05)
    assert volume_ml(labels == 1, spacing) == pytest.approx(expected, rel=0.08)


def test_rotated_lv_keeps_its_volume():
    spacing = (0.5, 0.5)
    labels = half_ellipse(80, 25, spacing)
    rot = cv2.getRotationMatrix2D((128, 128), 25, 1.0)
    turned = cv2.warpAffine(labels, rot, (256, 256), flags=cv2.INTER_NEAREST)
    assert volume_ml(turned, spacing) == pytest.approx(volume_ml(labels, spacing), rel=0.04)


def test_biplane_and_ejection_fraction():
    spacing = (0.5, 0.5)
    ed4, ed2 = half_ellipse(80, 25, spacing), half_ellipse(80, 20, spacing)
    es4, es2 = half_ellipse(70, 18, spacing), half_ellipse(70, 15, spacing)
    edv = biplane_volume_ml(ed4, spacing, ed2, spacing)
    esv = biplane_volume_ml(es4, spacing, es2, spacing)
    # a half ellipsoid with semi-axes L, a, b: 2/3 pi L a b
    assert edv == pytest.approx(2 / 3 * math.pi * 80 * 25 * 20 / 1000, rel=0.04)
    assert esv == pytest.approx(2 / 3 * math.pi * 70 * 18 * 15 / 1000, rel=0.05)
    truth = 100 * (1 - (70 * 18 * 15) / (80 * 25 * 20))
    assert ejection_fraction(edv, esv) == pytest.approx(truth, abs=2.0)


def test_no_lv_gives_no_volume():
    empty = np.zeros((64, 64), np.uint8)
    assert math.isnan(volume_ml(empty, (0.5, 0.5)))
    assert math.isnan(ejection_fraction(math.nan, 20.0)) and math.isnan(ejection_fraction(0.0, 0.0))


def camus_pairs() -> list[tuple[str, Path, Path]]:
    """(patient_view, ED mask, ES mask) for every patient and view with both phases."""
    pairs = []
    for ed in sorted(CAMUS_MASKS.glob("*_ED.png")):
        es = ed.with_name(ed.name.replace("_ED.png", "_ES.png"))
        if es.exists():
            pairs.append((ed.name[:-7], ed, es))
    return pairs


@pytest.mark.skipif(not CAMUS_MASKS.is_dir(), reason="../shared/data/camus_subset is not present")
def test_camus_ed_volume_above_es_volume():
    pairs = camus_pairs()
    assert len(pairs) >= 5
    spacing = (0.3, 0.3)     # unknown (resized to 512x512); any square spacing keeps the order
    for name, ed, es in pairs:
        edv = volume_ml(cv2.imread(str(ed), cv2.IMREAD_GRAYSCALE), spacing)
        esv = volume_ml(cv2.imread(str(es), cv2.IMREAD_GRAYSCALE), spacing)
        assert edv > esv, name
        assert 5 < ejection_fraction(edv, esv) < 90, name
