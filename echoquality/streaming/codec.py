"""The one codec between typed values and FAST data objects.

FAST passes only its own data objects between process objects. Pixels travel as `fast.Image`s
(frames, network input, sector, labels, region map, LV lumen, scores as a 1×8 float image); the
frame's identity and the few small values that have no image (region validity) travel in the
image's frame data. Every frame-data key is spelled here and nowhere else.
"""
from __future__ import annotations

import base64
import time
from dataclasses import dataclass

import fast
import numpy as np

from echoquality.core.fan import Fan
from echoquality.core.framing import Framing
from echoquality.core.records import Frame
from echoquality.core.regions import Regions
from echoquality.core.vocabulary import N_REGIONS

# Frame-data keys.
_INDEX, _TIME, _SOURCE, _SPACING, _SPACING_KNOWN, _TIMESTAMP = \
    "index", "time_s", "source", "spacing", "spacing_known", "timestamp"
_ENTERED, _FRAMING = "entered_at", "framing"
_VALID, _OUT_OF_SECTOR = "valid", "out_of_sector"
_TIMING = "timing_ms:"     # + stage name
_END_OF_STREAM, _FRAME_ERROR = "end_of_stream", "frame_error"
_COLOUR, _DECLARED = "colour", "declared_mode"
_FAN, _FAN_FRAMING = "fan", "fan_framing"
# FAST copies every input's frame data onto a process object's outputs, overwriting keys of the
# same name: the gate's verdict and the final one (after the LV check, on the scores) need their own.
_GATE_KEYS = ("gate_status", "gate_view", "gate_view_confidence")
_FINAL_KEYS = ("status", "view", "view_confidence")


@dataclass(frozen=True)
class FrameTag:
    """The identity of the frame a FAST image belongs to (no pixels)."""
    index: int
    time_s: float
    spacing: tuple[float, float]
    timestamp: float | None
    entered_at: float


def to_fast(array: np.ndarray, like: "fast.Image | None" = None) -> "fast.Image":
    """A FAST image of `array` carrying the frame data of `like`."""
    image = fast.Image.createFromArray(np.ascontiguousarray(array))
    if like is not None:
        image.setFrameData(like.getFrameData())
    return image


def to_numpy(image: "fast.Image") -> np.ndarray:
    """The pixels of a FAST image as (H, W) or (H, W, C)."""
    array = np.asarray(image)
    return array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array


def _set(image: "fast.Image", **values) -> "fast.Image":
    for key, value in values.items():
        image.setFrameData(key, str(value))
    return image


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split()]


# --- frames -------------------------------------------------------------------------------------

def frame_to_fast(frame: Frame, entered_at: float | None = None) -> "fast.Image":
    """A source frame as a FAST image with its identity in the frame data."""
    image = _set(to_fast(frame.image), **{
        _INDEX: frame.index, _TIME: repr(frame.time_s), _SOURCE: frame.source,
        _SPACING: f"{frame.spacing[0]!r} {frame.spacing[1]!r}", _SPACING_KNOWN: int(frame.spacing_known),
        _TIMESTAMP: "" if frame.timestamp is None else repr(frame.timestamp),
        _ENTERED: repr(time.perf_counter() if entered_at is None else entered_at)})
    if frame.colour is not None:
        cells = np.ascontiguousarray(frame.colour, np.uint8)
        _set(image, **{_COLOUR: f"{cells.shape[0]} {cells.shape[1]} " + base64.b64encode(cells.tobytes()).decode()})
    if frame.declared_mode:
        _set(image, **{_DECLARED: frame.declared_mode})
    image.setSpacing([float(frame.spacing[1]), float(frame.spacing[0]), 1.0])
    return image


def fast_to_frame(image: "fast.Image") -> Frame:
    """The source frame a FAST image was made from (see `frame_to_fast`)."""
    tag = frame_tag(image)
    return Frame(to_numpy(image).copy(), tag.index, tag.time_s, tag.spacing, image.getFrameData(_SOURCE),
                 image.getFrameData(_SPACING_KNOWN) == "1", tag.timestamp, frame_colour(image),
                 frame_declared_mode(image))


def frame_colour(image: "fast.Image") -> np.ndarray | None:
    """The colour map a colour source frame carries (`Frame.colour`), None for a grey one."""
    if not image.hasFrameData(_COLOUR):
        return None
    rows, cols, data = image.getFrameData(_COLOUR).split(" ", 2)
    return np.frombuffer(base64.b64decode(data), np.uint8).reshape(int(rows), int(cols))


def frame_declared_mode(image: "fast.Image") -> str | None:
    """The display mode the source file declares (`Frame.declared_mode`), None when it declares none."""
    return image.getFrameData(_DECLARED) or None if image.hasFrameData(_DECLARED) else None


def frame_tag(image: "fast.Image") -> FrameTag:
    """The identity of the frame any image of the chain belongs to."""
    def get(key: str) -> str:
        return image.getFrameData(key) if image.hasFrameData(key) else ""
    stamp = get(_TIMESTAMP)
    sy, sx = _floats(get(_SPACING)) or (float("nan"), float("nan"))
    return FrameTag(int(get(_INDEX) or -1), float(get(_TIME) or "nan"), (sy, sx),
                    float(stamp) if stamp else None, float(get(_ENTERED) or 0.0))


def set_framing(image: "fast.Image", framing: Framing) -> "fast.Image":
    """Record where the network view sits in the source frame (on the network input and what derives from it)."""
    values = (*framing.frame_shape, *framing.box, *framing.placed, framing.size)
    return _set(image, **{_FRAMING: " ".join(str(int(v)) for v in values)
                          + f" {framing.network_spacing[0]!r} {framing.network_spacing[1]!r}"})


def framing_of(image: "fast.Image") -> Framing | None:
    """The framing recorded by `set_framing` (None when the image carries none)."""
    if not image.hasFrameData(_FRAMING):
        return None
    v = image.getFrameData(_FRAMING).split()
    ints = [int(x) for x in v[:11]]
    return Framing((ints[0], ints[1]), tuple(ints[2:6]), tuple(ints[6:10]), ints[10], (float(v[11]), float(v[12])))


def set_fan(image: "fast.Image", fan: Fan, framing: str) -> "fast.Image":
    """Record the frame's fan (found once, in Preprocess) and the framing the network input got ("fan" or "frame")."""
    hull = " ".join(f"{x:.2f},{y:.2f}" for x, y in np.asarray(fan.hull, np.float64))
    apex = "" if fan.apex is None else f"{float(fan.apex[0])!r},{float(fan.apex[1])!r}"
    box = " ".join(str(int(v)) for v in fan.box)
    return _set(image, **{_FAN: f"{int(fan.frame_shape[0])} {int(fan.frame_shape[1])}|{box}|"
                                f"{float(fan.angle_deg)!r} {float(fan.fill)!r}|{apex}|{hull}", _FAN_FRAMING: framing})


def fan_of(image: "fast.Image") -> tuple[Fan, str] | None:
    """(fan, framing) recorded by `set_fan`, None when the image carries none."""
    if not image.hasFrameData(_FAN):
        return None
    shape, box, numbers, apex, hull = image.getFrameData(_FAN).split("|")
    angle, fill = (float(v) for v in numbers.split())
    points = np.array([[float(c) for c in p.split(",")] for p in hull.split()], np.float64).reshape(-1, 2)
    fan = Fan(tuple(int(v) for v in shape.split()), points, tuple(int(v) for v in box.split()),
              tuple(float(v) for v in apex.split(",")) if apex else None, angle, fill)
    return fan, image.getFrameData(_FAN_FRAMING)


# --- regions and scores ---------------------------------------------------------------------------

def regions_to_fast(regions: Regions, like: "fast.Image") -> tuple["fast.Image", "fast.Image"]:
    """(region map, LV lumen) images; validity and out-of-sector fractions in the region map's frame data."""
    region_map = _set(to_fast(regions.region_map, like), **{
        _VALID: " ".join(str(int(v)) for v in regions.valid),
        _OUT_OF_SECTOR: " ".join(f"{v:.4f}" for v in regions.out_of_sector)})
    return region_map, to_fast(regions.lv_lumen.astype(np.uint8), like)


def regions_from_fast(region_image: "fast.Image", lumen_image: "fast.Image",
                      sector: np.ndarray | None = None) -> Regions:
    """The regions sent by `regions_to_fast` (landmarks are not carried)."""
    region_map = to_numpy(region_image).astype(np.uint8)
    pixels = np.bincount(region_map.ravel(), minlength=N_REGIONS + 1)[1:N_REGIONS + 1]
    return Regions(region_map=region_map, valid=valid_from_fast(region_image), pixels=pixels.astype(np.int64),
                   out_of_sector=np.array(_floats(region_image.getFrameData(_OUT_OF_SECTOR))),
                   lv_lumen=to_numpy(lumen_image) > 0, landmarks=None, sector=sector)


def valid_from_fast(region_image: "fast.Image") -> np.ndarray:
    """(8,) bool validity of the regions carried by a region-map image."""
    return np.array([v == "1" for v in region_image.getFrameData(_VALID).split()], bool)


def scores_to_fast(scores: np.ndarray, like: "fast.Image") -> "fast.Image":
    """(8,) scores (NaN: invalid) as a 1×8 float image."""
    return to_fast(np.asarray(scores, np.float32).reshape(1, N_REGIONS), like)


def scores_from_fast(image: "fast.Image") -> np.ndarray:
    """The (8,) float64 scores sent by `scores_to_fast`."""
    return to_numpy(image).reshape(N_REGIONS).astype(np.float64)


# --- timings ------------------------------------------------------------------------------------

def add_timing(image: "fast.Image", stage: str, ms: float) -> None:
    """Record on an image how long a stage took for its frame (carried on to the images made from it).

    One key per stage: FAST copies its inputs' frame data onto a stage's outputs, so a shared key
    would be overwritten by the upstream value.
    """
    image.setFrameData(_TIMING + stage, f"{ms:.3f}")


def timings(image: "fast.Image") -> dict[str, float]:
    """{stage: milliseconds} recorded on an image and the images it was made from."""
    return {key[len(_TIMING):]: float(value) for key, value in image.getFrameData().items()
            if key.startswith(_TIMING)}


# --- the gate's verdict -----------------------------------------------------------------------------

@dataclass(frozen=True)
class GateTag:
    """What the gate decided for a frame: status (gate.STATUSES), the view its regions are named after
    (a4c, a2c, alax, or other when none is recognised) and the recognised view's confidence (NaN: view given)."""
    status: str
    view: str
    confidence: float


def set_gate(image: "fast.Image", gate: GateTag, final: bool = False) -> "fast.Image":
    """Record a verdict on an image: the gate's (its output), or with `final` the last one (on the scores)."""
    status, view, confidence = _FINAL_KEYS if final else _GATE_KEYS
    return _set(image, **{status: gate.status, view: gate.view, confidence: repr(gate.confidence)})


def gate_tag(image: "fast.Image", final: bool = False) -> GateTag:
    """The verdict recorded by `set_gate` (an image without one passes: status ok, view a4c)."""
    status, view, confidence = _FINAL_KEYS if final else _GATE_KEYS

    def get(key: str, default: str) -> str:
        return image.getFrameData(key) if image.hasFrameData(key) else default
    return GateTag(get(status, "ok"), get(view, "a4c"), float(get(confidence, "nan")))


# --- markers --------------------------------------------------------------------------------------

def end_marker() -> "fast.Image":
    """The image that ends a stream."""
    image = _set(to_fast(np.zeros((2, 2), np.uint8)), **{_END_OF_STREAM: 1})
    image.setLastFrame("end")
    return image


def is_end_marker(image: "fast.Image") -> bool:
    return image.hasFrameData(_END_OF_STREAM)


def error_marker(like: "fast.Image", message: str) -> "fast.Image":
    """The image a stage sends instead of its result when it failed on a frame."""
    return _set(to_fast(np.zeros((2, 2), np.uint8), like), **{_FRAME_ERROR: message})


def frame_error(image: "fast.Image") -> str | None:
    """The failure carried by an error marker, else None."""
    return image.getFrameData(_FRAME_ERROR) if image.hasFrameData(_FRAME_ERROR) else None
