"""The shipped end-to-end quality model through the app's registry, on real E95 frames it never saw
(framing, segmentation, clean-up and regions as in the app): contract and range, a wall whose echo was
erased scores lower than the same wall intact and than the rest of its frame, and gain/TGC changes move the
scores little."""
from __future__ import annotations

import numpy as np
import pytest

from echoquality.core.cleanup import clean_labels
from echoquality.core.framing import network_view
from echoquality.core.quality import DEFAULT_METHOD, DEFAULT_QUALITY_MODEL, model_method
from echoquality.core.regions import divide_myocardium
from echoquality.core.vocabulary import N_REGIONS, default_spacing
from echoquality.inference.registry import MODELS_DIR, load_quality_model, load_segmentation_model, resolve_method
from echoquality.sources.playback import open_source
from tests.helpers import DEMO_LOOP
from training.quality.degrade import prepare_frame
from training.quality.within_frame import erase_wall

PICKS = (0, 65, 130)


@pytest.fixture(scope="module")
def model():
    if not (MODELS_DIR / DEFAULT_QUALITY_MODEL / "model.onnx").is_file():
        pytest.fail(f"models/{DEFAULT_QUALITY_MODEL}/model.onnx is missing")
    return load_quality_model(DEFAULT_QUALITY_MODEL, "onnxruntime-cpu")


@pytest.fixture(scope="module")
def frames():
    """FrameGeometry of three E95 frames with the app's regions."""
    segmentation = load_segmentation_model(backend="onnxruntime-cpu")
    out = []
    for frame in open_source(str(DEMO_LOOP)):
        if frame.index not in PICKS:
            continue
        nv = network_view(frame.image, frame.spacing or default_spacing(frame.image.shape[0]))
        labels = clean_labels(segmentation.predict(nv.image[None, None].astype(np.float32))[0], nv.sector)
        g = prepare_frame(f"e95_{frame.index}", nv.image, labels, "a4c", sector=nv.sector,
                          spacing=nv.framing.network_spacing)
        assert g is not None and g.valid[:6].all()
        out.append(g)
    return out


def _scores(model, images, region_map):
    images = np.asarray(images, np.float32)[:, None]
    return model.predict(images, np.repeat(region_map[None, None].astype(np.float32), len(images), axis=0))


def test_e2e_is_the_default_method_and_scores_each_region_where_it_lies(model):
    assert DEFAULT_METHOD == "e2e"
    _, name = resolve_method("e2e", "onnxruntime-cpu")
    assert name == "e2e"
    assert model.uses_regions and model.framing == "fan" and model.bias_correction is None


def test_contract_shape_and_range(model, frames):
    for g in frames:
        s = _scores(model, [g.image, np.zeros_like(g.image)], g.region_map)
        assert s.shape == (2, N_REGIONS) and s.dtype == np.float32 and np.all(np.isfinite(s))
        assert np.all((s[0][g.valid] > 1.5) & (s[0][g.valid] < 5.5))   # real frames: on the scale before clipping
        assert s[1][g.valid].mean() < s[0][g.valid].mean() - 1.0      # a black frame: nothing visible


@pytest.mark.parametrize("region", [0, 1, 4, 5])   # basal and mid walls, left and right
def test_erased_wall_scores_lower(model, frames, region):
    """The wall whose echo was sunk to the blood level falls by more than half a category, and several times
    more than the rest of its frame (which moves only through the global score's calibration)."""
    for i, g in enumerate(frames):
        erased, covered = erase_wall(g, region, np.random.default_rng(i))
        assert covered > 0.9
        intact, after = _scores(model, [g.image, erased], g.region_map)
        fall = intact[region] - after[region]
        others = np.delete(np.flatnonzero(g.valid), np.flatnonzero(np.flatnonzero(g.valid) == region))
        rest = float(np.mean(intact[others] - after[others]))
        assert fall > 0.5, (g.name, intact[region], after[region])
        assert fall > 2.5 * abs(rest), (g.name, fall, rest)


def test_the_app_method_passes_the_region_map(model, frames):
    from echoquality.core.regions import Regions
    g = frames[0]
    regions = Regions(g.region_map, g.valid, np.zeros(8, int), np.zeros(8), np.zeros_like(g.sector), None, g.sector)
    got = model_method(model)(g.image, regions)
    assert np.allclose(got[g.valid], _scores(model, [g.image], g.region_map)[0][g.valid], atol=1e-5)


def test_gain_tgc_and_gamma_change_scores_little(model, frames):
    for g in frames:
        x = g.image.astype(np.float32)
        depth_gain = 10 ** (np.interp(g.radius, [0, g.radius.max()], [-3, 3]) / 20)
        changed = [x * 0.8, np.clip(x * 1.2, 0, 255), 255 * (x / 255) ** 1.1, np.clip(x * depth_gain, 0, 255)]
        s = _scores(model, [x, *changed], g.region_map)
        assert np.abs(s[1:] - s[0])[:, g.valid].mean() < 0.3


def test_the_app_averages_the_quality_model_with_the_mirror_image_unless_told_not_to():
    from echoquality.core.quality import model_method, one_pass_form
    from echoquality.inference.registry import DEFAULT_QUALITY_MODEL, load_quality_model

    model = load_quality_model(DEFAULT_QUALITY_MODEL)
    assert model.mirror and model.uses_regions            # the shipped model asks for it in its metadata
    rng = np.random.default_rng(1)
    frames = rng.uniform(0, 255, (2, 1, 256, 256)).astype(np.float32)
    maps = np.zeros((2, 1, 256, 256), np.float32)
    for k in range(8):
        maps[:, :, 20 + 25 * k: 40 + 25 * k, 30 + 10 * k: 120 + 10 * k] = k + 1
    one = model.predict(frames, maps, mirror=False)
    flipped = model.predict(frames[..., ::-1], maps[..., ::-1], mirror=False)
    assert np.allclose(model.predict(frames, maps), 0.5 * (one + flipped), atol=1e-5)
    assert not np.allclose(one, flipped, atol=1e-3)        # the mirror image does score differently
    method = model_method(model)
    assert one_pass_form(method) is not method and one_pass_form(one_pass_form(method)) is one_pass_form(method)
