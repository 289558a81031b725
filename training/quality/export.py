"""Export the quality network to ONNX (the published-folder contract) and check it against PyTorch."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

INPUT_NAME, OUTPUT_NAME = "input", "quality"


def export_onnx(model: torch.nn.Module, path: str | Path, size: int = 256, opset: int = 17) -> Path:
    """Write `model` as ONNX: input (N,1,size,size) float32 raw 0-255, output (N,8) scores on the 1-5 scale."""
    import onnxruntime as ort
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    example = torch.rand(2, 1, size, size) * 255.0
    torch.onnx.export(model, example[:1], str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                      dynamic_axes={INPUT_NAME: {0: "N"}, OUTPUT_NAME: {0: "N"}}, opset_version=opset,
                      do_constant_folding=True, dynamo=False)
    fix_output_shape(path)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {INPUT_NAME: example.numpy()})[0]
    with torch.no_grad():
        want = model(example).numpy()
    error = float(np.abs(got - want).max())
    if error > 1e-3:
        raise RuntimeError(f"{path}: ONNX scores differ from PyTorch by {error}")
    log.info("%s: exported, max |ONNX - PyTorch| = %.2e", path, error)
    return path


def fix_output_shape(path: Path, n_outputs: int = 8) -> None:
    """Declare the output as (N, n_outputs) in the ONNX file (the exporter leaves the second dim symbolic)."""
    import onnx
    model = onnx.load(str(path))
    dims = model.graph.output[0].type.tensor_type.shape.dim
    if len(dims) == 2:
        dims[1].Clear()
        dims[1].dim_value = n_outputs
        onnx.save(model, str(path))
