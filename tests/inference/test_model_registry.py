"""Model registry: the paper's published model folders (stand-in ONNX files of their shapes), our model, bad models."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from echoquality.inference.backends import ModelError, available_backends, open_session
from echoquality.core.segmentation import labels_from_scores
from echoquality.inference.registry import load_quality_model, load_segmentation_model
from tests.onnx_models import constant_quality, intensity_segmentation

QUALITY = (1.5, 2.5, 3.5, 4.5, 5.0, 3.0, 2.0, 4.0)


def conv_model(path: Path, in_shape: list, out_channels: int, out_size: int | None = None) -> Path:
    """A 1x1 convolution from `in_shape` to `out_channels` (strided down to `out_size` when given)."""
    cin, size = in_shape[1], in_shape[2]
    stride = size // out_size if out_size else 1
    w = numpy_helper.from_array(np.ones((out_channels, cin, 1, 1), np.float32), "w")
    node = helper.make_node("Conv", ["input", "w"], ["scores"], strides=[stride, stride])
    out = ["N", out_channels, size // stride, size // stride]
    graph = helper.make_graph([node], "conv", [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, out)], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def frames_with_bands() -> np.ndarray:
    """Two frames whose four horizontal bands have gray values 0, 85, 170 and 255."""
    rows = np.repeat(np.array([0, 85, 170, 255], np.float32), 64)
    frame = np.repeat(rows[:, None], 256, axis=1)
    return np.stack([frame, frame[::-1]])[:, None]


def test_published_segmentation_folder_gives_argmax_labels(tmp_path):
    intensity_segmentation(tmp_path / "paper_seg" / "model.onnx")
    model = load_segmentation_model(tmp_path / "paper_seg", backend="onnxruntime-cpu")
    labels = model.predict(frames_with_bands())
    assert model.n_classes == 4 and model.name == "paper_seg" and model.backend == "onnxruntime-cpu"
    assert labels.shape == (2, 256, 256) and labels.dtype == np.uint8
    assert list(labels[0, ::64, 0]) == [0, 1, 2, 3]
    assert list(labels[1, ::64, 0]) == [3, 2, 1, 0]


def test_long_axis_segmentation_with_aorta_class_is_accepted(tmp_path):
    intensity_segmentation(tmp_path / "alax" / "model.onnx", n_classes=5)
    model = load_segmentation_model(tmp_path / "alax", backend="onnxruntime-cpu")
    assert model.n_classes == 5
    assert model.predict(np.full((1, 1, 256, 256), 255, np.float32)).max() == 4


def test_quality_folder_applies_bias_correction(tmp_path):
    folder = tmp_path / "paper_quality"
    constant_quality(folder / "model.onnx", QUALITY)
    plain = load_quality_model(folder, backend="onnxruntime-cpu")
    np.testing.assert_allclose(plain.predict(np.zeros((3, 1, 256, 256), np.float32)), np.tile(QUALITY, (3, 1)),
                               rtol=1e-6)
    slope, intercept = 0.8, 0.5
    np.save(folder / "slope_intercept_bias_correction.npy", np.array([slope, intercept]))
    corrected = load_quality_model(folder, backend="onnxruntime-cpu")
    scores = corrected.predict(np.zeros((2, 1, 256, 256), np.float32))
    assert scores.shape == (2, 8)
    np.testing.assert_allclose(scores[0], (np.array(QUALITY) - intercept) / slope, rtol=1e-5)
    np.testing.assert_allclose(corrected.raw_scores(np.zeros((1, 1, 256, 256), np.float32))[0], QUALITY, rtol=1e-6)


def test_bad_bias_correction_is_rejected(tmp_path):
    folder = tmp_path / "q"
    constant_quality(folder / "model.onnx", QUALITY)
    np.save(folder / "slope_intercept_bias_correction.npy", np.array([0.0, 1.0]))
    with pytest.raises(ModelError, match="slope"):
        load_quality_model(folder, backend="onnxruntime-cpu")


@pytest.mark.parametrize("in_shape, out_channels, out_size, message", [
    (["N", 3, 256, 256], 4, None, r"input has shape .*expected \(N, 1, 256, 256\)"),
    (["N", 1, 128, 128], 4, None, r"input has shape .*expected \(N, 1, 256, 256\)"),
    (["N", 1, 256, 256], 4, 128, r"output has shape \(1, 4, 128, 128\).*expected \(N, 4 or 5, 256, 256\)"),
    (["N", 1, 256, 256], 8, None, r"output has shape \(1, 8, 256, 256\).*expected \(N, 4 or 5, 256, 256\)"),
])
def test_wrong_segmentation_shapes_say_what_was_expected(tmp_path, in_shape, out_channels, out_size, message):
    conv_model(tmp_path / "bad" / "model.onnx", in_shape, out_channels, out_size)
    with pytest.raises(ModelError, match=message):
        load_segmentation_model(tmp_path / "bad", backend="onnxruntime-cpu")


def test_segmentation_model_is_not_a_quality_model(tmp_path):
    intensity_segmentation(tmp_path / "seg" / "model.onnx")
    with pytest.raises(ModelError, match=r"quality output has shape \(1, 4, 256, 256\).*expected \(N, 8\)"):
        load_quality_model(tmp_path / "seg", backend="onnxruntime-cpu")


def test_missing_model_names_the_known_ones(tmp_path):
    with pytest.raises(ModelError, match="no such model"):
        load_segmentation_model("no_such_model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no model.onnx"):
        load_segmentation_model(tmp_path / "empty")


def test_not_an_onnx_file_is_a_clear_error(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="cannot"):
        load_segmentation_model(tmp_path / "broken", backend="onnxruntime-cpu")


def test_wrong_batch_shape_is_a_clear_error(tmp_path):
    intensity_segmentation(tmp_path / "seg" / "model.onnx")
    model = load_segmentation_model(tmp_path / "seg", backend="onnxruntime-cpu")
    with pytest.raises(ModelError, match=r"input batch has shape \(256, 256\)"):
        model.predict(np.zeros((256, 256), np.float32))


def test_fixed_batch_model_runs_any_batch(tmp_path):
    conv_model(tmp_path / "fixed" / "model.onnx", [1, 1, 256, 256], 4)
    model = load_segmentation_model(tmp_path / "fixed", backend="onnxruntime-cpu")
    assert model.predict(np.zeros((3, 1, 256, 256), np.float32)).shape == (3, 256, 256)


def test_unknown_backend_is_rejected(tmp_path):
    path = intensity_segmentation(tmp_path / "seg" / "model.onnx")
    with pytest.raises(ModelError, match="unknown backend"):
        open_session(path, "tensorflow")


@pytest.mark.parametrize("backend", available_backends())
def test_every_available_backend_gives_the_same_labels(tmp_path, backend):
    intensity_segmentation(tmp_path / "seg" / "model.onnx")
    model = load_segmentation_model(tmp_path / "seg", backend=backend)
    assert model.backend == backend
    assert list(model.predict(frames_with_bands())[0, ::64, 0]) == [0, 1, 2, 3]


def shifted_segmentation(path: Path) -> Path:
    """(N,1,256,256) -> (N,4,256,256): each class score is the pixel to the right (not mirror-symmetric)."""
    w = numpy_helper.from_array(np.tile(np.array([0, 0, 1], np.float32).reshape(1, 1, 1, 3), (4, 1, 1, 1)), "w")
    node = helper.make_node("Conv", ["input", "w"], ["scores"], pads=[0, 1, 0, 1])
    graph = helper.make_graph([node], "shift", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 256, 256])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 4, 256, 256])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def test_mirror_averaging_follows_the_model_metadata_and_can_be_switched(tmp_path):
    path = shifted_segmentation(tmp_path / "ours" / "model.onnx")
    ramp = np.repeat(np.arange(256, dtype=np.float32)[None, :], 256, axis=0)[None, None]   # grey = column
    plain = load_segmentation_model(tmp_path / "ours", backend="onnxruntime-cpu")
    assert not plain.mirror                                   # no metadata: run as it is (the paper's contract)
    single = plain.scores(ramp)
    averaged = plain.scores(ramp, mirror=True)
    assert np.allclose(single[0, 0, :, 1:-1], ramp[0, 0, :, 2:])            # the right neighbour
    assert np.allclose(averaged[0, 0, :, 1:-1], ramp[0, 0, :, 1:-1])        # mean of both neighbours: the pixel
    model = onnx.load(str(path))
    helper.set_model_props(model, {"framing": "fan", "mirror_average": "1"})
    onnx.save(model, str(path))
    ours = load_segmentation_model(tmp_path / "ours", backend="onnxruntime-cpu")
    assert ours.mirror and ours.framing == "fan"
    assert np.allclose(ours.scores(ramp), averaged)           # averaged by default
    assert np.allclose(ours.scores(ramp, mirror=False), single)
    assert np.array_equal(ours.predict(ramp, mirror=False), single.argmax(1))


def test_labels_from_scores_match_argmax_including_ties():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(2, 5, 32, 40)).astype(np.float32)
    scores[0, 2, :4] = scores[0, 1, :4]          # ties: the first class wins, as with argmax
    scores[1, :, 5] = 0.0
    assert np.array_equal(labels_from_scores(scores), scores.argmax(axis=1).astype(np.uint8))
    assert labels_from_scores(scores).dtype == np.uint8 and labels_from_scores(scores).shape == (2, 32, 40)
