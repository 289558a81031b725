"""The gate on real frames: non-apical iE33 DICOMs are stopped, real apical frames pass."""
from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from echoquality.core import gate
from echoquality.core.fan import find_fan, grayscale
from tests.dicom_files import velocity_scale

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
NON_APICAL = SHARED / "non_apical"
E95 = Path(__file__).resolve().parents[2] / "data" / "samples" / "e95_a4c.mp4"


def dicoms() -> list[Path]:
    files = sorted(NON_APICAL.glob("*.dcm"))
    if not files:
        pytest.skip("../shared/data/non_apical is not present")
    return files


def read_dicom(path: Path):
    pydicom = pytest.importorskip("pydicom")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(str(path))
        return ds, ds.pixel_array


def regions_of(ds) -> list[tuple[int, int]]:
    return [(int(r.RegionSpatialFormat), int(r.RegionDataType)) for r in ds.SequenceOfUltrasoundRegions]


def content(image: np.ndarray, declared: str | None = None) -> gate.Verdict:
    gray = grayscale(image)
    evidence = gate.colour_evidence(image)
    return gate.content_verdict(gray, find_fan(gray), evidence.map, declared or evidence.mode)


def e95_frames(step: int = 1) -> list[np.ndarray]:
    capture, frames = cv2.VideoCapture(str(E95)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame[..., ::-1].copy())   # RGB, as a colour video source gives it
    return frames[::step]


def test_every_non_apical_dicom_is_stopped_from_its_pixels_alone():
    for path in dicoms():
        _, pixels = read_dicom(path)
        verdict = content(pixels)
        assert verdict.status in ("m_mode", "spectral_doppler"), f"{path.name}: {verdict}"
        assert verdict.reason.startswith("No apical view")


@pytest.mark.parametrize("name, expected", [("1E5H70ZT", "m_mode"), ("BOF8PYTI", "m_mode"),
                                            ("1E5H714C", "spectral_doppler"), ("BOF8PYV9", "spectral_doppler")])
def test_m_mode_and_spectral_screens_are_told_apart_by_their_pixels(name, expected):
    _, pixels = read_dicom(NON_APICAL / f"{name}.dcm") if NON_APICAL.is_dir() else pytest.skip("no data")
    assert content(pixels).status == expected


def test_what_the_dicom_declares_decides_first():
    for path in dicoms():
        ds, pixels = read_dicom(path)
        declared = gate.declared_mode(regions_of(ds))
        assert declared in ("m_mode", "spectral_doppler"), path.name
        assert content(pixels, declared).status == declared


def test_declared_modes_from_region_codes():
    assert gate.declared_mode([]) is None
    assert gate.declared_mode([(1, 1)]) is None                       # 2-D tissue only: B-mode
    assert gate.declared_mode([(1, 1), (2, 1)]) == "m_mode"
    assert gate.declared_mode([(1, 1), (3, 4)]) == "spectral_doppler"
    assert gate.declared_mode([(1, 2)]) == "colour_doppler"           # 2-D colour flow


def test_real_apical_frames_pass(camus):
    images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((camus / "images").glob("*.png"))]
    rejected = [i for i, image in enumerate(images) if not content(image).ok]
    assert len(rejected) <= 0.05 * len(images), rejected


def test_real_e95_loop_passes_as_colour_video():
    frames = e95_frames(step=5)
    statuses = [content(frame).status for frame in frames]
    assert statuses.count("ok") >= 0.95 * len(frames), statuses


def colour_sector(name: str, scale: float = 2.5) -> np.ndarray:
    """The 2-D sector of a colour iE33 DICOM (a colour-flow box over B-mode), enlarged to a full screen."""
    _, pixels = read_dicom(NON_APICAL / f"{name}.dcm") if NON_APICAL.is_dir() else pytest.skip("no data")
    return cv2.resize(pixels[97:330, 239:553], None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)


@pytest.mark.parametrize("name", ["BOF8PYWK", "1E5H714C", "BOF8PYV9"])
def test_colour_doppler_sectors_are_stopped(name):
    assert content(colour_sector(name)).status == "colour_doppler"


def test_the_same_sector_in_grey_passes_the_content_checks():
    rgb = colour_sector("BOF8PYWK")
    grey = np.repeat(grayscale(rgb)[..., None], 3, axis=2)
    assert content(grey).ok


def test_a_green_ecg_trace_or_a_tinted_grey_map_is_not_colour_doppler():
    frame = e95_frames(step=50)[0]
    grey = grayscale(frame)
    traced = np.repeat(grey[..., None], 3, axis=2)
    xs = np.arange(traced.shape[1])
    ys = (0.6 * traced.shape[0] + 20 * np.sin(xs / 10)).astype(int)
    for x, y in zip(xs, ys):
        traced[y:y + 3, x] = (0, 255, 0)
    assert content(traced).ok
    sepia = np.stack([grey, (grey * 0.85).astype(np.uint8), (grey * 0.65).astype(np.uint8)], axis=2)
    assert content(sepia).ok


def grey_fan(rgb: np.ndarray) -> np.ndarray:
    """The iE33 colour screen with its 2-D sector turned grey: a colour box without flow."""
    screen = rgb.copy()
    sector = screen[97:330, 239:553]
    screen[97:330, 239:553] = sector.mean(axis=2, keepdims=True).astype(np.uint8)
    return screen


@pytest.mark.parametrize("name", ["BOF8PYWK", "1E5H714C", "BOF8PYV9", "1E5H713F"])
def test_a_colour_flow_scale_on_screen_means_colour_doppler_even_without_flow(name):
    _, pixels = read_dicom(NON_APICAL / f"{name}.dcm") if NON_APICAL.is_dir() else pytest.skip("no data")
    frame = pixels[0] if pixels.ndim == 4 else pixels
    assert gate.colour_evidence(grey_fan(frame)).mode == "colour_doppler"
    assert gate.colour_evidence(grey_fan(frame)[97:330, 239:553]).mode is None    # the sector alone shows no scale


def test_a_scale_drawn_beside_a_grey_apical_loop_stops_it_and_one_hue_bars_do_not():
    frame = e95_frames(step=50)[0]
    grey = np.repeat(grayscale(frame)[..., None], 3, axis=2)
    h, w = grey.shape[:2]
    assert content(grey).ok and gate.colour_evidence(grey).mode is None
    scaled = velocity_scale(grey.copy(), w - 40, h // 5, h // 4)
    assert gate.colour_evidence(scaled).mode == "colour_doppler"
    assert content(scaled).status == "colour_doppler"
    warm_only = grey.copy()
    for i in range(h // 4):   # a tinted grey-scale bar (one hue, as colourised B-mode maps draw it)
        warm_only[h // 5 + i, w - 40:w - 24] = (255, int(200 * i / (h // 4)), 0)
    assert gate.colour_evidence(warm_only).mode is None and content(warm_only).ok


def test_blank_and_menu_screens():
    assert content(np.zeros((480, 640), np.uint8)).status == "blank"
    assert content(np.full((480, 640), 5, np.uint8)).status == "blank"
    menu = np.zeros((480, 640), np.uint8)
    for i in range(12):
        cv2.putText(menu, f"MENU ITEM {i} ......", (20, 30 + 35 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
    assert not content(menu).ok


def test_anatomy_needs_an_lv_and_its_wall(camus):
    mask = cv2.imread(str(sorted((camus / "masks").glob("*.png"))[0]), cv2.IMREAD_GRAYSCALE)
    all_valid = np.ones(8, bool)
    assert gate.anatomy_verdict(mask, all_valid).ok
    assert gate.anatomy_verdict(np.where(mask == 1, 0, mask), all_valid).status == "no_lv"
    assert gate.anatomy_verdict(None, None).status == "no_lv"
    few = np.array([1, 1, 1, 0, 0, 0, 1, 1], bool)
    assert gate.anatomy_verdict(mask, few).status == "no_lv"


def test_statuses_form_a_fixed_vocabulary():
    assert gate.STATUSES[0] == "ok" and set(gate.REASONS) == set(gate.STATUSES)
    with pytest.raises(ValueError, match="unknown gate status"):
        gate.verdict("maybe")
    assert gate.view_verdict("a2c").ok and gate.view_verdict("alax").ok
    assert gate.view_verdict("other").status == "not_apical"
