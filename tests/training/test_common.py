"""Shared training helpers: patient splits, rank agreement, mirror averaging, ONNX export with metadata."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from echoquality.inference.registry import model_framing, model_metadata
from training.common import MirrorAveraged, export_onnx, patient_of, spearman, split_patients


def test_patients_and_splits_are_disjoint_and_seeded():
    assert patient_of("patient0012_4CH_ED") == "patient0012" and patient_of("loop") == "loop"
    patients = {f"patient{i:04d}" for i in range(50)}
    rest, val, test = split_patients(patients, (0.2, 0.1), seed=3)
    assert len(val) == 10 and len(test) == 5 and len(rest) == 35
    assert not (rest & val) and not (val & test) and rest | val | test == patients
    assert split_patients(patients, (0.2, 0.1), seed=3) == [rest, val, test]
    assert split_patients(patients, (0.2, 0.1), seed=4)[1] != val


def test_spearman_handles_ties_and_degenerate_input():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 2, 3], [3, 2, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3])) and np.isnan(spearman([1, 2], [2, 1]))


class LeftHeavy(nn.Module):
    """Maps: the input itself; regions: the mean of the left half in the first 3 outputs, 0 elsewhere."""

    def __init__(self, regions: bool):
        super().__init__()
        self.regions = regions

    def forward(self, x):
        if not self.regions:
            return x
        left = x[:, :, :, : x.shape[3] // 2].mean(dim=(1, 2, 3))
        return torch.stack([left] * 3 + [torch.zeros_like(left)] * 5, dim=1)


def test_mirror_averaging_puts_maps_and_regions_back():
    x = torch.zeros(1, 1, 4, 4)
    x[..., 0] = 8.0                                              # a bright left column
    maps = MirrorAveraged(LeftHeavy(False), "maps")(x)
    assert torch.equal(maps, x)                                  # a mirror-consistent model is unchanged
    regions = MirrorAveraged(LeftHeavy(True), "regions")(x)[0]
    # Frame: left walls see the bright column (mean 4); mirror: the right walls do, put back on the right.
    assert regions[:3].tolist() == [2.0, 2.0, 2.0] and regions[3:6].tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        MirrorAveraged(LeftHeavy(False), "pixels")


def test_export_checks_onnx_against_torch_and_writes_metadata(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1))
    path = export_onnx(model, tmp_path / "m" / "model.onnx", torch.rand(2, 1, 32, 32), metadata={"framing": "fan"})
    assert path.is_file() and model_framing(model_metadata(path)) == "fan"
    import onnxruntime as ort
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": np.ones((3, 1, 32, 32), np.float32)})[0]
    assert out.shape == (3, 4, 32, 32)
