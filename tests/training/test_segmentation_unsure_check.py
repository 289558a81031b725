"""The calibration of the gate's limit of close calls: the rule that sets it and the metadata it writes."""
from __future__ import annotations

import shutil

import pytest

from echoquality.inference.registry import DEFAULT_SEGMENTATION, load_segmentation_model, resolve_model
from training.segmentation.unsure_check import APICAL, MARGIN, NOT_APICAL, choose_limit, summary, write_limit


def row(kind: str, frames: str, values: list[float]) -> dict:
    return {"kind": kind, "frames": frames, "n": len(values), "one_pass": values, "recording": [v + 0.01 for v in values]}


def test_the_limit_sits_above_every_real_apical_frame_and_ignores_re_imaged_copies_and_negatives():
    rows = [row(APICAL, "held-out CAMUS, as stored", [0.05, 0.12, 0.20]),
            row(APICAL, "e95 (every frame)", [0.07, 0.09]),
            row(APICAL, "held-out CAMUS re-imaged x20", [0.1, 0.6, 0.9]),     # unreadable copies do not set it
            row(NOT_APICAL, "parasternal", [0.1, 0.5])]
    limit = choose_limit(rows)
    assert limit == pytest.approx(0.21 + MARGIN)                              # the recording pass's 0.21, plus margin
    stopped = {g["frames"]: g["recording"]["stopped"] for g in summary(rows, limit)}
    assert stopped["held-out CAMUS, as stored"] == 0.0 and stopped["e95 (every frame)"] == 0.0
    assert stopped["held-out CAMUS re-imaged x20"] == pytest.approx(2 / 3, abs=1e-3)
    assert stopped["parasternal"] == pytest.approx(0.5)


def test_the_limit_is_written_into_the_metadata_and_read_by_the_app(tmp_path):
    shutil.copy(resolve_model(DEFAULT_SEGMENTATION), tmp_path / "model.onnx")
    write_limit(tmp_path / "model.onnx", 0.3)
    model = load_segmentation_model(tmp_path, backend="onnxruntime-cpu")
    assert model.max_uncertain_share == pytest.approx(0.3)
    assert model.framing == "fan" and model.mirror                            # the other entries are kept
    write_limit(tmp_path / "model.onnx", 0.2)                                 # rewritten, not added twice
    assert load_segmentation_model(tmp_path, backend="onnxruntime-cpu").max_uncertain_share == pytest.approx(0.2)
