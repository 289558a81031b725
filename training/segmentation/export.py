"""Export a trained network to ONNX (the app's input contract) and check it against PyTorch."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

INPUT_NAME, OUTPUT_NAME = "input", "scores"


def export_onnx(model: torch.nn.Module, path: str | Path, size: int = 256, opset: int = 17,
                metadata: dict[str, str] | None = None) -> Path:
    """Write `model` as ONNX with input (N,1,size,size) raw 0-255 float32 and output (N,C,size,size) scores.

    `metadata` goes into the ONNX file's metadata (e.g. framing=fan, read by the app's model registry)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    example = torch.rand(1, 1, size, size) * 255.0
    torch.onnx.export(model, example, str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                      dynamic_axes={INPUT_NAME: {0: "N"}, OUTPUT_NAME: {0: "N"}}, opset_version=opset,
                      do_constant_folding=True, dynamo=False)
    if metadata:
        set_metadata(path, metadata)
    check_export(model, path, example)
    return path


def set_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Add key/value entries to an ONNX file's metadata (in place)."""
    import onnx

    proto = onnx.load(str(path))
    kept = [p for p in proto.metadata_props if p.key not in metadata]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=str(value))
    onnx.save(proto, str(path))


def check_export(model: torch.nn.Module, path: Path, example: torch.Tensor) -> None:
    """Raise when the ONNX file's scores differ from PyTorch's on an example input."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {INPUT_NAME: example.numpy()})[0]
    with torch.no_grad():
        want = model(example).numpy()
    error = float(np.abs(got - want).max())
    if error > 1e-3 * max(1.0, float(np.abs(want).max())):
        raise RuntimeError(f"{path}: ONNX scores differ from PyTorch by {error}")
    log.info("%s: exported, max |ONNX - PyTorch| = %.2e", path, error)


def quantize_int8(fp32_path: Path, int8_path: Path, calibration: np.ndarray) -> Path:
    """Static INT8 (QDQ) quantisation of an exported model, calibrated on (N,1,H,W) raw frames."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._items = iter([{INPUT_NAME: frame[None].astype(np.float32)} for frame in calibration])

        def get_next(self):
            return next(self._items, None)

    prepared = int8_path.with_suffix(".prep.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(int8_path), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    prepared.unlink(missing_ok=True)
    return int8_path
