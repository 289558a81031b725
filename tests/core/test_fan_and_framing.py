"""Fan finding and canonical framing on real frames of several scanners and layouts."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from echoquality.core.fan import find_fan, polygon_mask
from echoquality.core.framing import NETWORK_SIZE, framing_for, network_view, steady_box

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def echotk_frame() -> np.ndarray:
    nibabel = pytest.importorskip("nibabel")
    path = SHARED / "loops" / "echotk_a4c.nii.gz"
    if not path.is_file():
        pytest.skip("echotk loop not present")
    return np.asarray(nibabel.load(str(path)).dataobj)[:, :, 0].T.astype(np.uint8)


def test_camus_fan_has_its_apex_at_the_top_centre(camus):
    image = cv2.imread(str(sorted((camus / "images").glob("*.png"))[0]), cv2.IMREAD_GRAYSCALE)
    fan = find_fan(image)
    assert fan.found and 60 < fan.angle_deg < 90
    assert abs(fan.apex[1] - 256) < 10 and 0 < fan.apex[0] < 80
    assert fan.mask[300, 256] and not fan.mask[5, 5]


def test_fan_beside_a_grey_scale_bar_and_ticks_leaves_them_out():
    image = echotk_frame()
    fan = find_fan(image)
    assert fan.found and 45 < fan.angle_deg < 80
    # The grey-scale bar stands left of the fan, the depth ticks right of it (560x480 frame).
    bar_cols = np.flatnonzero((image[:, :100] > 100).sum(axis=0) > 20)
    assert bar_cols.size and fan.box[1] > bar_cols.max()
    assert fan.box[3] < 470


def test_blank_and_tiny_frames_have_no_fan():
    assert not find_fan(np.zeros((300, 400), np.uint8)).found
    assert not find_fan(np.full((5, 5), 200, np.uint8)).found
    speckle = (np.random.default_rng(0).random((300, 400)) < 0.01) * 255
    assert not find_fan(speckle.astype(np.uint8)).found


def test_a_rectangular_strip_has_parallel_edges():
    image = np.zeros((400, 600), np.uint8)
    image[100:380, 50:550] = np.random.default_rng(1).integers(30, 200, (280, 500))
    fan = find_fan(image)
    assert fan.found and fan.angle_deg < 10


def test_framing_keeps_the_physical_aspect_and_maps_back(demo_loop):
    cap = cv2.VideoCapture(str(demo_loop))
    ok, frame = cap.read()
    assert ok
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    view = network_view(gray, (0.3, 0.3))
    (v0, u0, v1, u1), (y0, x0, y1, x1) = view.framing.placed, view.framing.box
    assert v0 == 0 and (u0 + u1) // 2 in (NETWORK_SIZE // 2 - 1, NETWORK_SIZE // 2)      # top, centred
    assert abs((v1 - v0) / (u1 - u0) - (y1 - y0) / (x1 - x0)) < 0.02
    assert view.framing.network_spacing[0] == pytest.approx(view.framing.network_spacing[1], rel=0.02)
    assert (view.image[~view.sector] == 0).all() and view.sector.mean() > 0.3
    # A label map taken to the network and back lands where it was.
    labels = np.zeros(gray.shape, np.uint8)
    labels[200:400, 250:400] = 1
    back = view.framing.to_frame(view.framing.to_network(labels, nearest=True))
    overlap = 2 * ((back == 1) & (labels == 1)).sum() / ((back == 1).sum() + (labels == 1).sum())
    assert overlap > 0.97
    yx = view.framing.point_to_frame(tuple(view.framing.points_to_network(np.array([[300.0, 250.0]]))[0][::-1]))
    assert abs(yx[0] - 250) < 1e-6 and abs(yx[1] - 300) < 1e-6


def test_anisotropic_spacing_changes_the_placed_shape():
    box, shape = (0, 0, 200, 200), (200, 200)
    wide = framing_for(box, shape, (0.5, 1.0))
    assert wide.placed[3] - wide.placed[1] == NETWORK_SIZE and wide.placed[2] - wide.placed[0] == NETWORK_SIZE // 2


def test_box_stays_steady_for_small_changes_only():
    box = (10, 20, 410, 520)
    assert steady_box(box, (12, 18, 405, 522)) == box
    assert steady_box(box, (60, 20, 410, 520)) == (60, 20, 410, 520)
    assert steady_box(None, box) == box


def test_polygon_mask_fills_a_triangle():
    mask = polygon_mask(np.array([[50.0, 0.0], [0.0, 99.0], [99.0, 99.0]]), (100, 100))
    assert mask[90, 50] and not mask[5, 5] and 0.4 < mask.mean() < 0.6


def _zoomed(image: np.ndarray, factor: float) -> np.ndarray:
    """The frame as a deeper (factor < 1) or shallower setting would show it: scaled about the top centre."""
    h, w = image.shape
    return cv2.warpAffine(image, np.float32([[factor, 0, (1 - factor) / 2 * w], [0, factor, 0]]), (w, h))


def test_a_loops_fan_still_fits_its_next_frames_but_not_a_new_depth_or_width(demo_loop):
    import itertools

    from echoquality.core.fan import fan_still_fits
    from echoquality.sources import open_source

    frames = [f.image if f.image.ndim == 2 else cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY)
              for f in itertools.islice(open_source(str(demo_loop)), 0, 60, 6)]
    fan = find_fan(frames[0])
    assert all(fan_still_fits(fan, frame) for frame in frames)      # same settings: kept
    assert not fan_still_fits(fan, _zoomed(frames[3], 0.9))          # deeper: the outline no longer fits
    assert not fan_still_fits(fan, _zoomed(frames[3], 1.1))          # shallower (zoomed in): imaged outside it
    narrow = frames[3].copy()
    cut = (fan.box[3] - fan.box[1]) // 6
    narrow[:, :fan.box[1] + cut] = 0
    narrow[:, fan.box[3] - cut:] = 0
    assert not fan_still_fits(fan, narrow)                            # a narrower sector
    assert not fan_still_fits(fan, np.zeros_like(frames[3]))          # frozen to black
    assert not fan_still_fits(fan, frames[3][:-4])                    # another frame size


def test_a_live_chain_reuses_the_fan_only_while_it_fits(demo_loop):
    import itertools

    from echoquality.sources import open_source
    from echoquality.streaming.codec import frame_to_fast, to_numpy
    from echoquality.streaming.stages import FAN_SEARCH_EVERY, Preprocess

    frames = list(itertools.islice(open_source(str(demo_loop)), 20))
    live, every = Preprocess(reuse_fan=True), Preprocess(reuse_fan=False)
    searched = []
    for frame in frames:
        live.process(frame_to_fast(frame))
        searched.append(live._reused == 0)
    assert searched[0] and sum(searched) == 2 and searched[FAN_SEARCH_EVERY]   # first frame and every 15th
    for frame in frames[:3]:                                             # the network view hardly changes
        a = to_numpy(live.process(frame_to_fast(frame))[0])
        b = to_numpy(every.process(frame_to_fast(frame))[0])
        assert np.mean(a != b) < 0.01
    deeper = frames[5]
    deeper.image = _zoomed(deeper.image if deeper.image.ndim == 2 else cv2.cvtColor(deeper.image, cv2.COLOR_RGB2GRAY), 0.85)
    live.process(frame_to_fast(deeper))
    assert live._reused == 0                                             # a new depth: searched again
