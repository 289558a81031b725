"""Models by name or folder: the project's segmentation model and the paper's published models.

A model folder holds `model.onnx` (and, for a quality model, optionally `slope_intercept_bias_correction.npy`);
project models also carry a `README.md` model card. Names resolve to `models/<name>/`. Every model's input and
output shapes are checked when it is loaded, with a message saying what was expected and what was found.

Contract (the paper's published models and ours): input (N, 1, 256, 256) float32 with raw 0-255 gray values;
segmentation output (N, C, 256, 256) scores, argmax 0 background, 1 LV, 2 MYO, 3 LA (4 AO for long-axis views);
quality output (N, 8) scores on the 1-5 scale in the canonical region order (vocabulary.REGION_NAMES).
A quality model may instead take (N, 2, 256, 256): channel 0 the frame, channel 1 its region map (0 none,
1..8 in the canonical order), so that each region is scored from the image where it lies.
"""
from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

import numpy as np

from echoquality.core.quality import (DEFAULT_METHOD, DEFAULT_QUALITY_MODEL, PIXEL_METRIC_METHODS, QualityMethod,
                                      model_method, pixel_metric_method)
from echoquality.core.segmentation import labels_from_scores
from echoquality.core.vocabulary import MIRRORED_REGIONS, N_REGIONS
from echoquality.inference.backends import ModelError, Session, open_session
from echoquality.paths import MODELS_DIR

log = logging.getLogger(__name__)

DEFAULT_SEGMENTATION = "camus_seg_lite"
DEFAULT_VIEW_MODEL = "view_classifier"
INPUT_SIZE = 256
SEGMENTATION_CLASSES = (4, 5)          # bg, LV, MYO, LA (+ AO in long-axis views)
BIAS_CORRECTION_FILE = "slope_intercept_bias_correction.npy"


def model_metadata(onnx_path: Path) -> dict[str, str]:
    """The ONNX file's metadata entries ({} when it has none or cannot be read)."""
    try:
        import onnx
        return {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    except Exception:
        return {}


def model_framing(metadata: dict[str, str]) -> str:
    """How the model wants its frames, from its ONNX metadata (`model_metadata`): the entry `framing` ("fan": the canonical
    framing of the detected fan, this project's models), else "frame" (the whole frame resized to
    256x256, aspect not kept: the paper's published models)."""
    framing = metadata.get("framing")
    return framing if framing in ("fan", "frame") else "frame"


def model_mirror_averaging(metadata: dict[str, str]) -> bool:
    """Whether the app averages the model's scores with the mirrored frame's by default (metadata
    `mirror_average` = "1": trained to be used so; models without it are run as they are)."""
    return metadata.get("mirror_average") == "1"


def _fraction_entry(metadata: dict[str, str], key: str, path: Path) -> float | None:
    """A metadata entry that must be a number in (0, 1]; None when absent, ModelError when invalid."""
    text = metadata.get(key)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value <= 1.0:
        raise ModelError(f"{path}: metadata {key} is {text!r}, expected a number in (0, 1]")
    return value


def model_uncertain_limit(metadata: dict[str, str], path: Path) -> float | None:
    """The largest share of close calls the model makes on an apical view (metadata `max_uncertain_share`, a number in
    (0, 1], see `echoquality.core.segmentation.uncertain_share`); None when the model was not calibrated."""
    return _fraction_entry(metadata, "max_uncertain_share", path)


def model_other_limit(metadata: dict[str, str], path: Path) -> float | None:
    """The view model's probability of 'other' from which a frame is called 'other' (metadata `other_limit`, a number
    in (0, 1], set by `training.view.other_limit`); None without it ('other' only when it is the most probable)."""
    return _fraction_entry(metadata, "other_limit", path)


def available_models(models_dir: Path = MODELS_DIR) -> list[str]:
    """Names of the model folders under models/."""
    if not models_dir.is_dir():
        return []
    return sorted(p.name for p in models_dir.iterdir() if (p / "model.onnx").is_file())


def resolve_model(name_or_folder: str | Path, models_dir: Path = MODELS_DIR) -> Path:
    """The model.onnx of a model given by folder, by ONNX file, or by name under models/."""
    given = Path(name_or_folder)
    candidates = [given, models_dir / str(name_or_folder)]
    for candidate in candidates:
        if candidate.is_file() and candidate.suffix == ".onnx":
            return candidate
        if candidate.is_dir():
            onnx_file = candidate / "model.onnx"
            if onnx_file.is_file():
                return onnx_file
            raise ModelError(f"{candidate}: model folder has no model.onnx")
    known = ", ".join(available_models(models_dir)) or "none"
    raise ModelError(f"{name_or_folder}: no such model folder or name (models in {models_dir}: {known})")


def _fits(found: tuple, expected: tuple) -> bool:
    """True when a shape fits an expected one; None in `expected` or a free (named/unknown) dim matches anything."""
    if len(found) != len(expected):
        return False
    return all(e is None or not isinstance(f, int) or f <= 0 or f == e for f, e in zip(found, expected))


def _show(shape: tuple) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"


def check_input(session: Session, what: str, channels: tuple[int, ...] = (1,)) -> int:
    """The number of input channels; ModelError unless the model takes one (N, C, 256, 256) input with C in
    `channels`."""
    shape = tuple(session.input_shape)
    for c in channels:
        if _fits(shape, (None, c, INPUT_SIZE, INPUT_SIZE)):
            return c
    expected = " or ".join(_show((None, c, INPUT_SIZE, INPUT_SIZE)) for c in channels)
    extra = " (2 channels: frame and region map)" if 2 in channels else ""
    raise ModelError(f"{session.path}: {what} input has shape {shape}, expected {expected} float32 gray frames "
                     f"with raw 0-255 values{extra}")


def _fixed_batch(session: Session) -> int | None:
    first = session.input_shape[0] if session.input_shape else None
    return first if isinstance(first, int) and first > 0 else None


def _run(session: Session, batch: np.ndarray) -> np.ndarray:
    """First output of the model on a batch, split into the model's fixed batch size when it has one."""
    fixed = _fixed_batch(session)
    if fixed is None or fixed == len(batch):
        return session.run(batch)[0]
    if fixed != 1:
        pad = (-len(batch)) % fixed
        padded = np.concatenate([batch, np.zeros((pad, *batch.shape[1:]), batch.dtype)]) if pad else batch
        outs = [session.run(padded[i:i + fixed])[0] for i in range(0, len(padded), fixed)]
        return np.concatenate(outs)[:len(batch)]
    return np.concatenate([session.run(batch[i:i + 1])[0] for i in range(len(batch))])


def check_batch(batch: np.ndarray, model_name: str, channels: int = 1) -> np.ndarray:
    """The batch as float32 (N, channels, 256, 256); ModelError naming the problem otherwise."""
    batch = np.asarray(batch)
    if batch.ndim != 4 or batch.shape[1:] != (channels, INPUT_SIZE, INPUT_SIZE):
        raise ModelError(f"{model_name}: input batch has shape {batch.shape}, expected (N, {channels}, {INPUT_SIZE}, "
                         f"{INPUT_SIZE}) gray frames resized to the network size")
    return np.ascontiguousarray(batch, dtype=np.float32)


class SegmentationModel:
    """A segmentation network: frames (N,1,256,256) raw 0-255 -> label maps (N,256,256) uint8."""

    def __init__(self, session: Session, name: str, folder: Path):
        self.session = session
        self.name = name
        self.folder = folder
        self.backend = session.backend
        check_input(session, "segmentation model")
        if len(session.output_shapes) != 1:
            raise ModelError(f"{session.path}: segmentation model has {len(session.output_shapes)} outputs, "
                             f"expected one (N, C, {INPUT_SIZE}, {INPUT_SIZE}) score map")
        declared = tuple(session.output_shapes[0])
        found = tuple(_run(session, np.zeros((1, 1, INPUT_SIZE, INPUT_SIZE), np.float32)).shape)
        n_classes = found[1] if len(found) == 4 else None
        if not (_fits(declared, (None, None, INPUT_SIZE, INPUT_SIZE)) and len(found) == 4
                and found[0] == 1 and found[2:] == (INPUT_SIZE, INPUT_SIZE) and n_classes in SEGMENTATION_CLASSES):
            raise ModelError(f"{session.path}: segmentation output has shape {found} (declared {declared}), expected "
                             f"(N, 4 or 5, {INPUT_SIZE}, {INPUT_SIZE}) scores whose argmax is 0 background, 1 LV, "
                             "2 MYO, 3 LA (4 AO)")
        self.n_classes = int(n_classes)
        metadata = model_metadata(Path(session.path))
        self.framing = model_framing(metadata)
        self.mirror = model_mirror_averaging(metadata)
        self.max_uncertain_share = model_uncertain_limit(metadata, Path(session.path))

    def scores(self, batch: np.ndarray, mirror: bool | None = None) -> np.ndarray:
        """Raw class scores (N, C, 256, 256) of a batch of frames; with `mirror` (None: the model's
        default) the mean of the frame's and its left-right mirror's (two passes: twice the time)."""
        batch = check_batch(batch, self.name)
        scores = _run(self.session, batch)
        if self.mirror if mirror is None else mirror:
            mirrored = _run(self.session, np.ascontiguousarray(batch[..., ::-1]))
            scores = 0.5 * (scores + mirrored[..., ::-1])
        return scores

    def predict(self, batch: np.ndarray, mirror: bool | None = None) -> np.ndarray:
        """Label maps (N, 256, 256) uint8: 0 background, 1 LV, 2 MYO, 3 LA (4 AO)."""
        return labels_from_scores(self.scores(batch, mirror))


def read_bias_correction(path: Path) -> np.ndarray:
    """(slope, intercept) of the published quality model's linear bias correction, shape (2,) or (2, 8)."""
    try:
        values = np.load(path, allow_pickle=False).astype(np.float64)
    except Exception as error:
        raise ModelError(f"{path}: cannot read bias correction ({error})") from None
    if values.shape not in ((2,), (2, N_REGIONS)) or not np.all(np.isfinite(values)) or np.any(values[0] == 0):
        raise ModelError(f"{path}: bias correction has shape {values.shape}, expected (slope, intercept) as 2 finite "
                         f"numbers (or 2 x {N_REGIONS}) with a non-zero slope")
    return values


class QualityModel:
    """A regional quality network: frames (N,1,256,256) raw 0-255 -> scores (N,8) on the 1-5 scale.

    `uses_regions`: the network also takes the region map (input (N,2,256,256)); `predict` then needs it."""

    def __init__(self, session: Session, name: str, folder: Path, bias_correction: np.ndarray | None):
        self.session = session
        self.name = name
        self.folder = folder
        self.backend = session.backend
        self.bias_correction = bias_correction
        self.channels = check_input(session, "quality model", (1, 2))
        self.uses_regions = self.channels == 2
        metadata = model_metadata(Path(session.path))
        self.framing = model_framing(metadata)
        self.mirror = model_mirror_averaging(metadata)
        found = tuple(_run(session, np.zeros((1, self.channels, INPUT_SIZE, INPUT_SIZE), np.float32)).shape)
        declared = tuple(session.output_shapes[0]) if session.output_shapes else ()
        if not (_fits(declared, (None, N_REGIONS)) and found == (1, N_REGIONS)):
            raise ModelError(f"{session.path}: quality output has shape {found} (declared {declared}), expected "
                             f"(N, {N_REGIONS}) scores on the 1-5 scale, one per region")

    def raw_scores(self, batch: np.ndarray, region_maps: np.ndarray | None = None,
                   mirror: bool | None = None) -> np.ndarray:
        """The network's own (N, 8) output, before bias correction. region_maps (N, 1, 256, 256) or (N, 256,
        256), 0 none and 1..8: required by a model that uses regions, ignored by one that does not.
        With `mirror` (None: the model's default) the mean of the frame's and its left-right mirror's scores
        (the region map mirrored with it; a model without the map gets its left and right regions swapped back)."""
        scores = self._one_pass(batch, region_maps)
        if self.mirror if mirror is None else mirror:
            flipped_maps = None if region_maps is None else np.ascontiguousarray(np.asarray(region_maps)[..., ::-1])
            mirrored = self._one_pass(np.ascontiguousarray(np.asarray(batch)[..., ::-1]), flipped_maps)
            if not self.uses_regions:
                mirrored = mirrored[:, list(MIRRORED_REGIONS)]
            scores = (0.5 * (scores + mirrored)).astype(np.float32)
        return scores

    def _one_pass(self, batch: np.ndarray, region_maps: np.ndarray | None) -> np.ndarray:
        if self.uses_regions:
            if region_maps is None:
                raise ModelError(f"{self.name}: this quality model scores each region where it lies and needs the "
                                 "region map with the frames")
            frames = check_batch(batch, self.name)
            maps = np.asarray(region_maps, np.float32).reshape(frames.shape)
            batch = np.concatenate([frames, maps], axis=1)
        return _run(self.session, check_batch(batch, self.name, self.channels)).astype(np.float32)

    def predict(self, batch: np.ndarray, region_maps: np.ndarray | None = None,
                mirror: bool | None = None) -> np.ndarray:
        """(N, 8) regional scores, bias-corrected as (raw - intercept) / slope when the folder has a correction."""
        raw = self.raw_scores(batch, region_maps, mirror)
        if self.bias_correction is None:
            return raw
        slope, intercept = self.bias_correction
        return ((raw - intercept) / slope).astype(np.float32)


def load_segmentation_model(name_or_folder: str | Path = DEFAULT_SEGMENTATION, backend: str = "auto",
                            models_dir: Path = MODELS_DIR) -> SegmentationModel:
    """Open a segmentation model by name (models/<name>/) or folder, checking its shapes."""
    path = resolve_model(name_or_folder, models_dir)
    model = SegmentationModel(open_session(path, backend), path.parent.name, path.parent)
    log.info("segmentation model %s (%d classes) on %s", model.name, model.n_classes, model.backend)
    return model


def load_quality_model(name_or_folder: str | Path, backend: str = "auto", models_dir: Path = MODELS_DIR) -> QualityModel:
    """Open a regional quality model by name or folder, with its bias correction when the folder has one."""
    path = resolve_model(name_or_folder, models_dir)
    correction_file = path.parent / BIAS_CORRECTION_FILE
    correction = read_bias_correction(correction_file) if correction_file.is_file() else None
    model = QualityModel(open_session(path, backend), path.parent.name, path.parent, correction)
    log.info("quality model %s on %s (bias correction: %s)", model.name, model.backend,
             "yes" if correction is not None else "no")
    return model


def resolve_method(name: str, backend: str = "auto") -> tuple[QualityMethod, str]:
    """(method, method name) for a pixel metric name, 'e2e', or a quality model name/folder."""
    name = name or DEFAULT_METHOD
    if name in PIXEL_METRIC_METHODS:
        return pixel_metric_method(name), name
    model = load_quality_model(DEFAULT_QUALITY_MODEL if name == "e2e" else name, backend)
    return model_method(model), "e2e" if name == "e2e" else model.name


class ViewModel:
    """The view classifier: (N, 1, 64, 64) raw 0-255 network views -> (N, 3) probabilities of a2c, a4c, other."""

    def __init__(self, session: Session, name: str, folder: Path):
        from echoquality.core.view import VIEW_CLASSES, VIEW_INPUT_SIZE
        self.session, self.name, self.folder, self.backend = session, name, folder, session.backend
        self.size = VIEW_INPUT_SIZE
        found = tuple(_run(session, np.zeros((1, 1, self.size, self.size), np.float32)).shape)
        if not (_fits(tuple(session.input_shape), (None, 1, self.size, self.size)) and found == (1, len(VIEW_CLASSES))):
            raise ModelError(f"{session.path}: view model takes {tuple(session.input_shape)} and gives {found}, expected "
                             f"(N, 1, {self.size}, {self.size}) -> (N, {len(VIEW_CLASSES)}) probabilities of "
                             f"{', '.join(VIEW_CLASSES)}")
        self.other_limit = model_other_limit(model_metadata(Path(session.path)), Path(session.path))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3) probabilities of a batch of (N, 1, 64, 64) classifier inputs."""
        return _run(self.session, np.ascontiguousarray(batch, dtype=np.float32))


def load_view_model(name_or_folder: str | Path = DEFAULT_VIEW_MODEL, models_dir: Path = MODELS_DIR) -> ViewModel:
    """Open the view classifier (on the CPU: it is tiny, a GPU round trip would cost more than it saves)."""
    path = resolve_model(name_or_folder, models_dir)
    model = ViewModel(open_session(path, "onnxruntime-cpu"), path.parent.name, path.parent)
    log.info("view model %s on %s", model.name, model.backend)
    return model


_shared_lock = threading.Lock()


@functools.lru_cache(maxsize=8)
def _shared(kind: str, name: str, backend: str):
    if kind == "view":
        return load_view_model(name)
    return load_segmentation_model(name, backend) if kind == "segmentation" else resolve_method(name, backend)


def shared_segmentation_model(name: str = "", backend: str = "auto") -> SegmentationModel:
    """The segmentation model by name (default: the bundled one), opened once per process and backend."""
    with _shared_lock:
        return _shared("segmentation", name or DEFAULT_SEGMENTATION, backend)


def shared_method(name: str = "", backend: str = "auto") -> tuple[QualityMethod, str]:
    """(method, method name) of a quality method, its model opened once per process and backend."""
    with _shared_lock:
        return _shared("method", name or DEFAULT_METHOD, backend)


def shared_view_model(name: str = "") -> ViewModel:
    """The view classifier by name (default: the bundled one), opened once per process."""
    with _shared_lock:
        return _shared("view", name or DEFAULT_VIEW_MODEL, "onnxruntime-cpu")
