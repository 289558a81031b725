"""Export the region-pooled quality network to ONNX (one packed input: frame and region map) and check it against
PyTorch."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from training.common import export_onnx

INPUT_NAME, OUTPUT_NAME = "input", "quality"


REGIONS_CHANNEL_DOC = "channel 0: grey values 0-255; channel 1: region map (0 none, 1..8 canonical order)"


class PackedInput(torch.nn.Module):
    """One input (N, 2, 256, 256): channel 0 the frame, channel 1 its region map (the app's single-input
    sessions); optionally the mean of the frame's and its mirror image's scores; optionally the global bias
    correction (slope, intercept) as a shift of the whole frame (`fit.apply_correction`, without the clip)."""

    def __init__(self, model: torch.nn.Module, mirror: bool, correction: np.ndarray | None = None):
        super().__init__()
        self.model = model
        self.mirror = mirror
        self.correction = None if correction is None else (float(correction[0]), float(correction[1]))
        self.register_buffer("codes", torch.arange(1, 9, dtype=torch.float32).view(1, 8, 1))

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        x, regions = packed[:, :1], packed[:, 1:2]
        if not self.mirror:
            scores = self.model(x, regions)
        else:
            both = self.model(torch.cat([x, torch.flip(x, dims=[3])]),
                              torch.cat([regions, torch.flip(regions, dims=[3])]))
            n = x.shape[0]
            scores = 0.5 * (both[:n] + both[n:])
        if self.correction is None:
            return scores
        present = (regions.flatten(2) == self.codes).float().amax(dim=2)                  # (N, 8)
        glob = (scores * present).sum(dim=1, keepdim=True) / present.sum(dim=1, keepdim=True).clamp(min=1)
        slope, intercept = self.correction
        return scores + (glob - intercept) / slope - glob


def export_region_model(model: torch.nn.Module, path: str | Path, mirror: bool = True, size: int = 256,
                        correction: np.ndarray | None = None) -> Path:
    """Write a region-pooled quality network as ONNX with the packed input (N, 2, size, size) float32
    (REGIONS_CHANNEL_DOC) and output (N, 8), framing=fan and mirror_average in its metadata; checked against
    PyTorch (`training.common.export_onnx`)."""
    # One pass in the graph; with `mirror` the metadata asks the app to average with the mirror image
    # (`QualityModel.raw_scores`), which it skips where it needs speed (live chains).
    packed = PackedInput(model.eval(), False, correction).eval()
    example = torch.cat([torch.rand(2, 1, size, size) * 255.0,
                         torch.randint(0, 9, (2, 1, size, size)).float()], dim=1)
    return export_onnx(packed, path, example, input_name=INPUT_NAME, output_name=OUTPUT_NAME,
                       metadata={"framing": "fan", "input_channels": REGIONS_CHANNEL_DOC,
                                 "mirror_average": "1" if mirror else "0"})
