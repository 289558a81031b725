"""The default segmentation model on the real E95 demo loop (no labels): anatomy that hangs together."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from echoquality.inference.registry import DEFAULT_SEGMENTATION, MODELS_DIR, available_models, load_segmentation_model
from echoquality.core.preprocess import network_batch
from echoquality.sources.playback import open_source

MIN_SHARE = 0.8   # frames that must show exactly one LV, one MYO and one LA component


def loop_batch(path, size: int = 256) -> np.ndarray:
    """(N, 1, size, size) float32 network inputs of every frame of a loop, as the app makes them."""
    return network_batch((frame.image for frame in open_source(str(path))), size)


def components(mask: np.ndarray) -> int:
    """Number of 8-connected components of a boolean mask."""
    return cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1


def fan(frame: np.ndarray) -> np.ndarray:
    """The scanned sector: convex hull of the visibly non-black pixels."""
    points = np.argwhere(frame > 10)[:, ::-1].astype(np.int32)
    mask = np.zeros(frame.shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(points), 1)
    return mask.astype(bool)


@pytest.fixture(scope="module")
def e95_labels(request):
    from tests.helpers import DEMO_LOOP

    batch = loop_batch(DEMO_LOOP)
    model = load_segmentation_model(DEFAULT_SEGMENTATION)
    labels = np.concatenate([model.predict(batch[i:i + 32]) for i in range(0, len(batch), 32)])
    return batch[:, 0], labels


def test_loop_is_read_whole(e95_labels):
    frames, labels = e95_labels
    assert frames.shape == (195, 256, 256) and labels.shape == (195, 256, 256)


def test_one_lv_one_myo_one_la_in_most_frames(e95_labels):
    _, labels = e95_labels
    counts = np.array([[components(lab == s) for s in (1, 2, 3)] for lab in labels])
    share = float(np.mean((counts == 1).all(axis=1)))
    assert share >= MIN_SHARE, f"only {share:.0%} of frames have one LV, one MYO and one LA; counts {counts.tolist()}"


def test_anatomy_is_in_place(e95_labels):
    """LV above LA (apex at the top), MYO wrapping the LV, all inside the scanned sector."""
    frames, labels = e95_labels
    ys = np.arange(256)[None, :, None]
    lv, myo, la = (labels == 1), (labels == 2), (labels == 3)
    lv_y = (lv * ys).sum(axis=(1, 2)) / np.maximum(lv.sum(axis=(1, 2)), 1)
    la_y = (la * ys).sum(axis=(1, 2)) / np.maximum(la.sum(axis=(1, 2)), 1)
    assert np.mean(lv_y < la_y) >= 0.95
    assert np.all(lv.sum(axis=(1, 2)) > 0.02 * 256 * 256)
    # The myocardium surrounds the cavity: most of the LV's outline (away from the LA) touches MYO.
    grown = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((5, 5), np.uint8)) for m in myo]).astype(bool)
    rim = np.stack([lab_lv & ~cv2.erode(lab_lv.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
                    for lab_lv in lv])
    touching = (rim & grown).sum(axis=(1, 2)) / np.maximum(rim.sum(axis=(1, 2)), 1)
    assert np.median(touching) >= 0.6
    outside = ~np.stack([fan(f) for f in frames])
    assert ((labels > 0) & outside).sum() / max(1, (labels > 0).sum()) < 0.02


def test_lv_area_beats_with_the_heart(e95_labels):
    """The LV cavity area changes over the loop (systole/diastole), not a frozen mask."""
    _, labels = e95_labels
    area = (labels == 1).sum(axis=(1, 2)).astype(float)
    assert (np.percentile(area, 95) - np.percentile(area, 5)) / np.median(area) > 0.15


def test_default_model_is_registered_with_a_card():
    assert DEFAULT_SEGMENTATION in available_models()
    card = (MODELS_DIR / DEFAULT_SEGMENTATION / "README.md").read_text()
    assert "CC BY-NC-SA 4.0" in card and "Leclerc" in card and "(N, 1, 256, 256)" in card
    model = load_segmentation_model(DEFAULT_SEGMENTATION, backend="onnxruntime-cpu")
    assert model.n_classes == 4 and model.name == DEFAULT_SEGMENTATION
