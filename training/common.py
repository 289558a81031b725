"""What every training command shares: patients, agreement, mirror averaging, ONNX export and its check.

The app's own framing (`echoquality.core.framing`) prepares the frames of every model; nothing here
resizes images, so training and the app cannot drift apart.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from echoquality.core.vocabulary import MIRRORED_REGIONS  # noqa: F401  (re-exported for the training code)

log = logging.getLogger(__name__)



def patient_of(name: str) -> str:
    """Patient identifier of a frame name ('patient0012_4CH_ED' -> 'patient0012'); the name itself otherwise."""
    match = re.search(r"patient\d+", name, re.IGNORECASE)
    return match.group(0).lower() if match else name


def split_patients(patients: list[str] | set[str], fractions: tuple[float, ...], seed: int) -> list[set[str]]:
    """Patients shuffled (seeded) and cut into held-out groups of the given fractions, plus the rest first.

    Returns [rest, group_1, group_2, ...]; each group has at least one patient when its fraction is > 0.
    """
    ordered = sorted(set(patients))
    order = np.random.default_rng(seed).permutation(len(ordered))
    groups, start = [], 0
    for fraction in fractions:
        n = max(1, int(round(fraction * len(ordered)))) if fraction > 0 else 0
        groups.append({ordered[i] for i in order[start:start + n]})
        start += n
    rest = {ordered[i] for i in order[start:]}
    return [rest, *groups]


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks (0-based) with ties given their average rank."""
    x = np.asarray(values, np.float64).ravel()
    order = np.argsort(x, kind="mergesort")
    r = np.empty(x.size, np.float64)
    r[order] = np.arange(x.size)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(inverse, weights=r) / counts)[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (NaN for fewer than 3 pairs or a constant side)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


class MirrorAveraged(nn.Module):
    """Test-time mirroring inside the graph: the mean of the outputs for the frame and its left-right mirror.

    `outputs="maps"`: (N, C, H, W) score maps, the mirror's flipped back; `outputs="regions"`: (N, 8) regional
    scores, the mirror's put back in the canonical order (left and right swapped). Two batch-1 passes rather than
    one batch-2 pass: FAST's OpenVINO engine runs batch 2 about 4x slower.
    """

    def __init__(self, model: nn.Module, outputs: str = "maps"):
        super().__init__()
        if outputs not in ("maps", "regions"):
            raise ValueError(f"outputs must be 'maps' or 'regions', got {outputs!r}")
        self.model, self.outputs = model, outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mirrored = self.model(torch.flip(x, dims=[3]))
        back = torch.flip(mirrored, dims=[3]) if self.outputs == "maps" else mirrored[:, list(MIRRORED_REGIONS)]
        return 0.5 * (self.model(x) + back)


def export_onnx(model: nn.Module, path: str | Path, example: torch.Tensor, input_name: str = "input",
                output_name: str = "scores", metadata: dict[str, str] | None = None, opset: int = 17) -> Path:
    """Write `model` as ONNX (batch size free), add `metadata`, and check it against PyTorch on `example`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    torch.onnx.export(model, example[:1], str(path), input_names=[input_name], output_names=[output_name],
                      dynamic_axes={input_name: {0: "N"}, output_name: {0: "N"}}, opset_version=opset,
                      do_constant_folding=True, dynamo=False)
    with torch.no_grad():
        want = model(example).numpy()
    fix_output_dims(path, want.shape[1:])
    if metadata:
        set_metadata(path, metadata)
    check_export(path, example, want, input_name)
    return path


def fix_output_dims(path: Path, dims: tuple[int, ...]) -> None:
    """Declare the output's non-batch dimensions (the exporter may leave them symbolic)."""
    import onnx
    proto = onnx.load(str(path))
    shape = proto.graph.output[0].type.tensor_type.shape.dim
    if len(shape) == len(dims) + 1:
        for dim, value in zip(shape[1:], dims):
            dim.Clear()
            dim.dim_value = int(value)
        onnx.save(proto, str(path))


def set_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Add key/value entries to an ONNX file's metadata, in place (e.g. framing=fan, read by the app's registry)."""
    import onnx
    proto = onnx.load(str(path))
    kept = [p for p in proto.metadata_props if p.key not in metadata]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=str(value))
    onnx.save(proto, str(path))


def check_export(path: Path, example: torch.Tensor, want: np.ndarray, input_name: str = "input") -> None:
    """Raise when onnxruntime's outputs for `example` differ from PyTorch's (`want`)."""
    import onnxruntime as ort
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {input_name: example.numpy()})[0]
    error = float(np.abs(got - want).max())
    if error > 1e-3 * max(1.0, float(np.abs(want).max())):
        raise RuntimeError(f"{path}: ONNX outputs differ from PyTorch by {error}")
    log.info("%s: exported, max |ONNX - PyTorch| = %.2e", path, error)
