"""Myocardium division: properties on generated hearts, degenerate masks, real CAMUS masks."""
from __future__ import annotations


import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from echoquality.core.regions import ANNULUS_RADIUS_MM, Landmarks, divide_myocardium
from echoquality.core.vocabulary import AO, LA, LV, MYO, N_REGIONS, REGION_NAMES
from tests.helpers import CAMUS

MIRROR = np.array([0, 6, 5, 4, 3, 2, 1, 8, 7], np.uint8)  # region k <-> its left/right partner
BASAL_LEFT, MID_LEFT, APICAL_LEFT, APICAL_RIGHT, MID_RIGHT, BASAL_RIGHT, ANNULUS_LEFT, ANNULUS_RIGHT = range(1, 9)


def heart(size: int = 256, cx: int = 128, base_y: int = 175, lv_a: int = 28, lv_b: int = 75,
          wall: int = 10, la_b: int = 30, angle: float = 0.0, la: bool = True) -> np.ndarray:
    """A heart-like label map: half-ellipse LV, MYO cup open at the base, LA below it."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    lv = (((yy - base_y) / lv_b) ** 2 + ((xx - cx) / lv_a) ** 2 <= 1) & (yy <= base_y)
    outer = (((yy - base_y) / (lv_b + wall)) ** 2 + ((xx - cx) / (lv_a + wall)) ** 2 <= 1) & (yy <= base_y)
    outer |= (np.abs(xx - cx) <= lv_a + wall * 0.8) & (yy > base_y) & (yy <= base_y + wall // 2) & \
        (np.abs(xx - cx) > lv_a)
    labels = np.zeros((size, size), np.uint8)
    labels[outer] = MYO
    labels[lv] = LV
    if la:
        atrium = (((yy - base_y - la_b // 2) / la_b) ** 2 + ((xx - cx) / (lv_a + wall * 0.5)) ** 2 <= 1) & (yy > base_y)
        labels[atrium & (labels == 0)] = LA
    if angle:
        rot = cv2.getRotationMatrix2D((cx, base_y - lv_b / 2), angle, 1.0)
        labels = cv2.warpAffine(labels, rot, (size, size), flags=cv2.INTER_NEAREST)
    return labels


hearts = st.builds(
    dict, cx=st.integers(100, 156), base_y=st.integers(150, 200), lv_a=st.integers(18, 40),
    lv_b=st.integers(45, 90), wall=st.integers(6, 14), la_b=st.integers(15, 35),
    angle=st.floats(-20, 20, allow_nan=False))


def plausible(p: dict) -> bool:
    """The heart fits in a 256 image with room around it."""
    return p["base_y"] - p["lv_b"] - p["wall"] > 4 and p["base_y"] + 2 * p["la_b"] < 250 and p["lv_b"] > p["lv_a"] + 8


def centroid(region_map: np.ndarray, k: int) -> np.ndarray:
    ys, xs = np.nonzero(region_map == k)
    return np.array([ys.mean(), xs.mean()])


# ---------------------------------------------------------------- properties on generated hearts

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hearts)
def test_regions_disjoint_inside_and_covering_the_myocardium(p):
    assume(plausible(p))
    labels = heart(**p)
    r = divide_myocardium(labels)
    assert r.region_map.dtype == np.uint8 and r.region_map.shape == labels.shape
    assert r.region_map.max() <= N_REGIONS
    assert r.valid.all(), (r.valid, r.out_of_sector)
    myocardial = (r.region_map >= 1) & (r.region_map <= 6)
    assert np.all(labels[myocardial] == MYO), "myocardial regions must lie in the MYO"
    # Every MYO pixel belongs to a myocardial region or, where the discs cover it, an annulus disc.
    assert np.all(r.region_map[labels == MYO] > 0), "MYO pixels left without a region"
    assert np.all(r.pixels[:6] > 0)
    # The LV lumen is background: no region pixel, only LV pixels.
    assert not np.any(r.lv_lumen & (r.region_map > 0))
    assert np.all(labels[r.lv_lumen] == LV)
    assert r.landmarks.base_from == "LA"


@settings(max_examples=20, deadline=None)
@given(hearts)
def test_mirroring_swaps_left_and_right(p):
    assume(plausible(p))
    labels = heart(**p)
    r = divide_myocardium(labels)
    m = divide_myocardium(np.fliplr(labels).copy())
    expected = MIRROR[np.fliplr(r.region_map)]
    for k in range(1, 7):
        a, b = m.region_map == k, expected == k
        iou = (a & b).sum() / max((a | b).sum(), 1)
        assert iou > 0.5, (REGION_NAMES[k - 1], iou)  # a swap would give about 0
    # Pixels differ only along the cuts (the apex column, distance ties, contour tracing).
    assert (m.region_map != expected).sum() <= 0.12 * (labels == MYO).sum()
    w = labels.shape[1]
    assert abs(m.landmarks.annulus_left[1] - (w - 1 - r.landmarks.annulus_right[1])) <= 2
    assert abs(m.landmarks.annulus_right[1] - (w - 1 - r.landmarks.annulus_left[1])) <= 2


@settings(max_examples=20, deadline=None)
@given(hearts)
def test_basal_regions_are_nearest_the_annulus(p):
    assume(plausible(p))
    r = divide_myocardium(heart(**p))
    lm = r.landmarks
    for annulus, order in ((lm.annulus_left, (BASAL_LEFT, MID_LEFT, APICAL_LEFT)),
                           (lm.annulus_right, (BASAL_RIGHT, MID_RIGHT, APICAL_RIGHT))):
        d = [np.linalg.norm(centroid(r.region_map, k) - np.array(annulus)) for k in order]
        assert d[0] < d[1] < d[2], d
    assert lm.annulus_left[1] < lm.annulus_right[1]
    # The apex is the border point furthest from the base: above both annulus points here.
    assert lm.apex[0] < min(lm.annulus_left[0], lm.annulus_right[0])


@settings(max_examples=20, deadline=None)
@given(st.floats(0.25, 0.9), st.floats(0.25, 0.9))
def test_annulus_discs_have_the_expected_area(sy, sx):
    r = divide_myocardium(heart(), spacing=(sy, sx))
    expected = np.pi * ANNULUS_RADIUS_MM ** 2 / (sy * sx)
    for k in (ANNULUS_LEFT, ANNULUS_RIGHT):
        n = (r.region_map == k).sum()
        assert abs(n - expected) <= 0.2 * expected + 4, (k, n, expected)
        ys, xs = np.nonzero(r.region_map == k)
        # An ellipse: extent in mm is about 4 mm both ways.
        assert abs((ys.max() - ys.min() + 1) * sy - 4) <= 2 * sy + 0.01
        assert abs((xs.max() - xs.min() + 1) * sx - 4) <= 2 * sx + 0.01


def test_default_spacing_is_used_when_unknown():
    a = divide_myocardium(heart(), spacing=None)
    b = divide_myocardium(heart(), spacing=(160 / 256, 160 / 256))
    assert np.array_equal(a.region_map, b.region_map)


def test_the_six_regions_split_each_side_into_equal_thirds():
    r = divide_myocardium(heart(angle=0))
    lengths = r.pixels[:6]
    # A symmetric heart with an even wall: the six regions have similar sizes.
    assert lengths.min() > 0.5 * lengths.max(), lengths
    assert np.all(np.isfinite(r.landmarks.endo_cuts)) and np.all(np.isfinite(r.landmarks.epi_points))
    # Epicardial points lie on MYO, outside the endocardial ones.
    for y, x in r.landmarks.epi_points:
        assert heart()[int(y), int(x)] == MYO


# ---------------------------------------------------------------- degenerate masks

@pytest.mark.parametrize("labels", [
    np.zeros((256, 256), np.uint8),
    np.zeros((1, 1), np.uint8),
    np.full((2, 2), LV, np.uint8),
    np.full((3, 3), LV, np.uint8),
    np.full((256, 256), MYO, np.uint8),
    np.full((256, 256), LV, np.uint8),
    np.where(heart() == LV, LV, 0).astype(np.uint8),     # LV only
    np.where(heart() == MYO, MYO, 0).astype(np.uint8),   # MYO only
    np.where(heart() == LA, LA, 0).astype(np.uint8),     # LA only
], ids=["empty", "1x1", "2x2 LV", "3x3 LV", "all MYO", "all LV", "LV only", "MYO only", "LA only"])
def test_degenerate_masks_give_invalid_regions_without_error(labels):
    r = divide_myocardium(labels)
    assert r.region_map.shape == labels.shape
    assert not r.valid.any()
    assert r.valid.shape == r.pixels.shape == r.out_of_sector.shape == (N_REGIONS,)


def test_single_pixel_and_tiny_hearts():
    labels = np.zeros((256, 256), np.uint8)
    labels[100, 100] = LV
    labels[99, 100] = MYO
    assert not divide_myocardium(labels).valid.any()
    small = cv2.resize(heart(), (24, 24), interpolation=cv2.INTER_NEAREST)
    r = divide_myocardium(small)  # may or may not divide; must not fail
    assert r.region_map.shape == (24, 24)


def test_missing_la_uses_the_opening_of_the_myocardium():
    r = divide_myocardium(heart(la=False))
    assert r.landmarks is not None and r.landmarks.base_from == "MYO"
    assert r.valid.all()
    ref = divide_myocardium(heart())
    for a, b in ((r.landmarks.annulus_left, ref.landmarks.annulus_left),
                 (r.landmarks.annulus_right, ref.landmarks.annulus_right)):
        assert np.hypot(a[0] - b[0], a[1] - b[1]) <= 4


def test_open_myocardium_invalidates_the_region_without_wall():
    labels = heart()
    ref = divide_myocardium(labels)
    open_wall = labels.copy()
    open_wall[(ref.region_map == MID_RIGHT) & (labels == MYO)] = 0
    r = divide_myocardium(open_wall)
    assert not r.valid[MID_RIGHT - 1]
    assert r.valid[[BASAL_LEFT - 1, MID_LEFT - 1, APICAL_LEFT - 1, ANNULUS_LEFT - 1]].all()


def test_holes_and_extra_components_change_little():
    labels = heart()
    ref = divide_myocardium(labels)
    rng = np.random.default_rng(0)
    noisy = labels.copy()
    holes = rng.random(labels.shape) < 0.03
    noisy[holes & (labels != 0)] = 0                      # pepper holes in every structure
    noisy[20:30, 20:30] = LV                              # a second LV blob
    noisy[230:240, 10:25] = MYO                           # a stray MYO blob
    noisy[5:15, 200:215] = LA                             # a stray LA blob
    r = divide_myocardium(noisy)
    assert r.valid.all()
    for k in range(1, 7):
        a, b = r.region_map == k, ref.region_map == k
        assert (a & b).sum() / (a | b).sum() > 0.8
    assert not np.any(r.region_map[230:240, 10:25])       # the stray MYO is not a region
    assert not np.any(r.lv_lumen[20:30, 20:30])           # nor the second LV part of the lumen


def test_sector_removes_outside_parts_and_invalidates_mostly_outside_regions():
    labels = heart()
    ref = divide_myocardium(labels)
    sector = np.ones(labels.shape, bool)
    apex_y = int(ref.landmarks.apex[0])
    sector[:apex_y + 12] = False                          # the fan starts below the apex
    r = divide_myocardium(labels, sector=sector)
    assert not np.any(r.region_map[~sector])
    assert not np.any(r.lv_lumen[~sector])
    assert not r.valid[APICAL_LEFT - 1] and not r.valid[APICAL_RIGHT - 1]
    assert r.valid[[BASAL_LEFT - 1, BASAL_RIGHT - 1, ANNULUS_LEFT - 1, ANNULUS_RIGHT - 1]].all()
    assert np.all(r.out_of_sector[[APICAL_LEFT - 1, APICAL_RIGHT - 1]] > 0.5)
    assert np.all(r.pixels <= ref.pixels)
    # A sector mask of another size is resized to the label map.
    small = cv2.resize(sector.astype(np.uint8), (128, 128), interpolation=cv2.INTER_NEAREST)
    r2 = divide_myocardium(labels, sector=small)
    assert np.array_equal(r2.valid, r.valid)


def test_heart_touching_the_image_edge():
    labels = np.roll(heart(), -110, axis=0)               # apex pushed out of the top
    labels[-110:] = 0
    r = divide_myocardium(labels)
    assert r.region_map.shape == labels.shape
    assert not r.valid[[APICAL_LEFT - 1, APICAL_RIGHT - 1]].all()
    empty_sector = divide_myocardium(heart(), sector=np.zeros((256, 256), bool))
    assert not empty_sector.valid.any()


def test_odd_dtypes_and_values():
    labels = heart().astype(np.int64)
    labels[0, 0] = 300
    labels[0, 1] = -5
    r = divide_myocardium(labels)
    assert r.valid.all()
    assert divide_myocardium(heart().astype(np.float32)).valid.all()
    with pytest.raises(ValueError):
        divide_myocardium(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError):
        divide_myocardium(heart(), spacing=(0.0, 1.0))


def test_long_axis_view_counts_the_aorta_as_base():
    labels = heart()
    # An aorta next to the LA on the right of the base, touching the LV.
    ys, xs = np.nonzero(labels == LA)
    labels[(labels == LA) & (np.arange(256)[None, :] > 128)] = AO
    r = divide_myocardium(labels, view="alax")
    assert r.valid.all()
    assert r.landmarks.base_from == "LA+AO"
    ref = divide_myocardium(heart())
    assert abs(r.landmarks.annulus_right[1] - ref.landmarks.annulus_right[1]) <= 3


def test_temporal_smoothing_moves_landmarks_part_way():
    a = divide_myocardium(heart(cx=120))
    b_raw = divide_myocardium(heart(cx=130))
    b = divide_myocardium(heart(cx=130), previous=a.landmarks, smoothing=0.5)
    for name in ("annulus_left", "annulus_right", "apex"):
        pa, pr, ps = getattr(a.landmarks, name), getattr(b_raw.landmarks, name), getattr(b.landmarks, name)
        assert abs(ps[1] - (pa[1] + pr[1]) / 2) <= 1.0, name
    assert b.valid.all()
    none_prev = divide_myocardium(heart(), previous=Landmarks(), smoothing=0.5)
    assert none_prev.valid.all()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.sampled_from([16, 64, 200, 256]), st.sampled_from(["a4c", "alax"]))
def test_random_label_maps_never_fail(seed, size, view):
    """Random blobs of random labels, random sector, noise: invariants hold, nothing raises."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(0, 12)):
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = tuple(int(v) for v in rng.integers(1, max(2, size // 3), 2))
        cv2.ellipse(labels, centre, axes, float(rng.uniform(0, 180)), 0, 360, int(rng.integers(0, 5)), -1)
    noise = rng.random(labels.shape) < rng.uniform(0, 0.2)
    labels[noise] = rng.integers(0, 5, noise.sum())
    if rng.random() < 0.5:
        labels = np.where(rng.random(labels.shape) < 0.5, labels, heart(size=256)[:size, :size])
    sector = rng.random(labels.shape) < 0.9 if rng.random() < 0.5 else None
    spacing = (float(rng.uniform(0.1, 2)), float(rng.uniform(0.1, 2))) if rng.random() < 0.5 else None
    r = divide_myocardium(labels, spacing=spacing, sector=sector, view=view)
    assert r.region_map.shape == labels.shape and r.region_map.max() <= N_REGIONS
    myocardial = (r.region_map >= 1) & (r.region_map <= 6)
    assert np.all(labels[myocardial] == MYO)
    assert np.all(labels[r.lv_lumen] == LV) and not np.any(r.lv_lumen & (r.region_map > 0))
    if sector is not None:
        assert not np.any(r.region_map[~sector]) and not np.any(r.lv_lumen[~sector])
    assert np.array_equal(r.pixels, np.bincount(r.region_map.ravel(), minlength=N_REGIONS + 1)[1:])
    assert np.all(r.pixels[r.valid] >= 4)
    assert np.all(r.out_of_sector[r.valid] <= 0.5)


# ---------------------------------------------------------------- real CAMUS masks

@pytest.mark.skipif(not CAMUS.is_dir(), reason="CAMUS subset not available")
def test_camus_masks_divide_sensibly():
    from echoquality.core.sector import sector_mask
    masks = sorted((CAMUS / "masks").glob("*.png"))
    assert len(masks) == 149
    all_valid = 0
    for path in masks:
        labels = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (256, 256), interpolation=cv2.INTER_NEAREST)
        image = cv2.resize(cv2.imread(str(CAMUS / "images" / path.name), cv2.IMREAD_GRAYSCALE), (256, 256),
                           interpolation=cv2.INTER_AREA)
        sector = sector_mask(image)
        r = divide_myocardium(labels, sector=sector)
        assert r.landmarks is not None, path.name
        myocardial = (r.region_map >= 1) & (r.region_map <= 6)
        assert np.all(labels[myocardial] == MYO), path.name
        # Invalid only because mostly outside the fan.
        assert np.all(r.valid | (r.out_of_sector > 0.5)), (path.name, r.valid, r.out_of_sector)
        lm = r.landmarks
        assert lm.annulus_left[1] < lm.annulus_right[1] and lm.apex[0] < max(lm.annulus_left[0], lm.annulus_right[0])
        all_valid += r.valid.all()
    assert all_valid >= 135
