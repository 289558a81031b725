"""Messages name the right cause: a newer ONNX opset, a multi-line decoder error, a quality model that
outputs NaN or absurd values; RuntimeWarnings stay off the terminal."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest

from echoquality.inference.backends import ModelError, open_session
from echoquality.sources.files import error_reason
from tests.dicom_files import real_frames
from tests.onnx_models import constant_quality, heart_segmentation


def test_a_newer_opset_is_named(tmp_path):
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", onnx.defs.onnx_opset_version() + 5)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "model.onnx"))
    for backend in ("auto", "onnxruntime-cpu"):
        with pytest.raises(ModelError, match="opset") as caught:
            open_session(tmp_path / "model.onnx", backend)
        assert "map::at" not in str(caught.value)


def test_a_multi_line_reason_is_kept_whole_on_one_line():
    reason = error_reason(RuntimeError("Unable to decode the pixel data:\n  JPEG: corrupt marker 0xd9\n  at frame 3"))
    assert reason == "Unable to decode the pixel data: JPEG: corrupt marker 0xd9 at frame 3"


@pytest.mark.parametrize("value", [float("nan"), 1e30, -40.0])
def test_a_quality_model_that_outputs_no_score_fails_the_frame_visibly(tmp_path, tiny_models, capsys, caplog, value):
    from echoquality.commands.analyze import AnalysisSettings, analyze
    seg = heart_segmentation(tmp_path / "heart" / "model.onnx").parent   # a heart the gate lets through
    broken = tmp_path / "broken"
    constant_quality(broken / "model.onnx", scores=(value, 2.5, 3.5, 4.5, 5.0, 3.0, 2.0, 4.0))
    loop = tmp_path / "loop.npy"       # real apical frames: the gate stops noise before any score
    np.save(loop, real_frames(2))
    with caplog.at_level(logging.ERROR):
        analyze([str(loop)], tmp_path / "out", AnalysisSettings(str(broken), "a4c", str(seg)))
    capsys.readouterr()
    import csv
    with open(tmp_path / "out" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(r["basal_left"] == "" for r in rows)     # not 5.0, and said why:
    assert any("not a score" in r.getMessage() for r in caplog.records)


def test_runtime_warnings_stay_off_the_terminal(capsys, caplog):
    from echoquality.commands.cli import route_warnings
    saved = warnings.showwarning
    try:
        route_warnings()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            with caplog.at_level(logging.DEBUG, logger="py.warnings"):
                np.mean(np.array([], np.float32))
    finally:
        warnings.showwarning = saved
    assert capsys.readouterr().err == ""
    levels = [r.levelno for r in caplog.records if "RuntimeWarning" in r.getMessage()]
    assert levels and set(levels) == {logging.DEBUG}
