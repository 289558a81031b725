"""ONNX inference sessions: one small interface over the available backends.

Backends: onnxruntime on CPU, onnxruntime with the CUDA provider (only asked for when a GPU is present),
and FAST's OpenVINO inference engine on CPU. `open_session(path, "auto")` picks the fastest available:
CUDA when a GPU is present, else the CPU engine measured fastest for our models (see AUTO_CPU_ORDER).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BACKENDS = ("auto", "onnxruntime-cpu", "onnxruntime-cuda", "openvino")

# CPU engines in the order 'auto' tries them. Measured by benchmarks/bench_segmentation.py on the project's
# 2-core AVX2 machine: onnxruntime 7 ms vs OpenVINO (FAST 4.18) 10 ms per frame for camus_seg_lite.
AUTO_CPU_ORDER = ("onnxruntime-cpu", "openvino")

Shape = tuple  # entries: int, or str / None for a free dimension


class ModelError(Exception):
    """A model that cannot be opened or does not fit the expected contract."""


def gpu_present() -> bool:
    """True when an NVIDIA GPU is visible to this process."""
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/gpus").exists()


def cuda_available() -> bool:
    """True when a GPU is present and onnxruntime has its CUDA provider."""
    if not gpu_present():
        return False
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def openvino_available() -> bool:
    """True when FAST (pyfast) is importable and lists its OpenVINO inference engine."""
    try:
        import fast
    except Exception:  # pyfast missing or failing to load its libraries
        return False
    try:
        return "OpenVINO" in tuple(fast.InferenceEngineManager.getEngineList())
    except Exception:
        return False


def available_backends() -> tuple[str, ...]:
    """The concrete backends that can run on this machine, fastest first."""
    found = ["onnxruntime-cuda"] if cuda_available() else []
    for name in AUTO_CPU_ORDER:
        if name == "openvino" and not openvino_available():
            continue
        found.append(name)
    return tuple(found)


def onnx_io_shapes(model_path: str | Path) -> tuple[list[tuple[str, Shape]], list[tuple[str, Shape]]]:
    """(name, shape) of the graph inputs and outputs of an ONNX file; free dimensions are names or None."""
    import onnx

    try:
        graph = onnx.load(str(model_path), load_external_data=False).graph
    except Exception as error:
        raise ModelError(f"{model_path}: cannot read ONNX model ({error})") from None
    initialisers = {init.name for init in graph.initializer}

    def shape_of(value) -> Shape:
        dims = value.type.tensor_type.shape.dim
        return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims)

    inputs = [(v.name, shape_of(v)) for v in graph.input if v.name not in initialisers]
    outputs = [(v.name, shape_of(v)) for v in graph.output]
    return inputs, outputs


def check_opset(model_path: str | Path) -> None:
    """ModelError when the model needs a newer ONNX operator set than the installed onnx knows."""
    import onnx

    try:
        model = onnx.load(str(model_path), load_external_data=False)
    except Exception as error:
        raise ModelError(f"{model_path}: cannot read ONNX model ({error})") from None
    newest = onnx.defs.onnx_opset_version()
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version > newest:
            raise ModelError(f"{model_path}: the model needs ONNX opset {opset.version}; this installation "
                             f"runs opsets up to {newest} (export the model with an older opset)")


# Threads per onnxruntime CPU session. The chain runs as two halves on two threads, each running its
# networks: one thread per session lets them run side by side. Measured on the 2-core machine (bundled
# loop, one pass, no split screen): two halves 88 frames/s with 1 thread per session vs 76 with
# onnxruntime's default (one per core); one thread for the whole chain: 60 vs 66 (benchmarks/bench_pipeline).
DEFAULT_CPU_THREADS = 1


def cpu_threads() -> int:
    """Threads per onnxruntime CPU session: $ECHOQUALITY_ONNX_THREADS (0: onnxruntime's default, one per
    core), else DEFAULT_CPU_THREADS."""
    value = os.environ.get("ECHOQUALITY_ONNX_THREADS", "")
    return int(value) if value.isdigit() else DEFAULT_CPU_THREADS


class OnnxSession:
    """An onnxruntime session with a single input; `run` returns every output."""

    def __init__(self, model_path: str | Path, backend: str = "auto", threads: int = 0):
        import onnxruntime as ort

        if backend not in ("auto", "onnxruntime-cpu", "onnxruntime-cuda"):
            raise ModelError(f"{model_path}: backend {backend!r} is not an onnxruntime backend")
        use_cuda = backend == "onnxruntime-cuda" or (backend == "auto" and cuda_available())
        if backend == "onnxruntime-cuda" and not gpu_present():
            raise ModelError(f"{model_path}: onnxruntime-cuda asked for, but no NVIDIA GPU is present")
        if use_cuda and "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ModelError(f"{model_path}: onnxruntime-cuda asked for, but onnxruntime has no CUDA provider")
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if use_cuda else ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        # Several sessions run one after another per frame: threads that spin after a run steal the
        # cores the next session needs (measured: segmentation 8 → 14 ms with the quality model).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        threads = threads or cpu_threads()
        if threads and not use_cuda:
            options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(str(model_path), options, providers=providers)
        except Exception as error:  # onnxruntime raises several unrelated types
            raise ModelError(f"{model_path}: cannot open ONNX model ({error})") from None
        if use_cuda and "CUDAExecutionProvider" not in self._session.get_providers():
            if backend == "onnxruntime-cuda":
                raise ModelError(f"{model_path}: onnxruntime-cuda asked for, but the CUDA provider did not start "
                                 "(no usable GPU or CUDA libraries)")
            log.warning("%s: CUDA provider did not start; running on CPU", model_path)
            use_cuda = False
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


class OpenVinoSession:
    """FAST's OpenVINO inference engine on the CPU, with OnnxSession's interface."""

    def __init__(self, model_path: str | Path):
        inputs, outputs = onnx_io_shapes(model_path)
        if len(inputs) != 1:
            raise ModelError(f"{model_path}: expected one input, found {len(inputs)}")
        try:
            import fast

            engine = fast.InferenceEngineManager.loadEngine("OpenVINO")
            engine.setDeviceType(fast.InferenceDeviceType_CPU)
            engine.setFilename(str(model_path))
            engine.load()
        except Exception as error:  # FAST raises RuntimeError or SWIG errors
            raise ModelError(f"{model_path}: FAST's OpenVINO engine cannot open the model ({error})") from None
        self._fast = fast
        self._engine = engine
        self.input_name, self.input_shape = inputs[0]
        self.output_names = [name for name, _ in outputs]
        self.output_shapes = [shape for _, shape in outputs]
        self.backend = "openvino"
        self.path = Path(model_path)
        log.info("%s: %s, input %s, outputs %s", self.path.name, self.backend, self.input_shape, self.output_shapes)

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run the model on a float32 batch shaped like its input."""
        tensor = self._fast.Tensor.createFromArray(np.ascontiguousarray(batch, dtype=np.float32))
        try:
            self._engine.setInputData(self.input_name, tensor)
            self._engine.run()
            return [np.array(self._engine.getOutputData(name), copy=True) for name in self.output_names]
        except Exception as error:
            raise ModelError(f"{self.path}: OpenVINO cannot run a batch of shape {batch.shape} ({error})") from None


Session = OnnxSession | OpenVinoSession


def open_session(model_path: str | Path, backend: str = "auto") -> Session:
    """Open an ONNX model on the requested backend ('auto': CUDA when a GPU is present, else the fastest CPU engine)."""
    path = Path(model_path)
    if backend not in BACKENDS:
        raise ModelError(f"{path}: unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    check_opset(path)
    if backend == "openvino":
        if not openvino_available():
            raise ModelError(f"{path}: backend 'openvino' needs pyfast with its OpenVINO engine, which is not available")
        return OpenVinoSession(path)
    if backend != "auto":
        return OnnxSession(path, backend)
    if cuda_available():
        return OnnxSession(path, "onnxruntime-cuda")
    failure: ModelError | None = None
    for name in AUTO_CPU_ORDER:
        if name == "openvino" and not openvino_available():
            continue
        try:
            return OpenVinoSession(path) if name == "openvino" else OnnxSession(path, name)
        except ModelError as error:
            if "opset" in str(error).lower():      # no other engine runs it either: say why, once
                raise
            log.warning("%s; trying the next CPU engine", error)
            failure = failure or error
    raise failure or ModelError(f"{path}: no CPU inference engine available")
