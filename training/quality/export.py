"""Export the region-pooled quality network to ONNX (one packed input: frame and region map) and check it against
PyTorch."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

INPUT_NAME, OUTPUT_NAME = "input", "quality"


def fix_output_shape(path: Path, n_outputs: int = 8) -> None:
    """Declare the output as (N, n_outputs) in the ONNX file (the exporter leaves the second dim symbolic)."""
    import onnx
    model = onnx.load(str(path))
    dims = model.graph.output[0].type.tensor_type.shape.dim
    if len(dims) == 2:
        dims[1].Clear()
        dims[1].dim_value = n_outputs
        onnx.save(model, str(path))


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
                        opset: int = 17, correction: np.ndarray | None = None) -> Path:
    """Write a region-pooled quality network as ONNX with the packed input (N, 2, size, size) float32
    (REGIONS_CHANNEL_DOC) and output (N, 8); checked against PyTorch."""
    import onnxruntime as ort
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    packed = PackedInput(model.eval(), mirror, correction).eval()
    example = torch.cat([torch.rand(2, 1, size, size) * 255.0,
                         torch.randint(0, 9, (2, 1, size, size)).float()], dim=1)
    torch.onnx.export(packed, example[:1], str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                      dynamic_axes={INPUT_NAME: {0: "N"}, OUTPUT_NAME: {0: "N"}}, opset_version=opset,
                      do_constant_folding=True, dynamo=False)
    fix_output_shape(path)
    from training.segmentation.export import set_metadata
    set_metadata(path, {"framing": "fan", "input_channels": REGIONS_CHANNEL_DOC})
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {INPUT_NAME: example.numpy()})[0]
    with torch.no_grad():
        want = packed(example).numpy()
    error = float(np.abs(got - want).max())
    if error > 1e-3:
        raise RuntimeError(f"{path}: ONNX scores differ from PyTorch by {error}")
    log.info("%s: exported, max |ONNX - PyTorch| = %.2e", path, error)
    return path
