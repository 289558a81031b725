"""ONNX inference sessions: one small interface over the available backends."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BACKENDS = ("auto", "onnxruntime-cpu", "onnxruntime-cuda")


class ModelError(Exception):
    """A model that cannot be opened or does not fit the expected contract."""


def gpu_present() -> bool:
    """True when an NVIDIA GPU is visible to this process."""
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/gpus").exists()


class OnnxSession:
    """An onnxruntime session with a single input; `run` returns every output."""

    def __init__(self, model_path: str | Path, backend: str = "auto", threads: int = 0):
        import onnxruntime as ort

        if backend not in BACKENDS:
            raise ModelError(f"{model_path}: unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
        use_cuda = backend == "onnxruntime-cuda" or (
            backend == "auto" and gpu_present() and "CUDAExecutionProvider" in ort.get_available_providers())
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if use_cuda else ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(str(model_path), options, providers=providers)
        except Exception as error:  # onnxruntime raises several unrelated types
            raise ModelError(f"{model_path}: cannot open ONNX model ({error})") from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"{model_path}: expected one input, found {len(inputs)}")
        self.input_name = inputs[0].name
        self.input_shape = tuple(inputs[0].shape)
        self.output_shapes = [tuple(o.shape) for o in self._session.get_outputs()]
        self.backend = "onnxruntime-cuda" if use_cuda else "onnxruntime-cpu"
        self.path = Path(model_path)
        log.info("%s: %s, input %s, outputs %s", self.path.name, self.backend, self.input_shape, self.output_shapes)

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run the model on a float32 batch shaped like its input."""
        return self._session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})


def open_session(model_path: str | Path, backend: str = "auto") -> OnnxSession:
    """Open an ONNX model on the requested backend ('auto' picks CUDA only when a GPU is present)."""
    path = Path(model_path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    return OnnxSession(path, backend)
