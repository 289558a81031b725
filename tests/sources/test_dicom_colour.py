"""DICOMs as they come: colour encodings, JPEG-compressed multi-frame, declared modes, screens with overlays.

Each reads to the same grey frames as the real frames they were built from, and carries what the
gate needs (its colour map, the mode it declares).
"""
from __future__ import annotations

import numpy as np
import pytest

from echoquality.core import gate
from echoquality.core.fan import find_fan
from echoquality.sources.playback import open_source
from tests.dicom_files import burn_overlays, colour_flow, corner_screen, real_frames, write_dicom


@pytest.fixture(scope="module")
def grey() -> np.ndarray:
    return real_frames(3)


def rgb_of(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=3).copy()


@pytest.mark.parametrize("encoding, tolerance", [("rgb", 1), ("ybr_full", 2), ("jpeg", 12)])
def test_colour_encodings_read_to_the_same_grey_frames(tmp_path, grey, encoding, tolerance):
    path = write_dicom(tmp_path / f"{encoding}.dcm", rgb_of(grey), encoding)
    frames = list(open_source(str(path)))
    assert len(frames) == len(grey)
    for frame, original in zip(frames, grey):
        assert frame.image.shape == original.shape and frame.image.dtype == np.uint8
        assert np.median(np.abs(frame.image.astype(int) - original)) <= tolerance
        assert frame.colour is not None and frame.declared_mode is None
        assert gate.colour_fraction(frame.colour, find_fan(frame.image)) < gate.COLOUR_FRACTION
    assert frames[1].time_s == pytest.approx(0.02)


@pytest.mark.parametrize("encoding", ["rgb", "ybr_full", "jpeg"])
def test_colour_flow_survives_every_encoding(tmp_path, grey, encoding):
    path = write_dicom(tmp_path / f"flow_{encoding}.dcm", burn_overlays(colour_flow(rgb_of(grey))), encoding)
    for frame in open_source(str(path)):
        verdict = gate.content_verdict(frame.image, find_fan(frame.image), frame.colour, frame.declared_mode)
        assert verdict.status == "colour_doppler"


def test_burned_in_text_and_a_green_ecg_are_not_colour_doppler(tmp_path, grey):
    path = write_dicom(tmp_path / "overlays.dcm", burn_overlays(rgb_of(grey)), "jpeg")
    for frame in open_source(str(path)):
        assert gate.content_verdict(frame.image, find_fan(frame.image), frame.colour).ok


@pytest.mark.parametrize("regions, declared", [([(1, 1)], None), ([(1, 1), (2, 1)], "m_mode"),
                                               ([(1, 1), (3, 3)], "spectral_doppler"), ([(1, 2)], "colour_doppler")])
def test_the_mode_a_dicom_declares_travels_with_each_frame(tmp_path, grey, regions, declared):
    path = write_dicom(tmp_path / "declared.dcm", grey, "grey", regions)
    frames = list(open_source(str(path)))
    assert all(f.declared_mode == declared and f.colour is None for f in frames)


def test_a_small_image_in_the_corner_of_a_screen_is_found(tmp_path, grey):
    path = write_dicom(tmp_path / "screen.dcm", corner_screen(grey), "rgb")
    frame = next(iter(open_source(str(path))))
    assert frame.image.shape == (768, 1024)
    fan = find_fan(frame.image)
    assert fan.found and fan.box[1] < 60 and fan.box[3] < 400 and fan.angle_deg > 40
    assert gate.content_verdict(frame.image, fan, frame.colour).ok
