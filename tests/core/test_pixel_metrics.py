"""Pixel metrics: hand-computed values, histogram matching, gain/gamma invariance, scores."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from echoquality.core.pixel_metrics import ALL_METRICS, MAPS_PATH, METRICS, TARGET_MEAN, TARGET_SD, histogram_match_gaussian, load_maps, metric_scores, metrics_from_histograms, regional_metrics
from echoquality.core.regions import Regions, divide_myocardium
from echoquality.core.vocabulary import LV, MYO, N_REGIONS
from tests.helpers import CAMUS
from tests.core.test_regions import heart


def hist(values) -> np.ndarray:
    return np.bincount(np.asarray(values, np.int64), minlength=256).astype(np.float64)


# ---------------------------------------------------------------- hand-computed values

def test_disjoint_distributions():
    region = hist([100] * 50 + [200] * 50)
    lumen = hist([50] * 100)
    m = metrics_from_histograms(region[None], lumen)
    assert m["intensity"][0] == pytest.approx(150)
    assert m["cr"][0] == pytest.approx(3.0)
    assert m["cr_db"][0] == pytest.approx(20 * np.log10(3.0))
    assert m["cnr"][0] == pytest.approx(100 / 50)          # sd region 50, lumen 0
    assert m["gcnr"][0] == pytest.approx(1.0)
    assert m["pmax"][0] == pytest.approx(1.0)


def test_identical_distributions():
    values = hist(np.arange(40, 200))
    m = metrics_from_histograms(np.stack([values, 3 * values]), values)
    for k in range(2):
        assert m["gcnr"][k] == pytest.approx(0.0)
        assert m["pmax"][k] == pytest.approx(0.5)
        assert m["cnr"][k] == pytest.approx(0.0)
        assert m["cr"][k] == pytest.approx(1.0)
        assert m["cr_db"][k] == pytest.approx(0.0)
    constant = hist([90] * 20)
    assert metrics_from_histograms(constant[None], constant)["cnr"][0] == 0.0


def test_partial_overlap_by_hand():
    # Region: half at 10, half at 40; lumen: all at 10. With 16-level bins, 10 -> bin 0, 40 -> bin 2.
    region = hist([10] * 50 + [40] * 50)
    lumen = hist([10] * 100)
    m = metrics_from_histograms(region[None], lumen)
    assert m["gcnr"][0] == pytest.approx(0.5)               # OVL = min(.5, 1) = .5
    assert m["pmax"][0] == pytest.approx(0.75)
    assert m["cnr"][0] == pytest.approx((25 - 10) / 15)     # var region = 15^2
    # Same grey levels in one 16-level bin overlap; with unit bins they do not.
    near = hist([17] * 10)
    assert metrics_from_histograms(near[None], hist([20] * 10))["gcnr"][0] == pytest.approx(0.0)
    assert metrics_from_histograms(near[None], hist([20] * 10), bins=256)["gcnr"][0] == pytest.approx(1.0)


def test_empty_region_or_lumen_gives_nan():
    m = metrics_from_histograms(np.stack([np.zeros(256), hist([100] * 5)]), hist([50] * 10))
    assert all(np.isnan(m[k][0]) for k in ALL_METRICS)
    assert np.isfinite(m["gcnr"][1])
    no_lumen = metrics_from_histograms(hist([100] * 5)[None], np.zeros(256))
    assert no_lumen["intensity"][0] == 100
    assert all(np.isnan(no_lumen[k][0]) for k in ("cr", "cr_db", "cnr", "gcnr", "pmax"))


def constructed_regions(shape=(64, 64)) -> tuple[np.ndarray, Regions]:
    """An image and hand-made regions: region 1 = 100s and 200s, lumen = 50s, region 2 invalid."""
    image = np.zeros(shape, np.uint8)
    rmap = np.zeros(shape, np.uint8)
    rmap[0:10, 0:10] = 1
    image[0:5, 0:10], image[5:10, 0:10] = 100, 200
    rmap[20:30, 0:10] = 2
    image[20:30, 0:10] = 30
    lumen = np.zeros(shape, bool)
    lumen[40:60, 40:60] = True
    image[lumen] = 50
    valid = np.zeros(N_REGIONS, bool)
    valid[0] = True
    regions = Regions(region_map=rmap, valid=valid, pixels=np.bincount(rmap.ravel(), minlength=9)[1:],
                      out_of_sector=np.zeros(N_REGIONS), lv_lumen=lumen, landmarks=None)
    return image, regions


def test_regional_metrics_without_matching_equal_hand_values():
    image, regions = constructed_regions()
    m = regional_metrics(image, regions, match_histogram=False)
    assert set(m) == set(ALL_METRICS)
    assert m["intensity"][0] == pytest.approx(150)
    assert m["cr"][0] == pytest.approx(3.0)
    assert m["cnr"][0] == pytest.approx(2.0)
    assert m["gcnr"][0] == pytest.approx(1.0)
    for k in ALL_METRICS:
        assert m[k].shape == (N_REGIONS,)
        assert np.all(np.isnan(m[k][1:])), k                 # invalid regions (2 has pixels but is invalid)
    # A frame of another size is resized to the region map; a float 0..1 frame is rescaled.
    big = cv2.resize(image, (128, 128), interpolation=cv2.INTER_NEAREST)
    assert regional_metrics(big, regions, match_histogram=False)["cr"][0] == pytest.approx(3.0)
    assert regional_metrics(image / 255.0, regions, match_histogram=False)["cr"][0] == pytest.approx(3.0, rel=0.02)


def test_nothing_to_measure():
    image, regions = constructed_regions()
    regions.region_map[:] = 0
    regions.lv_lumen[:] = False
    m = regional_metrics(image, regions)
    assert all(np.isnan(v).all() for v in m.values())


# ---------------------------------------------------------------- histogram matching

def test_histogram_matching_gives_the_target_gaussian_and_keeps_order():
    rng = np.random.default_rng(0)
    image = (rng.gamma(2.0, 20.0, (200, 200))).clip(0, 255).astype(np.uint8)
    out = histogram_match_gaussian(image)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert out.mean() == pytest.approx(TARGET_MEAN, abs=2)
    assert out.std() == pytest.approx(TARGET_SD, abs=2)
    order = np.argsort(image.ravel(), kind="stable")
    assert np.all(np.diff(out.ravel()[order].astype(int)) >= 0)   # monotone map
    mask = np.zeros(image.shape, bool)
    mask[:, :100] = True
    image[:, 100:] = 0                                             # black surround outside the mask
    inside = histogram_match_gaussian(image, mask)[mask]
    assert inside.mean() == pytest.approx(TARGET_MEAN, abs=3)
    assert inside.std() == pytest.approx(TARGET_SD, abs=3)
    assert np.array_equal(histogram_match_gaussian(image, np.zeros_like(mask)), image)


def synthetic_echo(labels: np.ndarray, tissue: float, blood: float, seed: int = 0) -> np.ndarray:
    """Speckle-like frame: Rayleigh tissue and blood levels, a black surround."""
    rng = np.random.default_rng(seed)
    level = np.full(labels.shape, 25.0)
    level[labels == LV] = blood
    level[labels == MYO] = tissue
    image = rng.rayleigh(1.0, labels.shape) * level
    return np.clip(image, 0, 255).astype(np.uint8)


def test_gain_and_gamma_barely_change_the_metrics():
    labels = heart()
    regions = divide_myocardium(labels)
    image = synthetic_echo(labels, tissue=90, blood=25)
    sector = np.ones(labels.shape, bool)
    base = regional_metrics(image, regions, sector)
    for gain, gamma in ((0.7, 1.0), (1.0, 0.75), (1.2, 1.3)):
        lut = np.clip(gain * 255 * (np.arange(256) / 255) ** gamma, 0, 255).astype(np.uint8)
        other = regional_metrics(cv2.LUT(image, lut), regions, sector)
        assert np.nanmax(np.abs(other["gcnr"] - base["gcnr"])) < 0.05
        assert np.nanmax(np.abs(other["cnr"] - base["cnr"])) < 0.1


def test_more_contrast_means_higher_metrics_and_scores():
    labels = heart()
    regions = divide_myocardium(labels)
    good = synthetic_echo(labels, tissue=100, blood=15)
    poor = synthetic_echo(labels, tissue=30, blood=25)
    mg, mp = regional_metrics(good, regions), regional_metrics(poor, regions)
    for k in ("gcnr", "cnr", "cr", "pmax"):
        assert np.all(mg[k][:6] > mp[k][:6]), k
    for metric in METRICS:
        sg, sp = metric_scores(good, regions, metric), metric_scores(poor, regions, metric)
        assert sg.shape == (N_REGIONS,)
        assert np.all((sg >= 1) & (sg <= 5)) and np.all((sp >= 1) & (sp <= 5))
        assert np.nanmean(sg[:6]) > np.nanmean(sp[:6]), metric


# ---------------------------------------------------------------- maps and scores

def test_maps_file_is_complete():
    data = json.loads(MAPS_PATH.read_text())
    maps = load_maps()
    assert set(maps) == set(METRICS)
    for name, (slope, intercept) in maps.items():
        assert np.isfinite(slope) and np.isfinite(intercept)
        assert slope > 0, name                               # a better metric value, a better score
        assert data["maps"][name]["spearman_test"] > 0.2
    assert data["gcnr_bins"] == 16


def test_scores_are_clipped_and_nan_where_invalid():
    image, regions = constructed_regions()
    maps = {m: (100.0, 0.0) for m in METRICS}
    s = metric_scores(image, regions, "gcnr", maps=maps)
    assert s[0] == 5.0 and np.all(np.isnan(s[1:]))
    s = metric_scores(image, regions, "cnr", maps={"cnr": (-100.0, 0.0)})
    assert s[0] == 1.0
    with pytest.raises(ValueError, match="unknown metric"):
        metric_scores(image, regions, "snr")
    with pytest.raises(ValueError, match="no linear map"):
        metric_scores(image, regions, "cr", maps={"gcnr": (1.0, 0.0)})


def test_bad_maps_file(tmp_path):
    bad = tmp_path / "maps.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read"):
        load_maps(bad)
    with pytest.raises(ValueError, match="cannot read"):
        load_maps(tmp_path / "missing.json")


@pytest.mark.skipif(not CAMUS.is_dir(), reason="CAMUS subset not available")
def test_camus_frames_have_finite_metrics_for_valid_regions():
    from echoquality.core.sector import sector_mask
    for path in sorted((CAMUS / "masks").glob("*.png"))[::15]:
        labels = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (256, 256), interpolation=cv2.INTER_NEAREST)
        image = cv2.resize(cv2.imread(str(CAMUS / "images" / path.name), cv2.IMREAD_GRAYSCALE), (256, 256),
                           interpolation=cv2.INTER_AREA)
        sector = sector_mask(image)
        regions = divide_myocardium(labels, sector=sector)
        m = regional_metrics(image, regions, sector)
        for k in ALL_METRICS:
            assert np.all(np.isfinite(m[k][regions.valid])), (path.name, k)
            assert np.all(np.isnan(m[k][~regions.valid]))
        assert np.all((m["gcnr"][regions.valid] >= 0) & (m["gcnr"][regions.valid] <= 1))
        # The myocardium is brighter than the blood pool in these frames.
        assert np.nanmedian(m["cnr"][:6]) > 0
        # Without an explicit sector, the one kept in the regions is used.
        assert np.allclose(regional_metrics(image, regions)["gcnr"], m["gcnr"], equal_nan=True)
