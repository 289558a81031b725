"""View recognition: smoothing over time, explicit views, and the trained classifier on real frames."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from echoquality.core.framing import network_view
from echoquality.core.view import (AUTO, VIEW_CLASSES, VIEW_INPUT_SIZE, ViewEstimate, ViewSmoother, checks_view,
                                   choose_view, estimate, recognise, view_confidence, view_input)

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "view_classifier" / "model.onnx"
E95 = ROOT / "data" / "samples" / "e95_a4c.mp4"
A2C, A4C, OTHER = np.eye(3)


class OnnxView:
    """The exported view classifier through onnxruntime (as the app runs it)."""
    name = "view_classifier"

    def __init__(self, path: Path = MODEL):
        import onnxruntime as ort
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input": np.asarray(batch, np.float32)})[0]


@pytest.fixture(scope="module")
def model() -> OnnxView:
    return OnnxView()


def test_a_steady_view_stays_and_a_change_takes_a_few_time_constants():
    smoother = ViewSmoother(time_constant_s=0.3)
    for i in range(10):
        got = smoother.update(A4C, i / 30)
    assert got.view == "a4c" and got.confidence == pytest.approx(1.0)
    after = [smoother.update(A2C, 10 / 30 + i / 30).view for i in range(1, 31)]
    assert after[0] == "a4c"                   # one frame does not switch the view
    assert after[-1] == "a2c"                  # a second of the new view does
    assert 3 <= after.index("a2c") <= 12       # after about ln(2)·0.3 s at 30 frames/s


def test_a_single_odd_frame_lowers_confidence_but_keeps_the_view():
    smoother = ViewSmoother()
    for i in range(30):
        smoother.update(A4C, i / 30)
    odd = smoother.update(OTHER, 1.0)
    assert odd.view == "a4c" and 0.5 < odd.confidence < 1.0


def test_time_going_backwards_or_a_long_pause_starts_afresh():
    smoother = ViewSmoother()
    smoother.update(A4C, 5.0)
    assert smoother.update(A2C, 0.0).view == "a2c"       # a new loop
    assert smoother.update(A4C, 100.0).view == "a4c"     # a long pause


def test_an_explicit_view_wins_and_auto_takes_the_recognised_one():
    recognised = ViewEstimate("a2c", 0.9, A2C)
    assert choose_view("alax", recognised) == "alax"
    assert choose_view("a4c", recognised) == "a4c"
    assert choose_view(AUTO, recognised) == "a2c"
    assert choose_view(AUTO, None) == "other"


def test_the_classifier_judges_auto_and_the_views_it_knows_and_reports_agreement_with_an_explicit_one():
    assert [checks_view(v) for v in (AUTO, "a2c", "a4c", "alax")] == [True, True, True, False]
    recognised = estimate(np.array([0.7, 0.2, 0.1]))
    assert view_confidence(AUTO, recognised) == pytest.approx(0.7)
    assert view_confidence("a4c", recognised) == pytest.approx(0.2)
    assert view_confidence("alax", recognised) == pytest.approx(0.7)


def test_estimate_and_input_shapes():
    e = estimate(np.array([0.2, 0.7, 0.1]))
    assert e.view == "a4c" and e.confidence == pytest.approx(0.7)
    x = view_input(np.full((256, 256), 200, np.uint8))
    assert x.shape == (VIEW_INPUT_SIZE, VIEW_INPUT_SIZE) and x.dtype == np.float32 and x.max() == 200
    with pytest.raises(ValueError, match="2-D network view"):
        view_input(np.zeros((256, 256, 3), np.uint8))


def test_the_classifier_names_camus_views(model, camus):
    """All 149 frames (most were in its training set: held-out accuracy is in the model card)."""
    paths = sorted((camus / "images").glob("*.png"))
    truth = [VIEW_CLASSES.index("a2c" if "_2CH" in p.name else "a4c") for p in paths]
    predicted = [int(np.argmax(recognise(model, network_view(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)).image)))
                 for p in paths]
    accuracy = np.mean(np.array(predicted) == np.array(truth))
    assert accuracy >= 0.95, accuracy


def test_the_classifier_calls_a_real_e95_loop_a4c(model):
    """A GE Vivid E95 A4C loop the classifier never saw: smoothed, at least 95 % of frames a4c."""
    capture, views = cv2.VideoCapture(str(E95)), []
    smoother = ViewSmoother()
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        probabilities = recognise(model, network_view(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)).image)
        views.append(smoother.update(probabilities, index / 60).view)
        index += 1
    assert views.count("a4c") >= 0.95 * len(views), {v: views.count(v) for v in set(views)}


def test_synthetic_non_views_are_other(model):
    rng = np.random.default_rng(3)
    menu = np.zeros((480, 640), np.uint8)
    for i in range(12):
        cv2.putText(menu, f"ITEM {i} ..........", (20, 30 + 35 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
    speckle = np.clip(rng.gamma(1.5, 30, (480, 640)), 0, 255).astype(np.uint8)
    for screen in (menu, speckle):
        assert VIEW_CLASSES[int(np.argmax(recognise(model, network_view(screen).image)))] == "other"


def test_the_canonical_image_from_a_found_fan_is_the_network_view():
    """The gate frames the fan Preprocess found instead of finding it again: the same image."""
    from echoquality.core.view import canonical_image
    capture = cv2.VideoCapture(str(E95))
    for _ in range(3):
        ok, frame = capture.read()
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        view = network_view(gray, (0.3, 0.25))
        assert np.array_equal(canonical_image(gray, view.fan, (0.3, 0.25)), view.image)


def test_other_wins_from_the_models_limit_even_when_an_apical_view_is_more_probable():
    p = np.array([0.2, 0.55, 0.25])
    assert estimate(p).view == "a4c"                                   # no limit: the most probable view
    called = estimate(p, other_limit=0.2)
    assert called.view == "other" and called.confidence == pytest.approx(0.25)
    assert estimate(p, other_limit=0.3).view == "a4c"                  # below the limit: the apical view stays
    assert estimate(np.array([0.3, 0.3, 0.4]), other_limit=0.5).view == "other"   # largest is always 'other'
    smoother = ViewSmoother(other_limit=0.2)
    for i in range(10):
        smoother.update(A4C, i / 30)
    views = [smoother.update(np.array([0.1, 0.6, 0.3]), 10 / 30 + i / 30).view for i in range(1, 31)]
    assert views[0] == "a4c" and views[-1] == "other"                  # judged on the smoothed probabilities


def test_the_shipped_classifier_carries_a_limit_and_calls_the_e95_loop_a4c_under_it():
    from echoquality.inference.registry import load_view_model
    shipped = load_view_model()
    assert shipped.other_limit is not None and 0.1 <= shipped.other_limit <= 0.5
    capture, views = cv2.VideoCapture(str(E95)), []
    smoother = ViewSmoother(other_limit=shipped.other_limit)
    for index in range(0, 195, 5):
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
        assert ok
        probabilities = recognise(shipped, network_view(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)).image)
        views.append(smoother.update(probabilities, index / 60).view)
    assert views.count("a4c") == len(views), {v: views.count(v) for v in set(views)}


@pytest.mark.parametrize("value", ["0", "1.5", "often", "nan"])
def test_a_bad_other_limit_in_the_view_models_metadata_is_a_clear_error(tmp_path, value):
    import onnx
    from onnx import helper

    from echoquality.inference.backends import ModelError
    from echoquality.inference.registry import load_view_model
    graph = onnx.load(str(MODEL))
    kept = {p.key: p.value for p in graph.metadata_props if p.key != "other_limit"}
    del graph.metadata_props[:]
    helper.set_model_props(graph, {**kept, "other_limit": value})
    onnx.save(graph, str(tmp_path / "model.onnx"))
    with pytest.raises(ModelError, match="other_limit"):
        load_view_model(tmp_path)
    helper.set_model_props(graph, kept)
    onnx.save(graph, str(tmp_path / "model.onnx"))
    assert load_view_model(tmp_path).other_limit is None            # without the entry: 'other' only when largest
