"""Tiny real ONNX models built in-process, with the published models' input/output contracts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def intensity_segmentation(path: Path, n_classes: int = 4, size: int = 256) -> Path:
    """(N,1,size,size) raw 0–255 → (N,n_classes,size,size) scores: classes by intensity band."""
    centres = np.linspace(0, 255, n_classes).astype(np.float32)
    # score_c = -(x - centre_c)^2 = -x^2 + 2 c x - c^2: the nearest centre wins.
    w = numpy_helper.from_array((2 * centres).reshape(n_classes, 1, 1, 1), "w")
    b = numpy_helper.from_array(-(centres ** 2), "b")
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["scores"])]
    graph = helper.make_graph(nodes, "intensity_segmentation",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, size, size])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT,
                                                             ["N", n_classes, size, size])], [w, b])
    return _save(graph, path)


def constant_quality(path: Path, scores=(1.5, 2.5, 3.5, 4.5, 5.0, 3.0, 2.0, 4.0), size: int = 256) -> Path:
    """(N,1,size,size) → (N,8): fixed scores (plus 0 × the image mean, so the input is used)."""
    values = numpy_helper.from_array(np.array(scores, np.float32).reshape(1, 8), "values")
    zero = numpy_helper.from_array(np.zeros((1, 1), np.float32), "zero")
    nodes = [helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2, 3], keepdims=0),
             helper.make_node("Reshape", ["mean", "shape"], ["mean2"]),
             helper.make_node("MatMul", ["mean2", "zero"], ["nothing"]),
             helper.make_node("Add", ["nothing", "values"], ["quality"])]
    shape = numpy_helper.from_array(np.array([-1, 1], np.int64), "shape")
    graph = helper.make_graph(nodes, "constant_quality",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, size, size])],
                              [helper.make_tensor_value_info("quality", TensorProto.FLOAT, ["N", 8])],
                              [values, zero, shape])
    return _save(graph, path)


def heart_labels(size: int = 256) -> np.ndarray:
    """A plausible apical label map at network size: LV ellipse in a MYO ring open at the base, LA below."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    lv = ((xx - 0.5) / 0.13) ** 2 + ((yy - 0.42) / 0.3) ** 2 <= 1
    myo = (((xx - 0.5) / 0.18) ** 2 + ((yy - 0.40) / 0.35) ** 2 <= 1) & ~lv & (yy < 0.70)
    la = ((xx - 0.5) / 0.12) ** 2 + ((yy - 0.84) / 0.12) ** 2 <= 1
    labels = np.zeros((size, size), np.uint8)
    labels[myo], labels[la] = 2, 3
    labels[lv & (yy < 0.71)] = 1
    return labels


def heart_segmentation(path: Path, size: int = 256) -> Path:
    """(N,1,size,size) → (N,4,size,size): the same plausible heart (`heart_labels`) whatever the frame
    (plus 0 × the input, so the input is used); passes the app's anatomical clean-up."""
    onehot = np.eye(4, dtype=np.float32)[heart_labels(size)].transpose(2, 0, 1)[None] * 10.0
    scores = numpy_helper.from_array(onehot, "heart")
    zero = numpy_helper.from_array(np.zeros((1, 1, 1, 1), np.float32), "zero")
    nodes = [helper.make_node("Mul", ["input", "zero"], ["nothing"]),
             helper.make_node("Add", ["nothing", "heart"], ["scores"])]
    graph = helper.make_graph(nodes, "heart_segmentation",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, size, size])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 4, size, size])],
                              [scores, zero])
    return _save(graph, path)
