"""The shipped end-to-end quality model through the app's registry: contract, range, and a monotonic
response on real CAMUS frames (a region strongly degraded scores lower than the same region clean)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from echoquality.inference.registry import MODELS_DIR, load_quality_model
from echoquality.core.quality import DEFAULT_METHOD, DEFAULT_QUALITY_MODEL
from echoquality.inference.registry import resolve_method
from echoquality.core.vocabulary import N_REGIONS
from training.quality.degrade import apply_operation, prepare_frame, region_means, wedge

# Patients of the model's held-out test split (see models/<name>/training.json).
FRAMES = ("patient0055_4CH_ED", "patient0102_4CH_ES", "patient0049_2CH_ES")


@pytest.fixture(scope="module")
def model():
    if not (MODELS_DIR / DEFAULT_QUALITY_MODEL / "model.onnx").is_file():
        pytest.fail(f"models/{DEFAULT_QUALITY_MODEL}/model.onnx is missing")
    return load_quality_model(DEFAULT_QUALITY_MODEL, "onnxruntime-cpu")


def _frame(camus, name):
    image = cv2.imread(str(camus / "images" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    labels = cv2.imread(str(camus / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    return prepare_frame(name, image, labels, "a2c" if "2CH" in name else "a4c")


def test_e2e_is_the_default_method():
    assert DEFAULT_METHOD == "e2e"
    method, name = resolve_method("e2e", "onnxruntime-cpu")
    assert name == "e2e"


def test_contract_shape_and_range(model, camus):
    batch = np.stack([_frame(camus, n).image for n in FRAMES])[:, None].astype(np.float32)
    scores = model.predict(batch)
    assert scores.shape == (len(FRAMES), N_REGIONS) and scores.dtype == np.float32
    assert np.all(np.isfinite(scores))
    assert np.all((scores > 0.0) & (scores < 6.0))
    assert model.bias_correction is not None
    # a black frame (nothing visible) scores below the real frames
    black = model.predict(np.zeros((1, 1, 256, 256), np.float32))
    assert black.mean() < scores.mean() - 0.5


@pytest.mark.parametrize("name", FRAMES)
@pytest.mark.parametrize("region", [1, 2, 4])   # mid_left, apical_left, mid_right
def test_shadowed_region_scores_lower(model, camus, name, region):
    g = _frame(camus, name)
    if not g.valid[region]:
        pytest.skip("region invalid on this frame")
    rng = np.random.default_rng(region)
    w = wedge(g, region, rng, from_transducer=True)
    out, _ = apply_operation(g.image.astype(np.float32), "shadow", w, 1.0, g, rng)
    assert region_means(g, w)[region] > 0.6
    clean, shadowed = model.predict(np.stack([g.image, np.clip(out, 0, 255)])[:, None].astype(np.float32))
    assert shadowed[region] < clean[region] - 1.0


def test_gain_and_gamma_change_scores_little(model, camus):
    images = np.stack([_frame(camus, n).image for n in FRAMES]).astype(np.float32)
    base = model.predict(images[:, None])
    for changed in (np.clip(images * 1.2, 0, 255), images * 0.8, 255 * (images / 255) ** 1.1):
        assert np.abs(model.predict(changed[:, None].astype(np.float32)) - base).mean() < 0.4
